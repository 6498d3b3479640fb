"""The facade compiles runs for the Argo it submits to: ``backoff.cap`` only on a v4 Argo.

Unless ``DROVER_ARGO_VERSION`` says which, the version is the Argo Server's own answer to
``GET /api/v1/version`` (server/info/info_server.go ``infoServer.GetVersion``; the fake answers
``FakeArgo.server_version``), read once per backend. Why it matters: tests/compiler/
test_argo_version.py (v3.6 has no ``Backoff.Cap`` and its server drops unknown fields).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.argo_backend.conftest import ROOT
from tests.argo_backend.fake_argo import FakeArgo


def _backoffs(client: TestClient, argo: FakeArgo) -> list[dict[str, Any]]:
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"shop-version-{time.monotonic_ns() % 10**8}"
    spec["project"].pop("path")
    spec["project"]["repo"] = "https://git.example.com/shop.git"
    spec.pop("schedule", None)
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    started = client.post(f"/api/v1/executions/{created.json()['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    workflow = argo.workflows[started.json()["workflow_name"]].obj
    return [
        t["retryStrategy"]["backoff"] for t in workflow["spec"]["templates"] if "retryStrategy" in t
    ]


@pytest.mark.parametrize(
    ("server", "setting", "cap"),
    [
        ("v4.1.2", None, True),  # detected v4
        ("v3.6.19", None, False),  # detected v3.6: it would drop the cap
        ("untagged", None, False),  # a development build says nothing: v3.6-compatible
        ("v4.1.2", "v3.6", False),  # DROVER_ARGO_VERSION wins over the server
        ("v3.6.19", "v4.0", True),
    ],
)
def test_runs_are_compiled_for_the_servers_argo_version(
    argo_service: Callable[..., TestClient],
    argo: tuple[FakeArgo, str],
    server: str,
    setting: str | None,
    cap: bool,
) -> None:
    fake, _ = argo
    fake.server_version = server
    client = argo_service(argo_version=setting)
    backoffs = _backoffs(client, fake)
    assert backoffs
    assert all(("cap" in b) is cap for b in backoffs), backoffs


def test_a_setting_that_is_no_version_is_refused() -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    with pytest.raises(ValidationError) as raised:
        Settings(argo_version="latest")
    assert "argo_version" in str(raised.value) and "e.g. v3.6 or v4.0" in str(raised.value)
