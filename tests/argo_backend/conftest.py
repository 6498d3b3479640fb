from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from engine.backends.argo import ArgoBackend, ArgoSettings, RetryPolicy
from engine.backends.argo.kube import KubeObjects
from engine.compiler import CompiledExecution, CompileOptions, compile_plan
from engine.loading import load_execution
from engine.planning import plan_execution
from tests.api.conftest import ADMIN, database_url, postgres_url  # noqa: F401 (fixtures)
from tests.argo_backend import fake_argo, fake_kube
from tests.argo_backend.fake_argo import FakeArgo
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.http_stub import StubServer

NAMESPACE = "drover"
ROOT = Path(__file__).resolve().parents[2]
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture(autouse=True)
def _hera_warnings_are_errors() -> Iterator[None]:
    # The backend must silence Hera's pydantic deprecations itself.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        yield


@pytest.fixture
def argo() -> Iterator[tuple[FakeArgo, str]]:
    fake = FakeArgo(NAMESPACE)
    with StubServer(fake) as server:
        yield fake, server.url


@pytest.fixture
def kube() -> Iterator[tuple[FakeKube, str]]:
    fake = FakeKube()
    with StubServer(fake) as server:
        yield fake, server.url


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "fake", "user": {"token": token}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    return path


def settings_for(
    url: str, tmp_path: Path, kube_url: str | None = None, **extra: Any
) -> ArgoSettings:
    token_file = tmp_path / "argo-token"
    token_file.write_text(fake_argo.TOKEN.removeprefix("Bearer ") + "\n")
    kubeconfig = None
    if kube_url:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", kube_url, fake_kube.TOKEN.removeprefix("Bearer ")
        )
    values: dict[str, Any] = dict(
        server=url + "/",
        namespace=NAMESPACE,
        token_file=token_file,
        kubeconfig=kubeconfig,
        retry=FAST_RETRY,
        timeout=5.0,
    )
    values.update(extra)
    return ArgoSettings(**values)


@pytest.fixture
def backend(
    argo: tuple[FakeArgo, str], kube: tuple[FakeKube, str], tmp_path: Path
) -> Iterator[ArgoBackend]:
    settings = settings_for(argo[1], tmp_path, kube[1])
    with ArgoBackend(settings, kube=KubeObjects(settings)) as b:
        yield b


def compile_shop(run_id: str = "run-1") -> CompiledExecution:
    execution = load_execution(ROOT / "examples" / "shop" / "execution.yaml")
    return compile_plan(
        plan_execution(execution),
        CompileOptions(run_id=run_id, namespace=NAMESPACE, schedule=False),
    )


@pytest.fixture
def shop() -> CompiledExecution:
    return compile_shop()


@pytest.fixture
def argo_settings(
    argo: tuple[FakeArgo, str],
    kube: tuple[FakeKube, str],
    database_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Settings]:
    """The facade's settings on the Argo backend (the fake Argo Server and Kubernetes API, a
    real Postgres), with these settings over the common ones."""
    token_file = tmp_path / "argo-token"
    token_file.write_text(fake_argo.TOKEN.removeprefix("Bearer "))
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", kube[1], fake_kube.TOKEN.removeprefix("Bearer ")
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    def settings(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(
            home=tmp_path / "home",
            database_url=database_url,
            admin_token=ADMIN,
            scheduler=False,
            public_url="http://127.0.0.1:9",
            backend="argo",
            argo_server=argo[1],
            argo_token_file=token_file,
            kubeconfig=kubeconfig,
            namespace=NAMESPACE,
        )
        return Settings(**(values | overrides))

    return settings


@pytest.fixture
def argo_service(argo_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Starts the facade with ``argo_settings(**settings)``; stopped at the end of the test."""
    with ExitStack() as stack:

        def start(**settings: Any) -> TestClient:
            client = TestClient(create_app(argo_settings(**settings)))
            return stack.enter_context(client)

        yield start
