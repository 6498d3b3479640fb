"""What an Argo or Kubernetes failure means for Drover: which error to raise, whether to retry.

Pure rules; the HTTP clients (``server.py``, ``hera_client.py``, ``kube.py``) apply them at the
edge, so callers only ever see :mod:`engine.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from urllib3.util.retry import Retry

from engine.errors import BackendError, Conflict, NotFound

__all__ = ["RetryPolicy", "error_for_status", "server_message", "urllib3_retry"]

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for transient failures.

    >>> list(RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.5).delays())
    [0.5, 1.0, 1.5]
    """

    attempts: int = 4
    """Total tries, the first one included."""
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delays(self) -> Iterator[float]:
        """The pause before each retry (``attempts - 1`` of them)."""
        for retry in range(max(self.attempts - 1, 0)):
            yield min(self.base_delay * (2**retry), self.max_delay)

    @staticmethod
    def is_transient(status: int, *, idempotent: bool) -> bool:
        """Worth retrying: throttling and unavailable gateways; a 504 only when repeating is safe
        (a timed-out create may have happened)."""
        if status == 504:
            return idempotent
        return status in TRANSIENT_STATUSES


def urllib3_retry(policy: RetryPolicy) -> Retry:
    """``policy`` for the clients built on urllib3 (Hera's requests session, the Kubernetes
    client): connect errors always, 429/502/503 on any method (the request was not processed),
    never after a read error, since a create may already have happened."""
    return Retry(
        total=policy.attempts - 1,
        connect=policy.attempts - 1,
        read=0,
        status=policy.attempts - 1,
        status_forcelist=(429, 502, 503),
        allowed_methods=None,
        backoff_factor=policy.base_delay,
        backoff_max=policy.max_delay,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def server_message(body: str | bytes) -> str:
    """The ``message`` of a grpc-gateway or Kubernetes Status body, else the body itself."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(payload, dict):
        for key in ("message", "error", "reason"):
            if isinstance(payload.get(key), str) and payload[key]:
                return str(payload[key])
    return text.strip()[:500]


def error_for_status(status: int, message: str, *, what: str, server: str) -> BackendError:
    """The Drover error for an HTTP failure of ``what`` (e.g. "create workflow") at ``server``."""
    detail = f"{what}: {message}" if message else what
    if status == 401:
        return BackendError(
            f"{server} rejected the credentials (401 Unauthorized) on {detail}; "
            "check the token (ARGO_TOKEN or the token file) and that it has not expired"
        )
    if status == 403:
        return BackendError(
            f"{server} refused {detail} (403 Forbidden); the service account lacks RBAC for it "
            "(see argo/base/rbac.yaml)"
        )
    if status == 404:
        return NotFound(f"{detail} (404 Not Found at {server})")
    if status == 409:
        return Conflict(f"{detail} (409 Conflict at {server})")
    if status >= 500:
        return BackendError(f"{server} failed {detail} ({status}); retried where safe")
    return BackendError(f"{server} rejected {detail} ({status})")
