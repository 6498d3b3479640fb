"""Event streams' reads (api/stream_reads.py) against real Postgres: one read serves every
stream that asks while it is fresh, a stale one is read again, and the connections are the
streams' own (autocommit, named drover-events)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from api.stream_reads import APPLICATION_NAME, StreamReads


@pytest.fixture
def reads(database_url: str) -> Iterator[StreamReads]:
    engine = create_engine(database_url)
    reads = StreamReads(engine, threads=2, max_age=60)
    yield reads
    reads.close()
    engine.dispose()


def test_concurrent_streams_share_one_read(reads: StreamReads) -> None:
    calls: list[int] = []
    gate = threading.Event()

    def fetch(session: Session) -> tuple[str, str]:
        calls.append(1)
        gate.wait(10)  # every stream asks while this read is in flight
        name = session.execute(text("SELECT current_setting('application_name')")).scalar_one()
        level = session.execute(text("SELECT current_setting('transaction_isolation')"))
        in_transaction = session.connection().connection.driver_connection.info.transaction_status
        return str(name), f"{level.scalar_one()} {in_transaction.name}"

    async def streams() -> list[tuple[str, str]]:
        asked = [asyncio.create_task(reads.read("run:a", fetch)) for _ in range(50)]
        await asyncio.sleep(0.2)
        gate.set()
        return list(await asyncio.gather(*asked))

    answers = asyncio.run(streams())
    assert len(calls) == 1
    assert {name for name, _ in answers} == {APPLICATION_NAME}
    assert answers[0][1].endswith("IDLE")  # autocommit: no transaction is ever left open

    # Fresh: served again without a read; stale (the change watcher saw newer): read again.
    assert asyncio.run(reads.read("run:a", fetch)) == answers[0]
    assert len(calls) == 1
    asyncio.run(reads.read("run:a", fetch, stale=lambda _: True))
    assert len(calls) == 2
    asyncio.run(reads.read("run:a", fetch, max_age=0))  # too old for this caller
    assert len(calls) == 3


def test_a_stream_that_goes_away_leaves_the_read_to_the_others(reads: StreamReads) -> None:
    gate = threading.Event()

    def fetch(_: Session) -> str:
        gate.wait(10)
        return "state"

    async def streams() -> str:
        leaving = asyncio.create_task(reads.read("run:b", fetch))
        staying = asyncio.create_task(reads.read("run:b", fetch))
        await asyncio.sleep(0.1)
        leaving.cancel()
        await asyncio.sleep(0.1)
        gate.set()
        return await staying

    assert asyncio.run(streams()) == "state"
