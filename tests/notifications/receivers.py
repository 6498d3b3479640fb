"""Real receivers for the notification tests: an HTTP server (threading ``http.server``) that
checks Drover's webhook signatures and the shapes Slack and Discord accept, and an SMTP server
(aiosmtpd) that keeps the mails it receives."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from engine.notifications.signing import SIGNATURE_HEADER, verify


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """``time.monotonic()`` when the receiver got it."""
    signature_ok: bool | None
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Answers POSTs under ``/webhook``, ``/slack`` and ``/discord``.

    ``fail_next`` makes the next N requests fail with 500 (then succeed); ``refuse_all`` fails
    every request until cleared; ``hold`` (an Event) makes requests wait until it is set.
    ``processed`` holds idempotency keys seen once: a repeated key is acknowledged, not
    processed again (what Drover asks receivers to do).
    """

    secret: str | None = None
    requests: list[Request] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    fail_next: int = 0
    refuse_all: bool = False
    hold: threading.Event | None = None
    arrived: int = 0
    """Requests that reached the handler (held ones included)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _status_for(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bool | None]:
        signature: bool | None = None
        if path.startswith("/webhook") and self.secret is not None:
            signature = verify(
                headers.get(SIGNATURE_HEADER.lower(), ""), self.secret, body, now=int(time.time())
            )
            if not signature:
                return 401, False
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, signature
        if path.startswith("/slack") and not (
            isinstance(payload.get("text"), str) and isinstance(payload.get("blocks"), list)
        ):
            return 400, signature  # Slack: invalid_payload
        if path.startswith("/discord") and not (payload.get("content") or payload.get("embeds")):
            return 400, signature  # Discord: 50006 Cannot send an empty message
        with self.lock:
            if self.refuse_all:
                return 503, signature
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, signature
            key = payload.get("idempotency_key") if path.startswith("/webhook") else None
            if key is None or key not in self.processed:
                self.processed.append(key or f"{path}:{len(self.processed)}")
        return (204 if path.startswith("/discord") else 200), signature

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        at = time.monotonic()
        with self.lock:
            self.arrived += 1
        if self.hold is not None:
            self.hold.wait(60)
        status, signature = self._status_for(path, headers, body)
        with self.lock:
            self.requests.append(Request(path, headers, body, at, signature, status))
        return status

    def ok(self, prefix: str = "/") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.status < 300 and r.path.startswith(prefix)]


@contextmanager
def http_receiver(
    secret: str | None = None, port: int = 0, hold: threading.Event | None = None
) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(secret=secret, hold=hold)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(self.path, headers, body)
            reply = b"ok" if status < 300 and status != 204 else b""
            if status >= 400:
                reply = json.dumps({"error": f"receiver says {status}"}).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            if reply:
                self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope, message))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[tuple[Envelope, EmailMessage]]]]:
    """A real SMTP server on a free port; yields (port, received messages)."""
    mailbox = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd needs a real port to check it is up
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox.messages
    finally:
        controller.stop()
