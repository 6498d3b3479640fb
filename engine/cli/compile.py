"""``drover compile SPEC``: the Argo documents "Run now" would submit."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.console import abort, err_console
from engine.cli.lifetime import long_lived_objects
from engine.errors import DroverError

__all__ = ["OutputFormat", "compile_command", "dump_documents"]


class OutputFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


def dump_documents(documents: list[dict[str, Any]], fmt: OutputFormat) -> str:
    """Multi-document YAML, or a JSON list (one document stays a list for symmetry)."""
    if fmt is OutputFormat.JSON:
        return json.dumps(documents, indent=2) + "\n"
    from engine import yaml_io

    return yaml_io.dump_all(documents, sort_keys=False, width=120)


def compile_command(
    spec: Annotated[Path, typer.Argument(help="Execution or pipeline spec, YAML or JSON.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Document format.")
    ] = OutputFormat.YAML,
    run_id: Annotated[str | None, typer.Option(help="Label the Workflow with this run id.")] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace", "-n", help="Kubernetes namespace of every document (default: none set)."
        ),
    ] = None,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Compile one run even if a schedule is set.")
    ] = False,
    service_account: Annotated[
        str | None,
        typer.Option(
            help="Service account of the workflow's pods (argo/ creates drover-workflow); "
            "unset, they run as the namespace's default account."
        ),
    ] = None,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="For a Kubernetes cluster: refuse a 'path' project (a directory of this "
            "machine, which compiles to a hostPath volume).",
        ),
    ] = False,
) -> None:
    """Compile to a Workflow (or CronWorkflow when scheduled) plus the plan ConfigMaps.

    Pipelines compile to their Workflow (or CronWorkflow) alone.
    """
    from engine.cli.spec_file import load_any_or_exit
    from engine.gc_pause import paused_collection
    from engine.planning import plan_execution
    from engine.spec import Execution

    loaded = load_any_or_exit(spec)
    # The compilers pull in Hera (its ~400 model classes): imported here so other commands
    # start fast, and kept out of the collector's walks like the rest of a command's start-up.
    with long_lived_objects():
        if isinstance(loaded, Execution):
            from engine.compiler import CompileOptions, compile_plan
        else:
            from engine.pipelines import PipelineCompileOptions, compile_pipeline
    try:
        # Planning and compiling a large spec make objects that all live until the end.
        with paused_collection():
            if isinstance(loaded, Execution):
                compiled = compile_plan(
                    plan_execution(loaded),
                    CompileOptions(
                        run_id=run_id,
                        namespace=namespace,
                        schedule=not no_schedule,
                        service_account=service_account,
                        cluster=cluster,
                    ),
                )
                documents = compiled.documents()
            else:
                options = PipelineCompileOptions(
                    run_id=run_id,
                    namespace=namespace,
                    schedule=not no_schedule,
                    service_account=service_account,
                )
                documents = compile_pipeline(loaded, options).documents()
    except DroverError as error:
        abort(error)
    text = dump_documents(documents, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    kinds = ", ".join(str(d.get("kind")) for d in documents)
    err_console.print(f"wrote {kinds} to {output}")
