"""Turn discovered scenarios into output documents: a scenario list, or a complete Execution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import DiscoveryError

if TYPE_CHECKING:
    from engine.spec import RunnerKind, Scenario

__all__ = ["execution_document", "scenario_entries"]

MAIN_FLOW = "main"
ALL_GROUP = "all"


def scenario_entries(scenarios: list[Scenario]) -> list[dict[str, Any]]:
    """The list form users read and edit: id, name, location and tags of each scenario."""
    return [
        {"id": s.id, "name": s.name, "location": s.location, "tags": list(s.tags)}
        for s in scenarios
    ]


def execution_document(
    *, name: str, project_path: str, runner: RunnerKind, threads: int, scenarios: list[Scenario]
) -> dict[str, Any]:
    """A runnable Execution: one flow ``main`` with one group ``all`` holding every scenario.

    The document is checked with the same loader ``drover validate`` uses, so a bad name or an
    empty project fails here, with the field named, rather than later.
    """
    if not scenarios:
        raise DiscoveryError(
            f"no scenarios found in {project_path}; nothing to put in an execution"
        )
    document: dict[str, Any] = {
        "name": name,
        "project": {"name": name, "path": project_path, "runner": {"kind": str(runner)}},
        "flows": [
            {
                "name": MAIN_FLOW,
                "groups": [
                    {
                        "name": ALL_GROUP,
                        "threads": threads,
                        "scenarios": [s.entry() for s in scenarios],
                    }
                ],
            }
        ],
    }
    from engine.loading import parse_execution

    parse_execution(document)
    return document
