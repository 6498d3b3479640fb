"""``drover serve``: the FastAPI facade under uvicorn (embedded Postgres unless DATABASE_URL)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from engine.cli.console import err_console

__all__ = ["public_url_of", "serve_command"]


def public_url_of(host: str, port: int) -> str:
    """The facade's URL for workers, from the bind address (``DROVER_PUBLIC_URL`` overrides it).

    A wildcard address (all interfaces) is reached on the loopback by the local runner's pods.
    """
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API; starts the mirror, the scheduler and retention in the same process.

    The embedded Postgres it starts (no DATABASE_URL) stops when it does, on Ctrl-C or SIGTERM;
    one that was running before keeps running (drover db stop stops it).
    """
    import uvicorn

    from api.app import create_app
    from api.embedded_server import embedded_server_scope
    from api.settings import get_settings

    settings = get_settings()
    if "public_url" not in settings.model_fields_set:
        # Workers post results and lease scenarios here: where this server really listens.
        settings = settings.model_copy(update={"public_url": public_url_of(host, port)})
    # uvicorn shuts down on SIGINT/SIGTERM, then raises the signal again to exit by it: held
    # back here until the embedded Postgres has stopped, then raised for good.
    received: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: received.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with embedded_server_scope(settings) as stops:
            uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not settings.database_url:
        where = settings.postgres_dir
        err_console.print(
            f"stopped the embedded Postgres under {where}"
            if stops
            else f"the embedded Postgres under {where} was running before and keeps running "
            "(drover db stop stops it)",
            highlight=False,
        )
    for signum in received:
        signal.raise_signal(signum)
