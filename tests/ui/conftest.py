"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real
``drover`` service (uvicorn on a free port) with an embedded Postgres and the local runner.

Skips, saying why, where Playwright's Python package or a Chromium binary is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import ADMIN, database_url, home, postgres_url  # noqa: F401

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("DROVER_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The service in this process (uvicorn in a thread), so the tests share its settings."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(settings), port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.thread.is_alive():
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the service did not start")

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=60,
            **kwargs,
        )
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def live(database_url: str, home: Path) -> Iterator[LiveServer]:  # noqa: F811
    port = _free_port()
    settings = Settings(
        home=home,
        database_url=database_url,
        admin_token=ADMIN,
        poll_interval=0.2,
        scheduler=False,
        public_url=f"http://127.0.0.1:{port}",
    )
    with LiveServer(settings, port) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is not installed"
    )
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A signed-in page at 1280 by 800."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live.url)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto("/login")
    page.get_by_label("Token").fill(ADMIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/")
    yield page
    if getattr(request.node, "failed_call", False):
        screenshot(page, f"failed-{request.node.name}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.failed_call = True  # type: ignore[attr-defined]
    return report


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
