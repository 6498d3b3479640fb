"""``drover discover``: list a test project's scenarios, or write a runnable execution for them."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.console import abort, err_console
from engine.discovery import DiscoveryRunner, execution_document, scenario_entries
from engine.discovery import discover as discover_scenarios
from engine.discovery.pytest_collection import DEFAULT_JOBS_LIMIT
from engine.errors import DroverError, SpecError

__all__ = ["discover"]


class OutputFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


def discover(
    path: Annotated[Path, typer.Argument(help="Root directory of the test project.")],
    runner: Annotated[
        DiscoveryRunner,
        typer.Option(
            "--runner", "-r", help="How the project runs its tests.", case_sensitive=False
        ),
    ],
    execution: Annotated[
        str | None,
        typer.Option(
            "--execution",
            "-e",
            help="Write a complete execution with this name (one flow 'main', one group 'all') "
            "instead of the scenario list.",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", "-t", min=1, help="Parallel workers of the group (with --execution)."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Document format.")
    ] = OutputFormat.YAML,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="pytest: processes that collect side by side, each importing its share of "
            f"the test files (default: one per core, at most {DEFAULT_JOBS_LIMIT}); 1 collects "
            "in one process.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List the scenarios of a pytest, cucumber or Playwright project as its runner sees them."""
    try:
        if not path.is_dir():  # invalid input, named in full on one line (exit 2)
            what = "not a directory" if path.exists() else "no such directory"
            raise SpecError("PATH", f"{path}: {what}", "give the test project's root")
        if threads is not None and execution is None:
            raise SpecError("--threads", "applies only with --execution NAME")
        if execution is not None:
            _start_local_service()
        scenarios = discover_scenarios(runner, path, jobs)
        document: Any
        if execution is None:
            document = scenario_entries(scenarios)
        else:
            from engine.spec import RunnerKind

            document = execution_document(
                name=execution,
                # Relative paths in a spec are read against the spec file's folder.
                project_path=os.path.relpath(
                    path.resolve(), (output.parent if output else Path.cwd()).resolve()
                ),
                runner=RunnerKind(runner.value),
                threads=threads or 1,
                scenarios=scenarios,
            )
    except DroverError as err:
        abort(err)
    _note_merged_cases(scenarios)
    text = _render(document, output_format)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        abort(f"cannot write {output}: {exc}")
    what = f"execution {execution!r}" if execution else "scenario list"
    err_console.print(f"{len(scenarios)} scenarios found in {path}; {what} written to {output}")


def _start_local_service() -> None:
    """An execution is written to be run: the local service ``drover run`` hands it to starts
    now, beside the collection, rather than after it (a second of imports and Postgres)."""
    from engine.cli.local_service_client import start_in_background
    from engine.cli.local_service_protocol import service_enabled
    from engine.home import default_home

    if service_enabled():
        start_in_background(default_home())


def _note_merged_cases(scenarios: list[Any]) -> None:
    """Say which parametrized functions run as one scenario (an id too long to keep)."""
    from engine.discovery.pytest_collection import MERGED_CASES_NOTE

    merged = [s.id for s in scenarios if s.name.endswith(MERGED_CASES_NOTE)]
    if merged:
        err_console.print(
            f"{len(merged)} parametrized test(s) run as one scenario each, every case together, "
            f"because a case's id is longer than 4000 characters: {', '.join(merged)}",
        )


def _render(document: Any, output_format: OutputFormat) -> str:
    if output_format is OutputFormat.JSON:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    from engine.yaml_io import dump

    # libyaml's emitter (the same text as PyYAML's pure one), several times faster at 60,000
    return dump(document, sort_keys=False, allow_unicode=True, width=120)
