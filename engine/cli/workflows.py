"""Argo-CLI-style verbs on the local runner's workflows: submit, list, get, logs and control.

Names and flags follow the ``argo`` CLI, so ``drover get NAME -o json`` prints what
``argo get NAME -o json`` would: the Workflow object with its status.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console, err_console
from engine.cli.options import HomeOption, name_value_pairs
from engine.errors import DroverError, SpecError

if TYPE_CHECKING:
    from engine.backends.local import LocalBackend

__all__ = ["register"]

NameArgument = Annotated[str, typer.Argument(help="Workflow name.")]


class Output(StrEnum):
    NAME = "name"
    JSON = "json"
    YAML = "yaml"
    WIDE = "wide"


def _backend(home: Path | None) -> LocalBackend:
    # The local runner pulls in Hera and the Kubernetes client: imported only when used.
    from engine.backends.local import LocalBackend, default_home

    return LocalBackend(home or default_home())


def _print_object(obj: dict[str, Any], output: Output) -> None:
    if output is Output.JSON:
        sys.stdout.write(json.dumps(obj, indent=2) + "\n")
    elif output is Output.YAML:
        import yaml  # imported where used: every command of the CLI imports this module

        sys.stdout.write(yaml.safe_dump(obj, sort_keys=False))
    else:
        sys.stdout.write(obj["metadata"]["name"] + "\n")


def submit(
    file: Annotated[Path, typer.Argument(help="Argo Workflow YAML or JSON.")],
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait until it completes.")] = False,
    output: Annotated[
        Output,
        typer.Option(
            "--output",
            "-o",
            help="name; json or yaml: the Workflow; wide: name, phase, duration and message.",
        ),
    ] = Output.NAME,
    home: HomeOption = None,
) -> None:
    """Submit any Argo Workflow to the local runner (it runs in the background)."""
    from engine.loading import read_document

    try:
        document = read_document(file)
        if document.get("kind", "Workflow") != "Workflow":
            raise SpecError("kind", f"expected a Workflow, got {document.get('kind')!r}")
        backend = _backend(home)
        name = backend.submit(document)
        if output is Output.NAME:  # at once, so a script has the name while it waits
            sys.stdout.write(name + "\n")
            sys.stdout.flush()
        workflow = backend.wait(name) if wait else backend.get(name)
    except DroverError as error:
        abort(error)
    if output is Output.WIDE:
        console.print(_workflows_table([workflow]))
    elif output is not Output.NAME:
        _print_object(workflow, output)
    # What `argo submit --wait` shows once it is done; on stderr when stdout is for a program.
    if wait and not _report_outcome(workflow, console if output is Output.WIDE else err_console):
        raise typer.Exit(1)


def _report_outcome(workflow: dict[str, Any], out: Console) -> bool:
    """Print the final phase, and each failed step with its message; True if it succeeded."""
    name = workflow["metadata"]["name"]
    status = workflow.get("status") or {}
    phase = status.get("phase")
    message = f": {status['message']}" if status.get("message") else ""
    colour = "green" if phase == "Succeeded" else "red"
    out.print(f"[{colour}]{escape(name)} {phase}[/]{escape(message)}", highlight=False)
    failed = failed_steps(workflow)
    for node in failed:
        out.print(
            f"  {escape(node.get('displayName', ''))} {node['phase']}: "
            f"{escape(node.get('message') or '')}",
            highlight=False,
        )
    if failed:
        out.print(f"logs: drover logs {escape(name)} NODE", highlight=False)
    return phase == "Succeeded"


def failed_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes that failed by themselves (pods, suspends, HTTP steps), not the DAGs, steps,
    task groups and retries that failed because of them; in the order they started."""
    nodes = ((workflow.get("status") or {}).get("nodes") or {}).values()
    return sorted(
        (
            n
            for n in nodes
            if n.get("phase") in ("Failed", "Error") and n.get("type") not in _CONTAINER_NODES
        ),
        key=lambda n: (n.get("startedAt") or "", n.get("name", "")),
    )


_CONTAINER_NODES = frozenset({"DAG", "Steps", "StepGroup", "TaskGroup", "Retry"})


def list_workflows(home: HomeOption = None) -> None:
    """List the local runner's workflows, newest first."""
    console.print(_workflows_table(_backend(home).list()))


def _workflows_table(workflows: list[dict[str, Any]]) -> Table:
    """``argo list -o wide`` in short: name, phase, start, duration, progress, message."""
    table = Table("NAME", "STATUS", "STARTED", "DURATION", "PROGRESS", "MESSAGE")
    table.columns[0].overflow = "fold"
    for workflow in workflows:
        status = workflow.get("status") or {}
        table.add_row(
            escape(workflow["metadata"]["name"]),
            status.get("phase", ""),
            status.get("startedAt") or "",
            _duration(status),
            status.get("progress") or "",
            escape(status.get("message") or ""),
        )
    return table


def _duration(status: dict[str, Any]) -> str:
    started, finished = status.get("startedAt"), status.get("finishedAt")
    if not started or not finished:
        return ""
    seconds = (
        datetime.fromisoformat(finished.replace("Z", "+00:00"))
        - datetime.fromisoformat(started.replace("Z", "+00:00"))
    ).total_seconds()
    return f"{seconds:.0f}s"


