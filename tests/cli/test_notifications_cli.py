"""``drover notifications``: the same service functions as ``/api/v1/notifications``, on a real
Postgres, sending to a real HTTP receiver on this machine that checks Drover's signatures and
Slack's message shape. A subscription added by the CLI is the API's, and the other way round."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.app import create_app
from api.settings import Settings
from engine.cli import app
from tests.api.conftest import database_url, postgres_url  # noqa: F401 (fixtures)
from tests.notifications.receivers import HttpReceiver, http_receiver

SIGNING = "whsec-cli-1"
ADMIN = "cli-test-admin-token"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(secret=SIGNING) as r:
        yield r


@pytest.fixture
def env(
    database_url: str,  # noqa: F811
    tmp_path: Path,
    receiver: HttpReceiver,
) -> dict[str, str]:
    """The CLI's environment: the test database, a Secret mounted as the facade gets one
    (``<dir>/<name>/<key>``) holding the webhook's signing secret, and the Slack URL in env."""
    secrets = tmp_path / "secrets" / "drover-hooks"
    secrets.mkdir(parents=True)
    (secrets / "signing").write_text(SIGNING + "\n")
    return {
        "DATABASE_URL": database_url,
        "DROVER_HOME": str(tmp_path / "home"),
        "DROVER_SECRETS_DIR": str(tmp_path / "secrets"),
        "DROVER_PUBLIC_URL": "http://drover.test",
        "CLI_TEST_SLACK_URL": f"{receiver.url}/slack/T000/B000/cli",
        "COLUMNS": "250",
    }


