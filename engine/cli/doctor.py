"""``drover doctor``: check the cluster the service's settings (``DROVER_*``) point at."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from engine.cli.console import console

__all__ = ["doctor_command"]


def doctor_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    controller_namespace: Annotated[
        str | None,
        typer.Option(
            "--controller-namespace",
            help="Namespace of Argo's workflow-controller and its ConfigMap "
            "(default: DROVER_ARGO_CONTROLLER_NAMESPACE, else argo).",
        ),
    ] = None,
) -> None:
    """Is the Argo path ready? The Argo Server (reachable, version), the namespace, the workflow
    service account, every permission Drover and its pods need, the artifact repository and
    the agent image; what is missing, and how to fix it. Exit 1 when something is missing."""
    # The same function serves GET /api/v1/system/doctor; it pulls in the Kubernetes client.
    from api.doctor import doctor_report
    from api.settings import get_settings

    settings = get_settings()
    if controller_namespace:
        settings = settings.model_copy(update={"argo_controller_namespace": controller_namespace})
    report = doctor_report(settings)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        for check in report.checks:
            mark = "[green]ok[/]     " if check.ok else "[red]missing[/]"
            console.print(f"{mark} {escape(check.name)}: {escape(check.detail)}")
            if check.fix and not check.ok:
                console.print(f"        fix: {escape(check.fix)}")
        console.print("ready" if report.ok else f"{len(report.missing)} missing")
    if not report.ok:
        raise typer.Exit(1)
