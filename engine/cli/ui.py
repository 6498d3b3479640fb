"""``drover ui``: the service with its dashboard, opened in a browser already signed in."""

from __future__ import annotations

import threading
import time
import webbrowser
from typing import Annotated

import typer

from engine.cli.console import err_console

__all__ = ["ui_command"]


def ui_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the dashboard in a browser.")
    ] = True,
) -> None:
    """Serve the API and its dashboard, and open it signed in with a new token of its own.

    The token travels in the address's fragment, which browsers never send to a server; the
    sign-in page exchanges it for a session cookie and drops it from the address bar.
    """
    from engine.cli.serve import serve_command
    from engine.cli.token import new_api_token

    token = new_api_token("drover ui")
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    err_console.print(f"dashboard: {url}/  (signed in by {url}/login#token=…)", highlight=False)
    if open_browser:
        threading.Thread(target=_open_when_up, args=(url, token), daemon=True).start()
    serve_command(host=host, port=port, log_level="warning")


def _open_when_up(url: str, token: str) -> None:
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                webbrowser.open(f"{url}/login#token={token}")
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
