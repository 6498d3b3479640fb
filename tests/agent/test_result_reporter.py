"""The agent's live results: what waits while a post is on its way goes in the next post."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from agent_plans import StandInFacade, answer_json, serving
from drover_agent.facade import FacadeClient, FacadeConfig
from drover_agent.reporting import MAX_BATCH, ReportTarget, ResultReporter
from drover_agent.results import ScenarioResult


class _Facade(StandInFacade):
    """Takes every batch of results as the service does (202 with the counts), holding the
    first one until the test lets it go; a body over ``limit`` bytes gets the service's 413
    (``api/limits.py``)."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.limit = 1 << 30
        self.refused = 0
        self.batches: list[list[str]] = []
        self.first_arrived = threading.Event()
        self.release_first = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Facade

    def do_POST(self) -> None:
        size = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(size))
        if size > self.server.limit:
            self.server.refused += 1
            answer_json(self, 413, {"detail": f"request body over {self.server.limit} bytes"})
            return
        if not self.server.batches:
            self.server.first_arrived.set()
            self.server.release_first.wait(30)
        ids = [result["id"] for result in body["results"]]
        self.server.batches.append(ids)
        answer_json(self, 202, {"received": len(ids), "inserted": len(ids)})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def facade() -> Iterator[_Facade]:
    server = _Facade()
    with serving(server):
        yield server
        server.release_first.set()  # a first post still held would keep shutdown waiting


def _result(n: int, error: str | None = None) -> ScenarioResult:
    status = "failed" if error else "passed"
    return ScenarioResult(
        id=f"tests/test_a.py::test_{n}", status=status, duration=0.001, attempt=0, error=error
    )


def test_results_waiting_behind_a_post_go_together_in_the_next(facade: _Facade) -> None:
    """A thousand short tests a second: posts of a fixed 50 fall behind (each waits for the
    service), so what queued meanwhile goes in the next post, up to MAX_BATCH at a time."""
    client = FacadeClient(FacadeConfig(url=facade.url, run_id="run-1", token="t"))
    reporter = ResultReporter(client, ReportTarget("main.all", 0, "pod-0"), batch_size=50)
    for n in range(60):
        reporter.report(_result(n))
    assert facade.first_arrived.wait(10), "the first batch was posted"
    for n in range(60, 60 + MAX_BATCH + 200):
        reporter.report(_result(n))
    facade.release_first.set()
    assert reporter.flush(10)
    reporter.close()

    sizes = [len(batch) for batch in facade.batches]
    first = sizes[0]
    assert 50 <= first <= 60
    assert sizes[1:] == [MAX_BATCH, 60 + MAX_BATCH + 200 - first - MAX_BATCH]
    posted = [i for batch in facade.batches for i in batch]
    assert posted == [_result(n).id for n in range(60 + MAX_BATCH + 200)], "each once, in order"


def test_a_batch_the_service_finds_too_large_goes_again_in_parts(facade: _Facade) -> None:
    """Failures with long tracebacks: 200 results of 20 kB each are 4 MB in one post, over the
    service's limit here (1 MB). The service answers 413; the batch is posted again in halves
    until each part fits, and nothing is dropped."""
    facade.limit = 1_000_000
    facade.release_first.set()
    client = FacadeClient(FacadeConfig(url=facade.url, run_id="run-1", token="t"))
    reporter = ResultReporter(client, ReportTarget("main.all", 0, "pod-0"), batch_size=200)
    for n in range(200):
        reporter.report(_result(n, error="Traceback ...\n" + "x" * 20_000))
    assert reporter.flush(10)
    reporter.close()

    assert facade.refused >= 1
    assert all(len(batch) * 20_000 < facade.limit for batch in facade.batches)
    posted = [i for batch in facade.batches for i in batch]
    assert posted == [_result(n).id for n in range(200)], "each once, in order"
    assert reporter.dropped == 0
