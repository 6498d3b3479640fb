"""A port of Argo's submit-time validator (workflow/validate/validate.go, v4.1.2).

``validate_argo_workflow`` refuses what ``argo submit`` refuses, with Argo's messages, for a
Workflow on its own (its ``templateRef``s resolved through a lookup of stored
WorkflowTemplates). Modules: ``workflow`` walks the templates as Argo does, ``fields`` checks
names, arguments, inputs and outputs, ``graph`` the DAG and containerSet dependencies,
``scope`` and ``variables`` which ``{{...}}`` variables a template may use.

Where the port knowingly differs from Argo (each errs on the side of accepting):

- ``{{=expression}}`` tags are left as written while a template's inputs are substituted;
  Argo evaluates those it can, which matters only if the result then fails a check (a
  ``timeout`` that evaluates to a bare number).
- A parameter value holding an unclosed ``{{`` that makes Argo's substitution fail is not
  refused (the template as written is still checked).
- Among a DAG's tasks without dependencies Argo starts from Go's map order (random); here
  from the order they are written, so a cycle or error report picks a deterministic task.
- Go's JSON decoding matches a field name whatever its case; the port follows it only in
  ``valueFrom`` (``Parameter:``), where Argo's own e2e workflows rely on it.
- ``podGC.labelSelector``, ``executorPlugins``, HDFS artifact locations and the images of a
  WorkflowTemplate's own ``templateDefaults`` are not checked.

Argo's own quirks are kept: a bare ``{{item}}`` or ``{{retries}}`` is never checked (only
``item.``, ``steps.``, ``inputs.``, ``outputs.``, ``pod.``, ``workflow.`` and ``tasks.`` tags
are); an ``{{item...}}`` of a step stays in scope for the steps after it; a DAG task may read
any task's outputs in a ``when`` (only arguments starting ``{{tasks.`` must name an
ancestor); a cycle is reported by the sort (``sorting failed: graph with cycle``), which runs
before ``verifyNoCycles``; a ``depends`` that does not parse is refused only when it runs.
"""

from engine.backends.local.argo_validation.invalid import Invalid
from engine.backends.local.argo_validation.workflow import TemplateLookup, validate_argo_workflow

__all__ = ["Invalid", "TemplateLookup", "validate_argo_workflow"]
