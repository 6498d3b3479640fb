"""The Argo UI's links from a workflow to its Drover run and reports (argo/base's
workflow-controller-configmap ``links``; Argo's docs/links.md: scope ``workflow``,
``${workflow.<field>}`` reads the workflow, a label key with dots and slashes included)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from api.routes import reports, runs
from engine.labels import LABEL_RUN

ROOT = Path(__file__).resolve().parents[2]
CONFIGMAP = ROOT / "argo" / "base" / "workflow-controller-configmap.yaml"


def facade_paths() -> list[re.Pattern[str]]:
    """The facade's GET routes under /api/v1 as patterns (``{x}`` one segment, ``{x:path}``
    anything)."""
    patterns = []
    for router in (runs.router, reports.router):
        for route in router.routes:
            if "GET" not in getattr(route, "methods", set()):
                continue
            path = "/api/v1" + route.path  # type: ignore[attr-defined]
            regex = re.sub(r"\\\{[^}:]+:path\\\}", ".*", re.escape(path))
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", regex)
            patterns.append(re.compile(f"^{regex}$"))
    return patterns


def test_every_workflow_links_to_its_run_and_reports() -> None:
    document = yaml.safe_load(CONFIGMAP.read_text())
    links = yaml.safe_load(document["data"]["links"])
    assert {link["name"] for link in links} == {
        "Drover run", "Drover JUnit report", "Drover Playwright report", "Drover cucumber report",
    }  # fmt: skip
    served = facade_paths()
    placeholder = "${workflow.metadata.labels." + LABEL_RUN + "}"
    for link in links:
        assert link["scope"] == "workflow"
        assert placeholder in link["url"]
        path = (
            link["url"].replace(placeholder, "0123456789ab").removeprefix("http://localhost:8000")
        )
        assert any(p.match(path) for p in served), f"{link['name']}: no route serves {path}"
