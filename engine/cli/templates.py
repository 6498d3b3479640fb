"""``drover templates render|sync``: Drover's reusable WorkflowTemplates (``templates/``)."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.console import abort, console, err_console
from engine.cli.options import DroverTyper
from engine.errors import DroverError, SpecError

__all__ = ["load_template_dir", "templates_app"]

templates_app = DroverTyper(
    help="Drover's reusable WorkflowTemplates (setup-env, worker, cleanup).",
    no_args_is_help=True,
)


def load_template_dir(directory: Path) -> list[dict[str, Any]]:
    """Every WorkflowTemplate document in ``directory``'s ``*.yaml`` files, sorted by file."""
    import yaml  # imported where used: every command of the CLI imports this module

    documents: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as error:
            raise SpecError(str(path), f"cannot read: {error}") from error
        for index, document in enumerate(d for d in loaded if d is not None):
            if not isinstance(document, dict) or document.get("kind") != "WorkflowTemplate":
                raise SpecError(f"{path}[{index}]", "not a WorkflowTemplate")
            documents.append(document)
    if not documents:
        raise SpecError(str(directory), "no WorkflowTemplate found in *.yaml")
    return documents


def _dump(document: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, width=120)


@templates_app.command("render")
def render_command(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write <name>.yaml files here instead of stdout."),
    ] = None,
) -> None:
    """Print (or write) the WorkflowTemplates built from the compiler's pod templates."""
    from engine.backends.argo.reusable_templates import reusable_templates

    documents = reusable_templates()
    if output is None:
        sys.stdout.write("---\n".join(_dump(d) for d in documents))
        return
    output.mkdir(parents=True, exist_ok=True)
    for document in documents:
        (output / f"{document['metadata']['name']}.yaml").write_text(_dump(document))
    err_console.print(f"wrote {len(documents)} WorkflowTemplates to {output}")


@templates_app.command("sync")
def sync_command(
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace", "-n", help="Namespace of the templates (default: $ARGO_NAMESPACE)."
        ),
    ] = None,
    server: Annotated[
        str | None, typer.Option("--server", help="Argo Server URL (default: $ARGO_SERVER).")
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option("--dir", help="Apply the YAML files here instead of the built-in templates."),
    ] = None,
) -> None:
    """Create or update the WorkflowTemplates in the namespace through the Argo Server."""
    # The Argo backend pulls in Hera and the Kubernetes client: imported only when used.
    from engine.backends.argo import ArgoBackend, ArgoSettings
    from engine.backends.argo.reusable_templates import reusable_templates

    try:
        environ = dict(os.environ)
        if server:
            environ["ARGO_SERVER"] = server
        settings = ArgoSettings.from_env(environ)
        if namespace:
            settings = dataclasses.replace(settings, namespace=namespace)
        documents = load_template_dir(source) if source else reusable_templates()
        with ArgoBackend(settings) as backend:
            for document in documents:
                outcome = backend.templates.apply(document)
                console.print(
                    f"{outcome} WorkflowTemplate {document['metadata']['name']} "
                    f"in {settings.namespace}"
                )
    except DroverError as error:
        abort(error)
