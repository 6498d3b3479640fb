"""``drover token create``: an API bearer token (printed once; only its hash is stored)."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.console import console
from engine.cli.options import DroverTyper
from engine.cli.service_db import service_session

__all__ = ["new_api_token", "token_app"]

token_app = DroverTyper(help="Manage API tokens.", no_args_is_help=True)


@token_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what the token is for.")] = "cli",
) -> None:
    """Create a token with full API rights and print it."""
    console.print(new_api_token(name), highlight=False)


def new_api_token(name: str) -> str:
    """A new token with full API rights, stored (as its hash) in the service's database."""
    from api.auth import create_token

    with service_session() as (_, session):
        token = create_token(session, name=name)
        session.commit()
    return token
