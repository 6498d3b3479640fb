"""Pipelines run end to end on the embedded local runner, node for node as Argo marks them."""

from __future__ import annotations

from typing import Any

import yaml

from engine.backends.local import LocalBackend
from tests.local.conftest import stdout_of
from tests.pipelines.pipeline_helpers import EXAMPLES, jobs_by_name, output, run_pipeline


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return document


def phases(workflow: dict[str, Any]) -> dict[str, str]:
    return {name: node["phase"] for name, node in jobs_by_name(workflow).items()}


def test_three_stages_pass_outputs_over_three_hops_and_variables_forward(
    backend: LocalBackend,
) -> None:
    workflow = run_pipeline(backend, example("stages"), app="cart")
    assert workflow["status"]["phase"] == "Succeeded"
    jobs = jobs_by_name(workflow)
    assert phases(workflow) == dict.fromkeys(["version", "unit", "lint", "publish"], "Succeeded")
    # version → unit → publish: a value computed in stage 1 arrives in stage 3.
    assert output(jobs["version"], "tag") == "cart-1.4.42"
    assert '"tag": "cart-1.4.42"' in (output(jobs["unit"], "report") or "")
    # the variable set in stage 1 is what stages 2 and 3 read.
    assert output(jobs["publish"], "published") == "cart-1.4.42@stable"
    assert stdout_of(backend, jobs["unit"]) == "testing cart-1.4.42 on stable"
    assert output(jobs["lint"], "warnings") == "0"
    # stage order: every stage-2 job starts after stage 1 finished.
    assert jobs["unit"]["startedAt"] >= jobs["version"]["finishedAt"]
    assert jobs["publish"]["startedAt"] >= jobs["lint"]["finishedAt"]


def test_condition_true_runs_one_branch_and_skips_the_other(backend: LocalBackend) -> None:
    workflow = run_pipeline(backend, example("branching"), orders="250")
    assert workflow["status"]["phase"] == "Succeeded"
    jobs = jobs_by_name(workflow)
    assert phases(workflow) == {
        "check": "Succeeded",
        "scale-up": "Succeeded",
        "keep": "Skipped",
        "report": "Succeeded",
    }
    assert output(jobs["check"], "condition") == "true"
    assert jobs["keep"]["type"] == "Skipped"
    assert jobs["keep"]["message"].startswith("when '!(true == true)")
    assert stdout_of(backend, jobs["scale-up"]) == "scaling up for high load"
    assert stdout_of(backend, jobs["report"]) == "done with high"


def test_condition_false_runs_the_other_branch(backend: LocalBackend) -> None:
    workflow = run_pipeline(backend, example("branching"), orders="3")
    assert workflow["status"]["phase"] == "Succeeded"
    jobs = jobs_by_name(workflow)
    assert phases(workflow)["scale-up"] == "Skipped"
    assert jobs["scale-up"]["message"] == "when 'false == true' evaluated false"
    assert phases(workflow)["keep"] == "Succeeded"
    assert stdout_of(backend, jobs["report"]) == "done with normal"


def test_a_failing_job_triggers_its_failure_job_and_omits_success_ones(
    backend: LocalBackend,
) -> None:
    workflow = run_pipeline(backend, example("failure-notify"))
    assert workflow["status"]["phase"] == "Failed"
    jobs = jobs_by_name(workflow)
    assert phases(workflow) == {
        "migrate": "Failed",
        "notify": "Succeeded",
        "cleanup": "Succeeded",
        "verify": "Omitted",
    }
    assert jobs["verify"]["type"] == "Skipped"
    assert jobs["verify"]["message"] == "omitted: depends condition not met"
    assert stdout_of(backend, jobs["notify"]) == "migrate failed, paging the on-call person"


def test_without_a_failure_the_failure_job_is_omitted(backend: LocalBackend) -> None:
    document = example("failure-notify")
    document["jobs"][0]["container"]["args"] = ["echo migrated"]
    workflow = run_pipeline(backend, document)
    assert workflow["status"]["phase"] == "Succeeded"
    assert phases(workflow) == {
        "migrate": "Succeeded",
        "notify": "Omitted",
        "cleanup": "Succeeded",
        "verify": "Succeeded",
    }


