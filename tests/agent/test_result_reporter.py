"""The agent's live results: what waits while a post is on its way goes in the next post."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from drover_agent.facade import FacadeClient, FacadeConfig
from drover_agent.reporting import MAX_BATCH, ReportTarget, ResultReporter
from drover_agent.results import ScenarioResult


class _Facade(ThreadingHTTPServer):
    """Takes every batch of results as the service does (202 with the counts), holding the
    first one until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.batches: list[list[str]] = []
        self.first_arrived = threading.Event()
        self.release_first = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Facade

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.server.batches:
            self.server.first_arrived.set()
            self.server.release_first.wait(30)
        ids = [result["id"] for result in body["results"]]
        self.server.batches.append(ids)
        data = json.dumps({"received": len(ids), "inserted": len(ids)}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def facade() -> Iterator[_Facade]:
    server = _Facade()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release_first.set()
    server.shutdown()
    server.server_close()


def _result(n: int) -> ScenarioResult:
    return ScenarioResult(
        id=f"tests/test_a.py::test_{n}", status="passed", duration=0.001, attempt=0
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
