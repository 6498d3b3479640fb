"""Fixtures for pipeline tests: a local runner home and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.pipelines.pipeline_helpers import HttpServer


def _handler(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _reply(self, code: int, body: str, kind: str = "application/json") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def _route(self) -> None:
            path = self.path.split("?")[0]
            server.hits[path] += 1
            server.headers.append(dict(self.headers.items()))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            if path == "/health":
                self._reply(200, json.dumps({"status": "up"}))
            elif path.startswith("/status/"):
                self._reply(int(path.rsplit("/", 1)[1]), "status page", "text/plain")
            elif path == "/slow":
                time.sleep(3)
                self._reply(200, "late")
            elif path == "/flaky":
                code = 500 if server.hits[path] <= 2 else 200
                self._reply(code, json.dumps({"attempt": server.hits[path]}))
            elif path == "/echo":
                self._reply(200, json.dumps({"method": self.command, "body": body}))
            else:
                self._reply(404, "not found", "text/plain")

    return Handler


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = HttpServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(server)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "drover-home")
