"""``drover ui`` for real: the command (a subprocess on a free port, on the test's Postgres)
serves the dashboard and hands the browser an address that signs it in; Chromium opens that
address as the browser would.

The browser it opens is ``$BROWSER`` (Python's ``webbrowser`` honours it): here a script that
writes down the address it was given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.ui.conftest import _free_port, screenshot

ROOT = Path(__file__).resolve().parents[2]


def test_drover_ui_opens_the_dashboard_signed_in(
    browser: Any, database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    opened = tmp_path / "opened"
    fake = tmp_path / "browser"
    fake.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    fake.chmod(0o755)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DROVER_HOME": str(tmp_path / "home"),
        "DROVER_SCHEDULER": "false",
        "BROWSER": str(fake),
    }
    command = [sys.executable, "-m", "engine.cli", "ui", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not opened.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.2)
        assert opened.exists(), "drover ui never opened a browser"
        address = opened.read_text()
        base = f"http://127.0.0.1:{port}"
        assert address.startswith(f"{base}/login#token="), address
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(address)
        page.wait_for_url(f"{base}/")
        page.get_by_role("button", name="Sign out").wait_for()
        assert "drover ui" in page.locator("#who").inner_text()
        screenshot(page, "drover-ui")
        context.close()
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert f"dashboard: http://127.0.0.1:{port}/" in errors
