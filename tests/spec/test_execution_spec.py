"""The execution spec: what it accepts, and the field-naming errors for what it refuses."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from engine.backends.local import LocalBackend
from engine.cli import app
from engine.errors import SpecError
from engine.loading import load_execution, parse_execution, read_execution_json
from engine.spec import Execution

BASE: dict[str, Any] = {
    "kind": "Execution",
    "name": "demo",
    "project": {"name": "demo", "path": "examples/shop"},
    "scenarios": [
        {"id": "t/a.py::one", "tags": ["smoke"], "location": "t/a.py::one"},
        {"id": "t/a.py::two", "location": "t/a.py::two"},
        {"id": "u/b.py::three", "tags": ["slow"], "location": "u/b.py::three"},
    ],
    "flows": [{"name": "main", "groups": [{"name": "all", "select": {"paths": ["t", "u"]}}]}],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with one field set; ``path`` is dotted with list indexes (``flows.0.name``)."""
    doc = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if last.isdigit() and int(last) == len(node):
        node.append(value)
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


BAD_SPECS = {
    "unknown field": (
        _with("flows.0.groups.0.colour", "red"),
        "flows[0].groups[0].colour",
        "unknown field",
    ),
    "zero threads": (
        _with("flows.0.groups.0.threads", 0),
        "flows[0].groups[0].threads",
        "greater than or equal to 1",
    ),
    "duplicate scenario ids": (
        _with("flows.0.groups.0", {"name": "all", "scenarios": [{"id": "x"}, {"id": "x"}]}),
        "flows[0].groups[0]",
        "'x' appears twice",
    ),
    "group with no scenarios": (
        _with("flows.0.groups.0.select", {"tags": ["nonexistent"]}),
        "flows[0].groups[0]",
        "the group has no scenarios",
    ),
    "invalid cron": (
        _with("schedule", {"cron": ["61 * * * *"]}),
        "schedule.cron",
        "not a cron expression",
    ),
    "invalid timezone": (
        _with("schedule", {"cron": ["0 1 * * *"], "timezone": "Mars/Olympus"}),
        "schedule.timezone",
        "IANA time zone",
    ),
    "timezone too long for a file name": (
        _with("schedule", {"cron": ["0 1 * * *"], "timezone": "Europe/" + "x" * 300}),
        "schedule.timezone",
        "IANA time zone",
    ),
    "name argo rejects": (_with("name", "Nightly_Run"), "name", "lowercase letters"),
    "group name starting with a digit": (
        _with("flows.0.groups.0.name", "1st"),
        "flows[0].groups[0].name",
        "starting with a letter",
    ),
    "too long name": (_with("name", "a" * 41), "name", "at most 40"),
    "both repo and path": (_with("project.repo", "https://x/y.git"), "project", "exactly one of"),
    "command runner without placeholder": (
        _with("project.runner", {"kind": "command", "command": ["make", "test"]}),
        "project.runner",
        "{scenario}",
    ),
    "bad test data key": (
        _with("test_data", {"1BAD": "x"}),
        "test_data.1BAD",
        "environment variable",
    ),
    "bad duration": (_with("defaults.timeout", "soon"), "defaults.timeout", "not a duration"),
    # Kubernetes refuses a pod's activeDeadlineSeconds above 2**31 - 1 (ValidatePodSpec).
    "deadline beyond Kubernetes": (
        _with("defaults.timeout", "99999999h"),
        "defaults.timeout",
        "longer than Kubernetes allows",
    ),
    "priority beyond Argo's int32": (
        _with("limits", {"priority": 2**31}),
        "limits.priority",
        "less than or equal to 2147483647",
    ),
    # Argo and Kubernetes decode counts as integers: YAML's `true` is no worker count.
    "threads as a boolean": (
        _with("flows.0.groups.0.threads", True),
        "flows[0].groups[0].threads",
        "valid integer",
    ),
    "retries as a fraction": (_with("defaults.retries", 1.5), "defaults.retries", "valid integer"),
    "infinite duration": (
        _with("scenarios.0", {"id": "t/a.py::one", "duration": float("inf")}),
        "scenarios[0].duration",
        "finite",
    ),
    "duplicate flow names": (
        _with("flows.1", {"name": "main", "groups": [{"name": "g", "scenarios": [{"id": "z"}]}]}),
        "flows",
        "duplicate flow name",
    ),
    # Issue 12 defect 19: Kubernetes would refuse the workflow; Hera crashed compiling it.
    "defect 19 label key with a space": (_with("labels", {"my team": "qa"}), "labels", "'my team'"),
    "defect 19 label value too long": (_with("labels", {"team": "q" * 64}), "labels", "value"),
    "defect 19 label key reserved": (
        _with("labels", {"workflows.argoproj.io/completed": "true"}),
        "labels",
        "reserved",
    ),
    "defect 19 flow named setup-env": (
        _with("flows.0.name", "setup-env"),
        "flows[0].name",
        "'setup-env' is reserved",
    ),
    "scenario id with a NUL character": (
        _with("scenarios.1.id", "t/a.py::two[\x00]"),
        "scenarios[1].id",
        "NUL character",
    ),
    "scenario name with a NUL character": (
        _with("scenarios.1", {"id": "t/a.py::two", "name": "two\x00"}),
        "scenarios[1].name",
        "NUL character",
    ),
    "scenario id too long to store": (
        _with("scenarios.1.id", "t/a.py::two[" + "x" * 4000 + "]"),
        "scenarios[1].id",
        "is 4013 characters, at most 4000 are allowed: give long parameters short ids",
    ),
    "empty scenario id": (_with("scenarios.1.id", " "), "scenarios[1].id", "at least 1 character"),
    "unknown selected id": (
        _with("flows.0.groups.0.select", {"ids": ["nope"]}),
        "flows[0].groups[0].select.ids",
        "unknown scenario ids",
    ),
}


