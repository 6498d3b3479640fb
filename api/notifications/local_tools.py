"""Tool jobs of a pipeline run by ``drover run``, which has no facade: the facade's tool
endpoint, in the command's own process.

The command starts this endpoint on 127.0.0.1 (a free port), lowers the tool jobs to requests
to it exactly as the facade lowers them (``engine.pipelines.tools``), and the embedded runner
makes those requests as HTTP steps. Each is sent with the same code as the facade's
(``tool_send.send_tool``: the notifications' ``send``, per-destination rate limit and circuit
breaker) and answered as the facade answers — 200 when delivered, 502 when not, with
``{"status", "http_status", "response", "error"}`` — which is the job's ``result`` for later
jobs and conditions. A retried job gets the first answer without a second message. The
channel's secrets resolve in this process (its environment, ``DROVER_SECRETS_DIR``); there is
no database here, so no delivery log: the outcome is the job's result and the run's output.
"""

from __future__ import annotations

import hmac
import json
import secrets as pysecrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from api.notifications.secrets import SecretResolver
from api.notifications.tool_send import NotSent, Pacing, answer, send_tool
from engine.pipelines import Pipeline
from engine.pipelines.model import ToolStep
from engine.pipelines.tools import lower_tool_jobs, tool_path

__all__ = ["LocalToolEndpoint"]

MAX_MESSAGE = 1 << 20
"""Bytes of a request body read at most (a message is cut far shorter when rendered)."""


class LocalToolEndpoint:
    """``with LocalToolEndpoint(pipeline, ...) as tools:`` run ``tools.lower(pipeline)``."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        run_id: str,
        secrets: SecretResolver,
        timeout: float,
        pacing: Pacing | None = None,
    ) -> None:
        self.pipeline_name = pipeline.name
        self.run_id = run_id
        self.secrets, self.timeout, self.pacing = secrets, timeout, pacing
        jobs = [*pipeline.all_jobs(), *([pipeline.on_exit] if pipeline.on_exit else [])]
        self.tools: dict[str, ToolStep] = {j.name: j.tool for j in jobs if j.tool is not None}
        self.token = pysecrets.token_urlsafe(32)
        """The run's tool token: only the run's workflow has it."""
        self.answers: dict[str, dict[str, Any]] = {}
        """Job → the answer of its delivered message (a retry gets it again)."""
        self._job_locks = {job: threading.Lock() for job in self.tools}
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the endpoint first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def lower(self, pipeline: Pipeline) -> Pipeline:
        """``pipeline`` with its tool jobs as requests to this endpoint."""
        return lower_tool_jobs(pipeline, facade_url=self.url, run_id=self.run_id, token=self.token)

    def handle(self, path: str, authorization: str, message: str) -> tuple[int, dict[str, Any]]:
        """One tool request: the HTTP status and the JSON answer."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.token):
            return 403, {"detail": "this token does not start tool jobs of this run"}
        job = next((j for j in self.tools if tool_path(self.run_id, j) == path), None)
        if job is None:
            return 404, {"detail": f"run {self.run_id} has no tool job at {path}"}
        with self._job_locks[job]:
            done = self.answers.get(job)
            if done is not None:
                return 200, done
            try:
                outcome = send_tool(
                    self.tools[job],
                    run_id=self.run_id,
                    job=job,
                    pipeline=self.pipeline_name,
                    message=message,
                    secrets=self.secrets,
                    timeout=self.timeout,
                    pacing=self.pacing,
                )
            except NotSent as exc:
                return 502, answer(
                    "failed", http_status=None, response=None, error=str(exc), delivery=None
                )
            result = answer(
                "delivered" if outcome.ok else "failed",
                http_status=outcome.http_status,
                response=outcome.response,
                error=None if outcome.ok else outcome.error,
                delivery=None,
            )
            if not outcome.ok:
                return 502, result
            self.answers[job] = result
            return 200, result

    def __enter__(self) -> LocalToolEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_MESSAGE)
                message = self.rfile.read(length).decode("utf-8", errors="replace")
                status, body = endpoint.handle(
                    self.path, self.headers.get("authorization", ""), message
                )
                reply = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the run's own view reports each job

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="drover-local-tools", daemon=True
        ).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
