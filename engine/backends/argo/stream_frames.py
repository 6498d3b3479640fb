"""Frames of the Argo Server's streaming endpoints (watch and logs), parsed one line at a time.

grpc-gateway writes one JSON object per line, ``{"result": {...}}`` or ``{"error": {...}}``;
with ``Accept: text/event-stream`` the same objects come as server-sent events
(``data: {...}`` followed by a blank line). Both forms are accepted. Nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.errors import BackendError

__all__ = ["StreamError", "StreamResult", "parse_frame"]

HTTP_GONE = 410
GRPC_OUT_OF_RANGE = 11  # what the apiserver's 410 Gone becomes behind grpc-gateway


@dataclass(frozen=True)
class StreamResult:
    """One ``result`` payload: a WorkflowWatchEvent or a LogEntry."""

    value: dict[str, Any]


@dataclass(frozen=True)
class StreamError:
    """An ``error`` frame (grpc.gateway.runtime.StreamError): the server gave up on the stream."""

    message: str
    http_code: int | None = None
    grpc_code: int | None = None

    @property
    def expired(self) -> bool:
        """The resourceVersion we resumed from is too old: only a full list recovers."""
        text = self.message.lower()
        return (
            self.http_code == HTTP_GONE
            or "too old resource version" in text
            or "expired" in text
            or (self.grpc_code == GRPC_OUT_OF_RANGE and "resource version" in text)
        )


def parse_frame(line: str | bytes) -> StreamResult | StreamError | None:
    """One line of a stream → a frame; None for keep-alives, blank lines and SSE fields."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text or text.startswith(":"):
        return None
    if text.startswith("data:"):
        text = text[len("data:") :].strip()
    elif text.split(":", 1)[0] in ("event", "id", "retry"):
        return None
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise BackendError(
            f"Argo Server sent a stream line that is not JSON: {text[:200]!r}"
        ) from error
    if not isinstance(payload, dict):
        raise BackendError(f"Argo Server sent a stream frame that is not an object: {text[:200]!r}")
    if payload.get("error"):
        return _stream_error(payload["error"])
    result = payload.get("result")
    if isinstance(result, dict):
        return StreamResult(result)
    return None


def _stream_error(error: Any) -> StreamError:
    if not isinstance(error, dict):
        return StreamError(str(error))

    def number(*keys: str) -> int | None:
        for key in keys:
            value = error.get(key)
            if isinstance(value, int):
                return value
        return None

    return StreamError(
        message=str(error.get("message") or error.get("http_status") or "stream error"),
        http_code=number("http_code", "httpCode"),
        grpc_code=number("grpc_code", "grpcCode", "code"),
    )