def test_base_spec_is_valid() -> None:
    execution = parse_execution(BASE)
    (group,) = execution.flows[0].groups
    assert [s.id for s in execution.group_scenarios(group)] == [
        "t/a.py::one",
        "t/a.py::two",
        "u/b.py::three",
    ]


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_specs_name_the_field(case: str) -> None:
    doc, path, fragment = BAD_SPECS[case]
    with pytest.raises(SpecError) as caught:
        parse_execution(doc)
    assert caught.value.path == path
    assert fragment in str(caught.value)
    assert "default factory" not in str(caught.value)  # the location made from a bad id


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_cli_validate_exits_2_without_traceback(case: str, tmp_path: Path) -> None:
    doc, _, fragment = BAD_SPECS[case]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_selection_by_tags_paths_and_exclusions() -> None:
    doc = _with(
        "flows.0.groups",
        [
            {"name": "smoke", "select": {"tags": ["smoke"]}},
            {"name": "rest", "select": {"paths": ["t/*.py", "u"], "exclude_tags": ["smoke"]}},
        ],
    )
    execution = parse_execution(doc)
    smoke, rest = execution.flows[0].groups
    assert [s.id for s in execution.group_scenarios(smoke)] == ["t/a.py::one"]
    assert [s.id for s in execution.group_scenarios(rest)] == ["t/a.py::two", "u/b.py::three"]


def test_a_scenario_without_a_location_is_where_its_id_says() -> None:
    """What ``drover discover`` leaves out of an execution for a pytest node id."""
    doc = _with("scenarios", [{"id": "t/a.py::one"}, {"id": "u/b.py::two", "location": "u/b.py"}])
    doc["flows"][0]["groups"] = [{"name": "t", "select": {"paths": ["t/*.py"]}}]
    execution = parse_execution(doc)
    assert [s.location for s in execution.scenarios] == ["t/a.py::one", "u/b.py"]
    assert [s.id for s in execution.group_scenarios(execution.flows[0].groups[0])] == [
        "t/a.py::one"
    ]


def test_selection_by_explicit_ids_keeps_catalog_order() -> None:
    doc = _with("flows.0.groups.0.select", {"ids": ["u/b.py::three", "t/a.py::one"]})
    execution = parse_execution(doc)
    group = execution.flows[0].groups[0]
    assert [s.id for s in execution.group_scenarios(group)] == ["t/a.py::one", "u/b.py::three"]


def test_group_settings_inherit_defaults() -> None:
    doc = _with("defaults", {"threads": 4, "retries": 2, "timeout": "1h30m"})
    doc["flows"][0]["groups"][0]["retries"] = 0
    execution = parse_execution(doc)
    settings = execution.effective(execution.flows[0].groups[0])
    assert (settings.threads, settings.retries, settings.timeout) == (4, 0, 5400)


def test_json_and_yaml_load_the_same(tmp_path: Path) -> None:
    (tmp_path / BASE["project"]["path"]).mkdir(parents=True)
    (tmp_path / "a.json").write_text(json.dumps(BASE))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(BASE))
    assert load_execution(tmp_path / "a.json") == load_execution(tmp_path / "a.yaml")


