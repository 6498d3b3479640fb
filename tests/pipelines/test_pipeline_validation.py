"""Bad pipelines are rejected with a SpecError that names the job and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.errors import SpecError
from engine.pipelines import is_pipeline_document, load_pipeline, parse_pipeline


def script(source: str = "echo hi", language: str = "bash") -> dict[str, Any]:
    return {"language": language, "source": source}


def pipeline(*jobs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "Pipeline", "name": "p", "jobs": list(jobs), **extra}


def rejected(document: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_pipeline(document)
    return caught.value


def test_a_cycle_is_rejected_naming_a_job_on_it() -> None:
    error = rejected(
        pipeline(
            {"name": "a", "needs": ["c"], "script": script()},
            {"name": "b", "needs": ["a"], "script": script()},
            {"name": "c", "needs": ["b"], "script": script()},
            {"name": "free", "script": script()},
        )
    )
    assert error.path in ("jobs[a].needs", "jobs[b].needs", "jobs[c].needs")
    assert "cycle" in error.message
    assert all(name in error.message for name in "abc")


def test_an_unknown_need_is_rejected_with_its_index_and_a_suggestion() -> None:
    error = rejected(
        pipeline(
            {"name": "build", "script": script()},
            {"name": "deploy", "needs": ["build", "tset"], "script": script()},
            {"name": "test", "script": script()},
        )
    )
    assert error.path == "jobs[deploy].needs[1]"
    assert "'tset'" in error.message
    assert error.hint == "did you mean 'test'?"


def test_a_reference_to_an_output_no_earlier_job_produces_is_rejected() -> None:
    error = rejected(
        pipeline(
            {"name": "build", "outputs": ["tag"], "script": script()},
            {
                "name": "deploy",
                "needs": ["build"],
                "inputs": {"version": "${jobs.build.outputs.version}"},
                "script": script(),
            },
        )
    )
    assert error.path == "jobs[deploy].inputs.version"
    assert "declares no output 'version'" in error.message


def test_a_reference_to_a_job_that_does_not_run_before_is_rejected() -> None:
    error = rejected(
        pipeline(
            {"name": "build", "outputs": ["tag"], "script": script()},
            {"name": "deploy", "env": {"TAG": "${jobs.build.outputs.tag}"}, "script": script()},
        )
    )
    assert error.path == "jobs[deploy].env.TAG"
    assert "does not run before" in error.message
    assert error.hint == "add 'build' to 'needs'"


def test_a_when_over_a_later_job_or_unknown_parameter_is_rejected() -> None:
    error = rejected(
        pipeline(
            {"name": "a", "when": "jobs.b.condition", "script": script()},
            {"name": "b", "script": script()},
        )
    )
    assert error.path == "jobs[a].when"
    error = rejected(pipeline({"name": "a", "when": "params.env == 'prod'", "script": script()}))
    assert error.path == "jobs[a].when"
    assert "no parameter 'env'" in error.message


def test_an_invalid_script_language_is_rejected_naming_the_job() -> None:
    error = rejected(
        pipeline(
            {"name": "ok", "script": script()},
            {"name": "build", "script": script(language="ruby")},
        )
    )
    assert error.path == "jobs[build].script.language"
    assert "'ruby'" in error.message and "python" in error.message


def test_in_stages_paths_name_the_stage_and_the_job() -> None:
    error = rejected(
        {
            "kind": "Pipeline",
            "name": "p",
            "stages": [
                {"name": "one", "jobs": [{"name": "a", "script": script()}]},
                {"name": "two", "jobs": [{"name": "b", "needs": ["zz"], "script": script()}]},
            ],
        }
    )
    assert error.path == "stages[two].jobs[b].needs[0]"


def test_duplicate_job_names_are_rejected_even_across_stages() -> None:
    error = rejected(
        {
            "kind": "Pipeline",
            "name": "p",
            "stages": [
                {"name": "one", "jobs": [{"name": "a", "script": script()}]},
                {"name": "two", "jobs": [{"name": "a", "script": script()}]},
            ],
        }
    )
    assert error.path == "stages[two].jobs[a].name"
    assert "duplicate" in error.message


def test_a_job_needs_exactly_one_kind() -> None:
    error = rejected(pipeline({"name": "a", "script": script(), "container": {"image": "busybox"}}))
    assert error.path == "jobs[a]"
    assert "exactly one of" in error.message


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ("jobs.a.condition ==", "ends too early"),
        ("(jobs.a.condition", "not closed"),
        ("jobs.a.outputs.x > 'b'", "compares numbers"),
        ("ok == jobs.a.result", "not a reference"),
    ],
)
def test_malformed_conditions_are_explained(when: str, fragment: str) -> None:
    error = rejected(
        pipeline(
            {"name": "a", "outputs": ["x"], "script": script()},
            {"name": "b", "needs": ["a"], "when": when, "script": script()},
        )
    )
    assert error.path == "jobs[b].when"
    assert fragment in error.message


@pytest.mark.parametrize(
    ("extra", "job_extra", "path"),
    [
        ({"parallelism": True}, {}, "parallelism"),
        ({"parallelism": 2.5}, {}, "parallelism"),
        ({}, {"retries": {"limit": "3"}}, "jobs[a].retries.limit"),
        (
            {},
            {"retries": {"limit": 2, "backoff": {"factor": 1.5}}},
            "jobs[a].retries.backoff.factor",
        ),
    ],
)
def test_counts_are_whole_numbers_not_booleans_floats_or_strings(
    extra: dict[str, Any], job_extra: dict[str, Any], path: str
) -> None:
    error = rejected(pipeline({"name": "a", "script": script(), **job_extra}, **extra))
    assert error.path == path
    assert "valid integer" in error.message


def test_on_failure_needs_something_to_fail() -> None:
    error = rejected(pipeline({"name": "a", "on": "failure", "script": script()}))
    assert error.path == "jobs[a].on"


def test_yaml_on_key_is_read_as_the_edge(tmp_path: Path) -> None:
    # PyYAML reads a bare `on:` as the boolean true; the model takes it back.
    path = tmp_path / "p.yaml"
    path.write_text(
        "kind: Pipeline\nname: p\njobs:\n"
        "  - name: a\n    script: {language: bash, source: x}\n"
        "  - name: b\n    needs: [a]\n    on: failure\n    script: {language: bash, source: x}\n"
    )
    document = yaml.safe_load(path.read_text())
    assert True in document["jobs"][1]
    loaded = load_pipeline(path)
    assert str(loaded.all_jobs()[1].on) == "failure"


def test_a_missing_file_and_the_wrong_kind_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        load_pipeline(tmp_path / "absent.yaml")
    assert not is_pipeline_document({"name": "x"})
    assert is_pipeline_document({"kind": "Pipeline"})
    with pytest.raises(SpecError) as caught:
        parse_pipeline({"kind": "Execution", "name": "x"})
    assert caught.value.path == "kind"


def test_http_jobs_take_no_outputs_and_secrets_must_not_shadow_env() -> None:
    error = rejected(
        pipeline({"name": "ping", "outputs": ["x"], "http": {"url": "http://localhost"}})
    )
    assert error.path == "jobs[ping]"
    error = rejected(
        pipeline(
            {
                "name": "a",
                "env": {"TOKEN": "x"},
                "secrets": {"TOKEN": {"name": "s", "key": "k"}},
                "script": script(),
            }
        )
    )
    assert error.path == "jobs[a].secrets"
