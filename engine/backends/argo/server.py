"""The Argo Server's REST API over httpx: JSON requests with retries, and line streams.

Used for everything Hera's ``WorkflowsService`` cannot do well: reading workflows as plain
dicts (no model round trip of 20,000-node statuses), the watch stream, log streams, cron and
template objects. Failures become :mod:`engine.errors` here.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from engine.backends.argo.failures import RetryPolicy, error_for_status, server_message
from engine.backends.argo.settings import ArgoSettings
from engine.errors import BackendError, NotFound

__all__ = ["ArgoServer", "QueryValue"]

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
    ) -> Any:
        """Send one request (retrying transient failures) and return the decoded JSON body."""
        response = self._send(method, path, what=what, params=params, body=body)
        return response.json() if response.content else {}

    def pages(
        self, path: str, *, what: str, params: Mapping[str, QueryValue]
    ) -> Iterator[dict[str, Any]]:
        """GET a list page by page: each answer, following its ``metadata.continue`` token
        (Kubernetes ListMeta, which Argo's list endpoints pass through as
        ``listOptions.continue``) until it is empty."""
        token: str | None = None
        while True:
            page: dict[str, Any] = self.request(
                "GET", path, what=what, params={**params, "listOptions.continue": token}
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
                if self._pause(delays):
                    continue
                raise BackendError(f"cannot reach {self._describe()} to {what}: {error}") from error
            except httpx.TimeoutException as error:
                if idempotent and self._pause(delays):
                    continue
                raise BackendError(f"{self._describe()} timed out on {what}") from error
            except httpx.HTTPError as error:
                raise BackendError(f"{what} at {self._describe()} failed: {error}") from error
            if response.is_success:
                return response
            if RetryPolicy.is_transient(
                response.status_code, idempotent=idempotent
            ) and self._pause(delays, retry_after=response.headers.get("Retry-After")):
                continue
            raise error_for_status(
                response.status_code,
                server_message(response.content),
                what=what,
                server=self._describe(),
            )

    def _pause(self, delays: Iterator[float], retry_after: str | None = None) -> bool:
        delay = next(delays, None)
        if delay is None:
            return False
        if retry_after and retry_after.isdigit():
            delay = min(max(delay, float(retry_after)), self.retry.max_delay)
        self._sleep(delay)
        return True

    @contextmanager
    def stream_lines(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, QueryValue] | None = None,
        read_timeout: float | None = None,
    ) -> Iterator[Iterator[str]]:
        """Open a streaming GET; yields an iterator over its lines.

        Connecting is retried like :meth:`request`; a stream that breaks later simply ends
        (the caller decides whether to reconnect). ``read_timeout`` bounds the silence between
        lines (None waits forever, for following logs).
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
                        ) and self._pause(delays):
                            continue
                        raise error_for_status(
                            response.status_code,
                            server_message(response.content),
                            what=what,
                            server=self._describe(),
                        )
                    yield _lines_until_broken(response)
                    return
            except httpx.ConnectError as error:
                if self._pause(delays):
                    continue
                raise BackendError(f"cannot reach {self._describe()} to {what}: {error}") from error


def _lines_until_broken(response: httpx.Response) -> Iterator[str]:
    try:
        yield from response.iter_lines()
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout):
        return
