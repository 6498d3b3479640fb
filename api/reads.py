"""Reads of the routes a frontend polls most (a run's results, its detail when unchanged): one
or two statements on autocommit connections of their own.

A request's ORM session costs three round trips besides its statements: the pool's pre-ping on
checkout, ``BEGIN``, and ``ROLLBACK`` at the end. Next to a statement of a millisecond, that is
most of the time a request spends on Postgres. Here a read is only its statements: the
connections are in autocommit (under Postgres' default READ COMMITTED each statement sees its
own snapshot anyway, so two statements read no differently in a transaction) and are not pinged.
A connection found dropped (Postgres restarted) instead fails its first statement; the pool
then drops every connection older than that, and the read, which is safe to repeat, runs once
more on a new one: what pre-ping guards against, without its round trip on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

__all__ = ["APPLICATION_NAME", "Reads"]

APPLICATION_NAME: Final = "drover-reads"
"""``application_name`` of these connections in ``pg_stat_activity``."""

T = TypeVar("T")


class Reads:
    """``reads.run(read)``: ``read(connection)``'s value, read on an autocommit connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, read: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as connection:
                return read(connection)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.engine.connect() as connection:  # the pool has dropped the dead ones
            return read(connection)
