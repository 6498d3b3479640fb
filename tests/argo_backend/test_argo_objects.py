"""CronWorkflows and WorkflowTemplates: golden files, the sync command, the cron lifecycle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from engine.backends.argo import ArgoBackend
from engine.backends.argo.reusable_templates import TEMPLATE_NAMES, reusable_templates
from engine.cli.templates import templates_app
from engine.compiler import CompileOptions, compile_plan
from engine.errors import Conflict, NotFound, SpecError
from engine.loading import load_execution
from engine.planning import plan_execution
from tests.argo_backend.conftest import NAMESPACE, ROOT
from tests.argo_backend.fake_argo import TOKEN, FakeArgo
from tests.argo_reference import argo_errors

TEMPLATES_DIR = ROOT / "templates"


def test_templates_dir_matches_the_code() -> None:
    """``DROVER_REGENERATE=1`` rewrites templates/ from engine/compiler/pods.py."""
    documents = reusable_templates()
    assert [d["metadata"]["name"] for d in documents] == list(TEMPLATE_NAMES)
    for document in documents:
        path = TEMPLATES_DIR / f"{document['metadata']['name']}.yaml"
        if os.environ.get("DROVER_REGENERATE"):
            path.write_text(yaml.safe_dump(document, sort_keys=False, width=120))
        assert yaml.safe_load(path.read_text()) == document, f"{path} is stale: DROVER_REGENERATE=1"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_pass_argo_validation(name: str) -> None:
    document = yaml.safe_load((TEMPLATES_DIR / f"{name}.yaml").read_text())
    assert argo_errors(document) == []


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(templates_app, name="templates")
    return app


def test_sync_creates_then_updates(argo: tuple[FakeArgo, str]) -> None:
    fake, url = argo
    env = {"ARGO_SERVER": url, "ARGO_TOKEN": TOKEN.removeprefix("Bearer ")}
    runner = CliRunner()
    first = runner.invoke(_cli(), ["templates", "sync", "-n", NAMESPACE], env=env)
    assert first.exit_code == 0, first.output
    assert first.output.count("created WorkflowTemplate") == 3
    assert set(fake.templates) == set(TEMPLATE_NAMES)
    second = runner.invoke(
        _cli(), ["templates", "sync", "-n", NAMESPACE, "--dir", str(TEMPLATES_DIR)], env=env
    )
    assert second.exit_code == 0, second.output
    assert second.output.count("updated WorkflowTemplate") == 3
    assert {"WorkflowTemplateService_CreateWorkflowTemplate", "WorkflowTemplateService_UpdateWorkflowTemplate",
            "WorkflowTemplateService_GetWorkflowTemplate"} <= fake.used  # fmt: skip


def test_sync_reports_a_missing_server_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["templates", "sync"], env={"ARGO_SERVER": ""})
    assert result.exit_code == 2
    assert "ARGO_SERVER" in result.output


def test_render_writes_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["templates", "render", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in tmp_path.glob("*.yaml")) == sorted(TEMPLATE_NAMES)


def test_template_get_lint_list_delete(backend: ArgoBackend, argo: tuple[FakeArgo, str]) -> None:
    document = reusable_templates()[0]
    assert backend.templates.lint(document)["metadata"]["name"] == "drover-setup-env"
    backend.templates.create(document)
    with pytest.raises(Conflict):
        backend.templates.create(document)
    assert [t["metadata"]["name"] for t in backend.templates.list()] == ["drover-setup-env"]
    backend.templates.delete("drover-setup-env")
    with pytest.raises(NotFound):
        backend.templates.get("drover-setup-env")
    with pytest.raises(SpecError, match="kind"):
        backend.templates.create({**document, "kind": "CronWorkflow"})


def test_cron_lifecycle(backend: ArgoBackend, argo: tuple[FakeArgo, str]) -> None:
    fake, _ = argo
    execution = load_execution(ROOT / "examples" / "shop" / "execution.yaml")
    compiled = compile_plan(plan_execution(execution), CompileOptions(namespace=NAMESPACE))
    assert compiled.kind == "CronWorkflow"
    cron = compiled.workflow_dict()
    name = cron["metadata"]["name"]

    assert backend.crons.lint(cron)["metadata"]["name"] == name
    assert backend.crons.apply(cron) == "created"
    cron["spec"]["schedules"] = ["0 5 * * *"]
    assert backend.crons.apply(cron) == "updated"
    assert fake.crons[name]["spec"]["schedules"] == ["0 5 * * *"]
    backend.crons.suspend(name)
    assert backend.crons.get(name)["spec"]["suspend"] is True
    backend.crons.resume(name)
    assert backend.crons.get(name)["spec"]["suspend"] is False
    assert [c["metadata"]["name"] for c in backend.crons.list()] == [name]
    backend.crons.delete(name)
    assert fake.crons == {}
    with pytest.raises(NotFound):
        backend.crons.delete(name)
    assert {
        "CronWorkflowService_LintCronWorkflow", "CronWorkflowService_CreateCronWorkflow",
        "CronWorkflowService_UpdateCronWorkflow", "CronWorkflowService_SuspendCronWorkflow",
        "CronWorkflowService_ResumeCronWorkflow", "CronWorkflowService_DeleteCronWorkflow",
        "CronWorkflowService_ListCronWorkflows", "CronWorkflowService_GetCronWorkflow",
    } <= fake.used  # fmt: skip


def test_submit_refuses_a_cron_workflow(backend: ArgoBackend) -> None:
    with pytest.raises(SpecError, match=r"crons\.apply"):
        backend.submit({"kind": "CronWorkflow", "metadata": {"name": "x"}, "spec": {}})