def _helpers_pipeline() -> dict[str, Any]:
    """Each language sets a variable and an output; the next one reads both."""
    return {
        "kind": "Pipeline",
        "name": "helpers",
        "variables": {"count": 0, "owner": "nobody"},
        "jobs": [
            {
                "name": "bash-job",
                "outputs": ["word"],
                "script": {
                    "language": "bash",
                    "source": 'set_variable count 1\noutput word "from bash"\n'
                    'echo "owner=$(get_variable owner)"',
                },
            },
            {
                "name": "python-job",
                "needs": ["bash-job"],
                "inputs": {"word": "${jobs.bash-job.outputs.word}"},
                "outputs": ["word"],
                "script": {
                    "language": "python",
                    "source": "n = int(get_variable('count'))\nset_variable('count', n + 1)\n"
                    "output('word', input('word') + ' via python')\nprint(sorted(input()))",
                },
            },
            {
                "name": "node-job",
                "needs": ["python-job"],
                "inputs": {"word": "${jobs.python-job.outputs.word}"},
                "outputs": ["output"],
                "script": {
                    "language": "node",
                    "source": "setVariable('count', Number(get_variable('count')) + 1);\n"
                    "set_variable('owner', 'node');\n"
                    "output({word: input('word') + ' via node'});",
                },
            },
            {
                "name": "last",
                "needs": ["node-job"],
                "script": {
                    "language": "bash",
                    "source": 'echo "$(get_variable count) $(get_variable owner)"',
                },
            },
        ],
    }


def test_runtime_helpers_behave_the_same_in_bash_python_and_node(backend: LocalBackend) -> None:
    workflow = run_pipeline(backend, _helpers_pipeline())
    assert workflow["status"]["phase"] == "Succeeded", workflow["status"].get("message")
    jobs = jobs_by_name(workflow)
    assert stdout_of(backend, jobs["bash-job"]) == "owner=nobody"
    assert stdout_of(backend, jobs["python-job"]) == "['word']"
    assert output(jobs["node-job"], "output") == '{"word":"from bash via python via node"}'
    assert stdout_of(backend, jobs["last"]) == "3 node"


def test_parallel_branches_merge_the_variables_they_set(backend: LocalBackend) -> None:
    def setter(name: str, key: str) -> dict[str, Any]:
        return {
            "name": name,
            "needs": ["start"],
            "script": {"language": "python", "source": f"set_variable('{key}', '{name}')"},
        }

    document = {
        "kind": "Pipeline",
        "name": "merge",
        "variables": {"left": "-", "right": "-"},
        "jobs": [
            {"name": "start", "container": {"image": "busybox", "command": ["true"]}},
            setter("a", "left"),
            setter("b", "right"),
            {
                "name": "join",
                "needs": ["a", "b"],
                "script": {
                    "language": "bash",
                    "source": 'echo "$(get_variable left) $(get_variable right)"',
                },
            },
        ],
    }
    workflow = run_pipeline(backend, document)
    assert stdout_of(backend, jobs_by_name(workflow)["join"]) == "a b"


def test_an_undeclared_variable_fails_the_job_with_a_clear_message(backend: LocalBackend) -> None:
    document = {
        "kind": "Pipeline",
        "name": "undeclared",
        "variables": {"known": 1},
        "jobs": [
            {
                "name": "a",
                "script": {"language": "python", "source": "set_variable('unknown', 1)"},
            }
        ],
    }
    workflow = run_pipeline(backend, document)
    assert phases(workflow) == {"a": "Failed"}
    logs = "\n".join(line.content for line in backend.logs(workflow["metadata"]["name"]))
    assert "variable 'unknown' is not declared" in logs


def test_a_job_timeout_fails_the_job(backend: LocalBackend) -> None:
    document = {
        "kind": "Pipeline",
        "name": "slow",
        "jobs": [
            {"name": "sleepy", "timeout": 1, "script": {"language": "bash", "source": "sleep 20"}}
        ],
    }
    workflow = run_pipeline(backend, document)
    assert phases(workflow) == {"sleepy": "Failed"}