# Every kind of field a spec has, for the JSON fast path to read the same as the careful one.
RICH: dict[str, Any] = {
    **BASE,
    "apiVersion": "drover.dev/v1",
    "title": "Everything set",
    "scenarios": [
        {"id": "t/a.py::one", "name": "one", "tags": ["smoke"], "duration": 1.5},
        {"id": "t/a.py::two", "last_status": "failed", "duration": 0},
        {"id": "u/b.py::three", "location": "u/b.py:12", "tags": ["slow", "db"]},
    ],
    "flows": [
        {
            "name": "main",
            "title": "Main flow",
            "groups": [
                {"name": "smoke", "select": {"tags": ["smoke"]}, "threads": 2, "retries": 1},
                {
                    "name": "rest",
                    "select": {"paths": ["t", "u/*.py"], "exclude_tags": ["smoke"]},
                    "strategy": "file",
                    "timeout": "10m",
                    "continue_on_failure": True,
                },
            ],
        },
        {"name": "listed", "groups": [{"name": "own", "scenarios": [{"id": "v/c.py::four"}]}]},
    ],
    "test_data": {"BASE_URL": "http://shop", "TOKEN": {"secret": {"name": "api", "key": "t"}}},
    "defaults": {"threads": 3, "timeout": "1h30m", "scenario_timeout": 90, "pod_retries": 1},
    "workspace": {"mode": "artifact", "size": "1Gi"},
    "limits": {"parallelism": 4, "priority": -3, "deadline": "2h"},
    "schedule": {"cron": ["0 3 * * *"], "timezone": "Europe/Paris", "suspend": True},
    "labels": {"team": "qa", "example.com/cost-centre": "42"},
    "notify": [
        {
            "events": ["run.finished"],
            "filter": {"verdict": ["failed"]},
            "channel": {"type": "webhook", "url": "https://hooks.example.com/drover"},
        },
        {
            "events": ["run.started", "run.finished"],
            "channel": {
                "type": "email",
                "to": ["qa@example.com"],
                "from": "drover@example.com",
                "smtp": {"host": "mail.example.com", "port": 465, "security": "tls"},
            },
        },
    ],
}


@pytest.mark.parametrize("document", [BASE, RICH], ids=["base", "rich"])
def test_a_json_spec_reads_the_same_fast_as_parsed_from_its_document(
    document: dict[str, Any], tmp_path: Path
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(document))
    careful = parse_execution(document)
    fast = read_execution_json(spec)
    assert type(fast) is Execution
    assert fast == careful
    assert fast.model_fields_set == careful.model_fields_set
    assert fast.model_dump(mode="json") == careful.model_dump(mode="json")


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_a_bad_json_spec_is_refused_naming_the_field(case: str, tmp_path: Path) -> None:
    """The fast path gives up on it, and the careful one names the field as for YAML."""
    doc, path, fragment = BAD_SPECS[case]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(doc))
    (tmp_path / "examples" / "shop").mkdir(parents=True)
    assert read_execution_json(spec) is None
    with pytest.raises(SpecError) as caught:
        load_execution(spec)
    assert caught.value.path == path
    assert fragment in str(caught.value)


def test_json_the_careful_reader_takes_or_names_is_not_read_fast(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**BASE, "kind": "Pipeline"}))
    assert read_execution_json(spec) is None
    spec.write_text(json.dumps(BASE).replace('"demo"', "NaN", 1))  # json.loads takes NaN
    assert read_execution_json(spec) is None
    with pytest.raises(SpecError, match="name"):
        load_execution(spec)
    spec.write_text("{broken")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_execution(spec)


def test_unreadable_and_malformed_files_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_execution(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("flows: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_execution(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="mapping"):
        load_execution(listing)


def test_real_process_exit_codes(tmp_path: Path, shop_execution_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(shop_execution_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(_with("flows.0.groups.0.threads", -1)))
    bad = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "flows[0].groups[0].threads" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_project_path_that_does_not_exist_is_refused_with_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "execution.yaml"
    spec.write_text(
        "name: ghost\n"
        "project: {name: ghost, path: no-such-folder, runner: {kind: pytest}}\n"
        "flows: [{name: f, groups: [{name: g, scenarios: [{id: t.py::test_a}]}]}]\n"
    )
    for command in ("validate", "run"):
        done = subprocess.run(
            [sys.executable, "-m", "engine.cli", command, str(spec)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "DROVER_HOME": str(tmp_path / "home")},
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "project.path" in done.stderr + done.stdout
        assert not (tmp_path / "no-such-folder").exists()
    assert not (tmp_path / "home").exists()  # refused before any run was recorded


def test_a_hostpath_directory_volume_that_does_not_exist_fails_the_pod(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    workflow = LocalBackend(tmp_path / "home").run(
        {
            "metadata": {"name": "hostpath"},
            "spec": {
                "entrypoint": "main",
                "volumes": [{"name": "p", "hostPath": {"path": str(missing), "type": "Directory"}}],
                "templates": [
                    {
                        "name": "main",
                        "container": {
                            "image": "alpine",
                            "command": ["true"],
                            "volumeMounts": [{"name": "p", "mountPath": "/project"}],
                        },
                    }
                ],
            },
        }
    )
    [node] = workflow["status"]["nodes"].values()
    assert node["phase"] == "Error"
    assert f"hostPath type check failed: {missing} is not a directory" in node["message"]
    assert not missing.exists()
