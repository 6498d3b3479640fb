"""Tool jobs under ``drover run``, without a facade: the command sends them from its own
process with the facade's code (``api.notifications.local_tools``), to real receivers on this
machine (an HTTP server checking Drover's signatures and Slack's and Discord's shapes, and an
SMTP server); each outcome is the job's result, read by a later job and a condition, and a
failed send drives an ``on: failure`` edge. The channels' secrets never enter the workflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.notifications.local_tools import LocalToolEndpoint
from api.notifications.secrets import SecretResolver
from engine.pipelines import parse_pipeline
from tests.api.test_notifications_tools import _pipeline as facade_pipeline
from tests.notifications.receivers import HttpReceiver, http_receiver, smtp_server
from tests.pipelines.pipeline_helpers import jobs_by_name, output

ROOT = Path(__file__).resolve().parents[2]
SIGNING = "whsec-local-tools"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(secret=SIGNING) as r:
        yield r


def drover(*args: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full.update({"DROVER_HOME": str(home), "DROVER_LOCAL_RUNTIME": "process", **env})
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, env=full, check=False, timeout=120, cwd=ROOT,
    )  # fmt: skip


def pipeline(receiver: HttpReceiver, smtp_port: int) -> dict[str, Any]:
    """The facade's tool-job pipeline (announce to Slack, a signed hook, a check reading the
    announcement's result, a condition on it, a Discord job whose secret is missing and its
    ``on: failure`` fallback), plus a mail to a real SMTP server."""
    document = facade_pipeline(receiver)
    document["jobs"].append(
        {
            "name": "mail",
            "tool": {
                "channel": {
                    "type": "email",
                    "to": ["qa@example.com"],
                    "from": "drover@example.com",
                    "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
                },
                "message": "version ${params.version} is out",
            },
        }
    )
    return document


def test_drover_run_sends_tool_jobs_and_later_jobs_read_their_outcome(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    spec = tmp_path / "release.yaml"
    env = {"TOOL_SLACK_URL": f"{receiver.url}/slack/T1/B1/local", "TOOL_HOOK_SECRET": SIGNING}
    with smtp_server() as (smtp_port, mails):
        spec.write_text(yaml.safe_dump(pipeline(receiver, smtp_port)))
        done = drover("run", str(spec), home=tmp_path / "home", env=env)
    # 'broken' failed (its secret is not set) and its on: failure edge ran: the run succeeds.
    assert done.returncode == 0, done.stdout + done.stderr
    name = done.stdout.split("inspect: drover get ")[1].split()[0]

    (slack,) = receiver.ok("/slack")
    assert slack.json["text"] == "released 1.4.2 :rocket:"
    (hook,) = receiver.ok("/webhook/tool")
    assert hook.signature_ok
    assert hook.json["message"] == "deploy 1.4.2" and hook.json["job"] == "hook"
    ((_, mail),) = mails
    assert (
        mail["To"] == "qa@example.com"
        and "version 1.4.2 is out" in mail.get_body(("plain",)).get_content()
    )

    got = drover("get", name, "-o", "json", home=tmp_path / "home", env={})
    jobs = jobs_by_name(json.loads(got.stdout))
    phases = {job: node["phase"] for job, node in jobs.items()}
    assert phases == {
        "announce": "Succeeded",
        "hook": "Succeeded",
        "mail": "Succeeded",
        "check": "Succeeded",
        "celebrate": "Succeeded",
        "broken": "Failed",
        "fallback": "Succeeded",
    }
    announced = json.loads(jobs["announce"]["outputs"]["result"])
    assert announced["status"] == "delivered" and announced["http_status"] == 200
    assert output(jobs["check"], "status") == "delivered"
    failed = json.loads(jobs["broken"]["outputs"]["result"])
    assert failed["status"] == "failed" and "TOOL_NOT_SET" in failed["error"]
    assert "not set in the drover command" in failed["error"]

    # The workflow carries requests to the command's endpoint, never a channel's secret.
    manifest = got.stdout
    assert receiver.url + "/slack" not in manifest and SIGNING not in manifest


def test_compile_still_names_the_tool_job_and_the_way_to_run_it(tmp_path: Path) -> None:
    spec = tmp_path / "release.yaml"
    with http_receiver() as receiver:
        spec.write_text(yaml.safe_dump(pipeline(receiver, 25)))
    done = drover("compile", str(spec), home=tmp_path / "home", env={})
    assert done.returncode != 0
    assert "'announce' is a tool job" in done.stderr and "drover run" in done.stderr


def test_a_retried_tool_request_gets_the_first_answer_and_a_wrong_token_nothing(
    receiver: HttpReceiver,
) -> None:
    document = {
        "kind": "Pipeline",
        "name": "retry-tool",
        "jobs": [
            {
                "name": "hook",
                "tool": {
                    "channel": {
                        "type": "webhook",
                        "url": f"{receiver.url}/webhook/retry",
                        "signing_secret": {"env": "SIGNING"},
                    },
                    "message": "once",
                },
            }
        ],
    }
    pipeline = parse_pipeline(document)
    environ = {"SIGNING": SIGNING}
    with LocalToolEndpoint(
        pipeline, run_id="r1", secrets=SecretResolver(None, environ), timeout=5
    ) as tools:
        lowered = tools.lower(pipeline)
        (job,) = lowered.all_jobs()
        assert job.http is not None and job.tool is None
        url, headers = job.http.url, {k: str(v) for k, v in job.http.headers.items()}
        first = httpx.post(url, content="once", headers=headers)
        again = httpx.post(url, content="once", headers=headers)
        wrong = httpx.post(url, content="x", headers={"Authorization": "Bearer nope"})
        other = httpx.post(url.replace("/hook", "/nope"), content="x", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["status"] == "delivered"
    assert len(receiver.ok("/webhook/retry")) == 1
    assert wrong.status_code == 403 and other.status_code == 404