def get(
    name: NameArgument,
    output: Annotated[
        Output,
        typer.Option(
            "--output", "-o", help="wide: status and node tree; json or yaml: the Workflow; name."
        ),
    ] = Output.WIDE,
    home: HomeOption = None,
) -> None:
    """Show a workflow: a node tree, or the Workflow object with -o json|yaml."""
    try:
        workflow = _backend(home).get(name)
    except DroverError as error:
        abort(error)
    if output is not Output.WIDE:
        _print_object(workflow, output)
        return
    status = workflow.get("status") or {}
    console.print(f"Name:     {name}\nStatus:   {status.get('phase')}")
    if status.get("message"):
        console.print(f"Message:  {escape(status['message'])}")
    console.print(f"Progress: {status.get('progress', '')}")
    table = Table("STEP", "TYPE", "PHASE", "MESSAGE")
    for node in sorted((status.get("nodes") or {}).values(), key=lambda n: n.get("name", "")):
        depth = node.get("name", "").count(".")
        table.add_row(
            "  " * depth + escape(node.get("displayName", "")),
            node.get("type", ""),
            node.get("phase", ""),
            escape(node.get("message") or ""),
        )
    console.print(table)


def logs(
    name: NameArgument,
    node: Annotated[
        str | None, typer.Argument(help="Only this node (id, name or display name).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until it completes.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Print the logs of a workflow's pods, or of one node's."""
    try:
        for line in _backend(home).logs(name, node=node, follow=follow):
            sys.stdout.write(f"{line.label}: {line.content}\n")
            sys.stdout.flush()
    except DroverError as error:
        abort(error)


_PAST = {
    "stop": "stopped",
    "terminate": "terminated",
    "suspend": "suspended",
    "resume": "resumed",
    "retry": "retried",
}


def _action(verb: str, doc: str) -> Any:
    def command(name: NameArgument, home: HomeOption = None) -> None:
        _run(verb, name, home)

    command.__doc__ = doc
    command.__name__ = verb
    return command


SelectorOption = Annotated[
    str | None,
    typer.Option(
        "--node-field-selector",
        help="Only the nodes it matches, as argo's: e.g. displayName=approve, "
        "inputs.parameters.tag.value=x (comma-separated; = == !=).",
    ),
]


def _run(verb: str, name: str, home: Path | None, **options: Any) -> None:
    try:
        getattr(_backend(home), verb)(name, **options)
    except DroverError as error:
        abort(error)
    console.print(f"workflow {escape(name)} {_PAST[verb]}")


def stop(
    name: NameArgument,
    node_field_selector: SelectorOption = None,
    message: Annotated[
        str | None, typer.Option(help="With a selector: the message of the nodes it fails.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Stop a workflow: running nodes fail, exit handlers still run; with a node field
    selector, only the running suspend nodes it matches fail."""
    _run("stop", name, home, message=message, node_field_selector=node_field_selector)


def resume(
    name: NameArgument, node_field_selector: SelectorOption = None, home: HomeOption = None
) -> None:
    """Resume a suspended workflow (and its indefinite suspend nodes); with a node field
    selector, only the running suspend nodes it matches."""
    _run("resume", name, home, node_field_selector=node_field_selector)


_NODE_PHASES = ("Pending", "Running", "Succeeded", "Skipped", "Failed", "Error", "Omitted")


def set_node(
    name: NameArgument,
    node_field_selector: Annotated[
        str,
        typer.Option(
            "--node-field-selector",
            help="The running suspend nodes to set, as argo's: e.g. displayName=approve.",
        ),
    ],
    output_parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--output-parameter", "-p", help="NAME=VALUE of a supplied output (repeatable)."
        ),
    ] = None,
    phase: Annotated[str | None, typer.Option(help="The nodes' new phase.")] = None,
    message: Annotated[str | None, typer.Option(help="The nodes' new message.")] = None,
    home: HomeOption = None,
) -> None:
    """Set the phase, message or supplied output parameters of suspend nodes (argo node set)."""
    outputs = name_value_pairs(output_parameter or [], "--output-parameter", "e.g. -p message=ok")
    if phase is not None and phase not in _NODE_PHASES:
        abort(SpecError("--phase", f"{phase!r} is no node phase", ", ".join(_NODE_PHASES)))
    try:
        _backend(home).set_node(
            name,
            node_field_selector=node_field_selector,
            output_parameters=outputs,
            phase=phase,
            message=message,
        )
    except DroverError as error:
        abort(error)
    console.print(f"workflow {escape(name)} nodes set")


def retry(
    name: NameArgument,
    restart_successful: Annotated[
        bool, typer.Option(help="With a selector: rerun the succeeded nodes it matches too.")
    ] = False,
    node_field_selector: SelectorOption = None,
    home: HomeOption = None,
) -> None:
    """Rerun the failed nodes of a finished workflow, keeping what succeeded."""
    _run(
        "retry",
        name,
        home,
        restart_successful=restart_successful,
        node_field_selector=node_field_selector,
    )


def resubmit(
    name: NameArgument,
    memoized: Annotated[bool, typer.Option(help="Reuse the old run's succeeded nodes.")] = False,
    home: HomeOption = None,
) -> None:
    """Submit a new workflow from NAME's spec."""
    try:
        new_name = _backend(home).resubmit(name, memoized=memoized)
    except DroverError as error:
        abort(error)
    sys.stdout.write(new_name + "\n")


def delete(name: NameArgument, home: HomeOption = None) -> None:
    """Delete a workflow (terminating it first if it runs) and its files."""
    try:
        _backend(home).delete(name)
    except DroverError as error:
        abort(error)
    console.print(f"workflow {escape(name)} deleted")


ACTIONS = {
    "terminate": "Terminate a workflow immediately, without exit handlers.",
    "suspend": "Suspend a workflow: no new nodes start until resumed.",
}


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("list")(list_workflows)
    app.command("get")(get)
    app.command("logs")(logs)
    app.command("stop")(stop)
    for verb, doc in ACTIONS.items():
        app.command(verb)(_action(verb, doc))
    app.command("resume")(resume)
    app.command("set")(set_node)
    app.command("retry")(retry)
    app.command("resubmit")(resubmit)
    app.command("delete")(delete)
