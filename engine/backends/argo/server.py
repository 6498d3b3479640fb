"""The Argo Server's REST API over httpx: JSON requests with retries, and line streams.

Used for everything Hera's ``WorkflowsService`` cannot do well: reading workflows as plain
dicts (no model round trip of 20,000-node statuses), the watch stream, log streams, cron and
template objects. Failures become :mod:`engine.errors` here.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from engine.backends.argo.failures import RetryPolicy, error_for_status, server_message
from engine.backends.argo.settings import ArgoSettings
from engine.errors import BackendError, NotFound

__all__ = ["ArgoServer", "LineStream", "QueryValue"]

QueryValue = str | bool | int | None
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


def _query(params: Mapping[str, QueryValue] | None) -> dict[str, str]:
    """Drop unset values; booleans as Go parses them."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _verify(settings: ArgoSettings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    if settings.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    return True


class ArgoServer:
    """A thin client of ``/api/v1/...`` paths relative to the configured server URL."""

    def __init__(
        self,
        settings: ArgoSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.retry: RetryPolicy = settings.retry
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=settings.base_url,
            verify=_verify(settings),
            timeout=httpx.Timeout(settings.timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str]:
        token = self.settings.bearer_token()
        return {"Authorization": token} if token else {}

    def _describe(self) -> str:
        return f"Argo Server {self.settings.base_url}"

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, QueryValue] | None = None,
        body: dict[str, Any] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> Any:
        """Send one request (retrying transient failures) and return the decoded JSON body.

        ``sleep`` replaces the pause between retries (a watch's, which its stop cuts short)."""
        response = self._send(method, path, what=what, params=params, body=body, sleep=sleep)
        return response.json() if response.content else {}

    def pages(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, QueryValue],
        sleep: Callable[[float], object] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """GET a list page by page: each answer, following its ``metadata.continue`` token
        (Kubernetes ListMeta, which Argo's list endpoints pass through as
        ``listOptions.continue``) until it is empty."""
        token: str | None = None
        while True:
            page: dict[str, Any] = self.request(
                "GET",
                path,
                what=what,
                params={**params, "listOptions.continue": token},
                sleep=sleep,
            )
            yield page
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return

    def download(self, path: str, *, what: str) -> bytes | None:
        """GET a file (an artifact): its bytes, or None when the server answers 404."""
        try:
            response = self._send("GET", path, what=what, accept="*/*")
        except NotFound:
            return None
        return response.content

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, QueryValue] | None = None,
        body: dict[str, Any] | None = None,
        accept: str | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> httpx.Response:
        """One request, retried while the failure is transient; errors become DroverErrors."""
        idempotent = method.upper() in _IDEMPOTENT
        delays = self.retry.delays()
        headers = self._headers()
        if accept is not None:
            headers["Accept"] = accept
        while True:
            try:
                response = self._client.request(
                    method,
                    path.lstrip("/"),
                    params=_query(params),
                    json=body,
                    headers=headers,
                )
            except httpx.ConnectError as error:
                # Nothing reached the server: always safe to try again.
                if self._pause(delays, sleep=sleep):
                    continue
                raise BackendError(f"cannot reach {self._describe()} to {what}: {error}") from error
            except httpx.TimeoutException as error:
                if idempotent and self._pause(delays, sleep=sleep):
                    continue
                raise BackendError(f"{self._describe()} timed out on {what}") from error
            except httpx.HTTPError as error:
                raise BackendError(f"{what} at {self._describe()} failed: {error}") from error
            if response.is_success:
                return response
            if RetryPolicy.is_transient(
                response.status_code, idempotent=idempotent
            ) and self._pause(delays, retry_after=response.headers.get("Retry-After"), sleep=sleep):
                continue
            raise error_for_status(
                response.status_code,
                server_message(response.content),
                what=what,
                server=self._describe(),
            )

    def _pause(
        self,
        delays: Iterator[float],
        retry_after: str | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> bool:
        delay = next(delays, None)
        if delay is None:
            return False
        if retry_after and retry_after.isdigit():
            delay = min(max(delay, float(retry_after)), self.retry.max_delay)
        (sleep or self._sleep)(delay)
        return True

    @contextmanager
    def stream_lines(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, QueryValue] | None = None,
        read_timeout: float | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> Iterator[LineStream]:
        """Open a streaming GET; yields its lines (a :class:`LineStream`).

        Connecting is retried like :meth:`request` (``sleep``: as there); a stream that breaks
        later simply ends (the caller decides whether to reconnect). ``read_timeout`` bounds the
        silence between lines (None waits forever, for following logs).
        """
        timeout = httpx.Timeout(self.settings.timeout, read=read_timeout)
        delays = self.retry.delays()
        while True:
            try:
                with self._client.stream(
                    "GET",
                    path.lstrip("/"),
                    params=_query(params),
                    headers=self._headers(),
                    timeout=timeout,
                ) as response:
                    if not response.is_success:
                        response.read()
                        if RetryPolicy.is_transient(
                            response.status_code, idempotent=True
                        ) and self._pause(delays, sleep=sleep):
                            continue
                        raise error_for_status(
                            response.status_code,
                            server_message(response.content),
                            what=what,
                            server=self._describe(),
                        )
                    yield LineStream(response)
                    return
            except httpx.ConnectError as error:
                if self._pause(delays, sleep=sleep):
                    continue
                raise BackendError(f"cannot reach {self._describe()} to {what}: {error}") from error


class LineStream(Iterator[str]):
    """The lines of a streamed answer; the stream ends quietly when it breaks, or when another
    thread calls :meth:`abort`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._lines = _lines_until_broken(response)

    def __iter__(self) -> LineStream:
        return self

    def __next__(self) -> str:
        return next(self._lines)

    def abort(self) -> None:
        """End the stream from any thread, at once: a read blocked in it returns.

        Closing the response from another thread would not do: a socket closed while another
        thread waits in ``recv`` keeps that thread waiting (Linux), and httpcore's connection
        is not meant to be shared between threads. Shutting the socket down makes the blocked
        read see the end of the stream; the reading thread then closes the response itself.
        """
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def _lines_until_broken(response: httpx.Response) -> Iterator[str]:
    try:
        yield from response.iter_lines()
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout):
        return