def drover(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


def add(env: dict[str, str], tmp_path: Path, body: dict[str, Any]) -> Result:
    path = tmp_path / f"notify-{len(list(tmp_path.glob('notify-*')))}.yaml"
    path.write_text(yaml.safe_dump(body))
    return drover(env, "notifications", "add", str(path))


def _ids(env: dict[str, str]) -> dict[str, int]:
    listed = drover(env, "notifications", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    return {item["name"]: item["id"] for item in json.loads(listed.stdout)}


def test_add_list_test_and_read_the_delivery_log(
    env: dict[str, str], tmp_path: Path, receiver: HttpReceiver
) -> None:
    webhook = {
        "name": "cli-webhook",
        "events": ["run.finished"],
        "filter": {"verdict": ["failed"]},
        "channel": {
            "type": "webhook",
            "url": f"{receiver.url}/webhook/cli",
            "signing_secret": {"secret": {"name": "drover-hooks", "key": "signing"}},
        },
    }
    assert add(env, tmp_path, webhook).exit_code == 0
    slack = {
        "name": "cli-slack",
        "events": ["run.failed_to_start", "run.finished"],
        "channel": {"type": "slack", "url_from": {"env": "CLI_TEST_SLACK_URL"}},
    }
    added = drover(env, "notifications", "add", "-", stdin=json.dumps(slack))
    assert added.exit_code == 0, added.output
    assert "cli-slack" in added.stdout and "slack:env:CLI_TEST_SLACK_URL" in added.stdout

    ids = _ids(env)
    table = drover(env, "notifications", "list")
    assert table.exit_code == 0, table.output
    assert "cli-webhook" in table.stdout and "verdict: failed" in table.stdout
    listed = drover(env, "notifications", "list", "-o", "json").stdout
    assert "/slack/T000" not in listed  # the Slack URL is a secret: only its reference shows
    assert {"env": "CLI_TEST_SLACK_URL"} in [
        n["channel"].get("url_from") for n in json.loads(listed)
    ]

    sent = drover(env, "notifications", "test", str(ids["cli-webhook"]))
    assert sent.exit_code == 0, sent.output
    assert "delivered" in sent.stdout and "HTTP 200" in sent.stdout
    assert [r.signature_ok for r in receiver.requests] == [True]
    assert receiver.requests[0].json["type"] == "run.finished"

    sent = drover(env, "notifications", "test", str(ids["cli-slack"]), "--event", "run.finished")
    assert sent.exit_code == 0, sent.output
    assert receiver.requests[-1].path == "/slack/T000/B000/cli"
    assert "text" in receiver.requests[-1].json  # Slack's shape, checked by the receiver

    log = drover(env, "notifications", "deliveries", str(ids["cli-webhook"]), "-o", "json")
    assert log.exit_code == 0, log.output
    (delivery,) = json.loads(log.stdout)
    assert delivery["state"] == "delivered"
    assert delivery["source"] == f"test:{ids['cli-webhook']}"
    assert [a["http_status"] for a in delivery["attempts"]] == [200]
    everything = drover(env, "notifications", "deliveries", "--state", "delivered")
    assert everything.exit_code == 0, everything.output
    assert "HTTP 200" in everything.stdout and "2 of" in everything.stdout
    events = drover(env, "notifications", "events")
    assert events.exit_code == 0, events.output
    assert events.stdout.count("test/") == 2

    # The API sees what the CLI made, through the same service functions.
    settings = Settings(
        home=tmp_path / "api-home",
        database_url=env["DATABASE_URL"],
        admin_token=ADMIN,
        scheduler=False,
        notify_worker=False,
    )
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        listed = client.get("/api/v1/notifications", headers=auth).json()["items"]
        assert {n["name"] for n in listed} >= {"cli-webhook", "cli-slack"}
        shown = client.get(f"/api/v1/notifications/{ids['cli-webhook']}/deliveries", headers=auth)
        assert [d["id"] for d in shown.json()["items"]] == [delivery["id"]]

    for notification_id in ids.values():
        removed = drover(env, "notifications", "remove", str(notification_id))
        assert removed.exit_code == 0, removed.output
    assert not set(_ids(env)) & {"cli-webhook", "cli-slack"}
    again = drover(env, "notifications", "remove", str(ids["cli-slack"]))
    assert again.exit_code == 1 and "not found" in again.output


def test_a_failing_receiver_makes_test_exit_1_and_is_logged(
    env: dict[str, str], tmp_path: Path, receiver: HttpReceiver
) -> None:
    body = {
        "name": "cli-down",
        "events": ["run.finished"],
        "channel": {
            "type": "webhook",
            "url": f"{receiver.url}/webhook/down",
            "signing_secret": {"secret": {"name": "drover-hooks", "key": "signing"}},
        },
    }
    assert add(env, tmp_path, body).exit_code == 0
    notification_id = _ids(env)["cli-down"]
    receiver.refuse_all = True
    sent = drover(env, "notifications", "test", str(notification_id))
    assert sent.exit_code == 1, sent.output
    assert "failed" in sent.stdout and "HTTP 503" in sent.stdout
    log = drover(env, "notifications", "deliveries", "--state", "failed", "-o", "json")
    assert [d["notification_id"] for d in json.loads(log.stdout)] == [notification_id]
    assert drover(env, "notifications", "remove", str(notification_id)).exit_code == 0


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"events": ["run.exploded"]}, "events[0]"),
        ({"channel": {"type": "email", "to": ["not-an-address"], "from": "d@example.com",
                      "smtp": {"host": "127.0.0.1"}}}, "channel.email.to[0]"),
        ({"channel": {"type": "slack", "url": "https://hooks.slack.com/x"}}, "is a secret"),
        ({"channel": {"type": "slack", "url_from": {"env": "CLI_TEST_UNSET"}}},
         "channel.url_from.env: environment variable CLI_TEST_UNSET is not set in the drover command"),
        ({"channel": {"type": "webhook", "url": "ftp://example.com/x"}}, "channel.webhook.url"),
        ({"name": ""}, "name"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_field(
    env: dict[str, str], tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    body = {
        "name": "cli-bad",
        "events": ["run.finished"],
        "channel": {"type": "webhook", "url": "http://127.0.0.1:9/hook"},
        **change,
    }
    done = add(env, tmp_path, body)
    assert done.exit_code == 2, done.output
    assert says in done.output and "Traceback" not in done.output
    assert "cli-bad" not in _ids(env)


def test_a_missing_file_and_an_unknown_id_are_clean_errors(env: dict[str, str]) -> None:
    missing = drover(env, "notifications", "add", "/nonexistent/notify.yaml")
    assert missing.exit_code == 2 and "no such file" in missing.output
    unknown = drover(env, "notifications", "test", "999999")
    assert unknown.exit_code == 1 and "notification 999999 not found" in unknown.output
    unknown = drover(env, "notifications", "deliveries", "999999")
    assert unknown.exit_code == 1 and "not found" in unknown.output
