"""Retry backoff per Argo version: ``cap`` only for a v4 Argo, v3.6-compatible otherwise.

``Backoff`` has ``duration``, ``factor`` and ``maxDuration`` on v3.6.19 and also ``cap`` on
v4.0.10 (pkg/apis/workflow/v1alpha1/workflow_types.go); only v4's
workflow/controller/operator.go ``processNodeRetries`` bounds a delay with it. A v3.6 Argo
Server decodes the submitted Workflow with ``encoding/json`` (server/apiserver/argoserver.go
uses util/json/json.go ``JSONMarshaler``, whose ``Unmarshal`` is ``json.Unmarshal``), which drops
an unknown field without an error: on v3.6 a compiled ``cap`` would silently not exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner
from workflow_reading import templates

from engine.cli import app
from engine.compiler import CompileOptions, compile_plan
from engine.compiler.argo_version import has_backoff_cap, parse_argo_version
from engine.loading import parse_execution
from engine.planning import plan_execution
from tests.argo_reference import argo_errors

V36_BACKOFF_FIELDS = {"duration", "factor", "maxDuration"}
"""``Backoff``'s JSON fields on v3.6.19 (workflow_types.go)."""

EXECUTION: dict[str, Any] = {
    "name": "demo",
    "project": {"name": "demo", "repo": "https://example.com/demo.git"},
    "defaults": {"pod_retries": 8},
    "flows": [{"name": "alpha", "groups": [{"name": "first", "scenarios": [{"id": "a0"}]}]}],
}


def _backoffs(argo_version: str | None) -> list[dict[str, Any]]:
    plan = plan_execution(parse_execution(EXECUTION))
    workflow = compile_plan(plan, CompileOptions(argo_version=argo_version)).workflow_dict()
    assert argo_errors(workflow) == []  # Argo's own schema and CRD (v4.1.2)
    found = [
        t["retryStrategy"]["backoff"] for t in templates(workflow).values() if "retryStrategy" in t
    ]
    assert len(found) == 2  # setup-env and the worker
    return found


@pytest.mark.parametrize("version", [None, "v3.6.19", "3.6", "v3.5.0"])
def test_without_a_known_v4_the_backoff_is_what_v36_reads(version: str | None) -> None:
    """Unknown or v3: only v3.6's fields, so the document means on v4 what it means on v3.6."""
    for backoff in _backoffs(version):
        assert set(backoff) <= V36_BACKOFF_FIELDS
        assert backoff == {"duration": "10s", "factor": 2}


@pytest.mark.parametrize("version", ["v4.0.10", "v4.1.2", "4", "v5.0.0"])
def test_for_v4_each_delay_is_capped_at_five_minutes(version: str) -> None:
    for backoff in _backoffs(version):
        assert backoff == {"duration": "10s", "factor": 2, "cap": "5m"}


def test_versions_are_read_as_argo_reports_them() -> None:
    assert parse_argo_version("v3.6.19") == (3, 6)
    assert parse_argo_version("v4.0.10+abc.dirty") == (4, 0)
    assert parse_argo_version("untagged") is None  # a development build: v3.6-compatible
    assert not has_backoff_cap(None) and not has_backoff_cap("v3.6.19")
    assert has_backoff_cap("v4.0.0")


def test_compile_refuses_an_argo_version_that_is_not_one(tmp_path: Any) -> None:
    import yaml

    spec = tmp_path / "demo.yaml"
    spec.write_text(yaml.safe_dump(EXECUTION))
    runner = CliRunner()
    bad = runner.invoke(app, ["compile", str(spec), "--argo-version", "latest"])
    assert bad.exit_code == 2, bad.output
    assert "--argo-version" in bad.output and "e.g. v4.0" in bad.output
    good = runner.invoke(app, ["compile", str(spec), "--argo-version", "v4.0", "-f", "json"])
    assert good.exit_code == 0, good.output
    assert '"cap": "5m"' in good.output
