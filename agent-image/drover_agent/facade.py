"""The worker's side of the Drover facade: post scenario results and lease queue batches.

Standard library only (urllib). The service puts ``DROVER_FACADE_URL``, ``DROVER_RUN_ID`` and
``DROVER_TOKEN`` (scoped to the run) into every worker's environment; the compiled worker
template adds ``DROVER_WORKER``, the worker's queue identity, and ``DROVER_POD``, the pod's name
(see :class:`WorkerIdentity`). Calls retry transient failures (no connection, timeouts, 5xx,
429) a bounded number of times with exponential backoff, then raise :class:`FacadeUnavailable`;
a refusal that retrying cannot fix (400, 403, 409, 422 ...) raises :class:`FacadeRejected` at
once. Callers treat both as "carry on without the facade": the results file stays the source of
truth.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib.error

__all__ = [
    "FacadeClient",
    "FacadeConfig",
    "FacadeError",
    "FacadeRejected",
    "FacadeUnavailable",
    "Lease",
    "WorkerIdentity",
]

API_PREFIX = "/api/v1"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
WORKER_LIMIT = 300
"""The longest worker id the service takes in a lease request (``LeaseIn.worker``)."""


class FacadeError(Exception):
    """The facade did not do what was asked."""


class FacadeUnavailable(FacadeError):
    """No usable answer after every retry (unreachable, timing out, or failing with 5xx)."""


class FacadeRejected(FacadeError):
    """The facade answered with a refusal that retrying will not change."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


@dataclass(frozen=True)
class FacadeConfig:
    url: str
    """The service's base URL, e.g. ``http://drover:8000`` (a trailing ``/api/v1`` is fine)."""
    run_id: str
    token: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FacadeConfig | None:
        """The facade the service configured, or None when the worker runs without one."""
        url = env.get("DROVER_FACADE_URL", "").strip()
        run_id = env.get("DROVER_RUN_ID", "").strip()
        token = env.get("DROVER_TOKEN", "").strip()
        if not (url and run_id and token):
            return None
        return cls(url=url, run_id=run_id, token=token)

    @property
    def api_base(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith(API_PREFIX) else base + API_PREFIX


@dataclass(frozen=True)
class WorkerIdentity:
    """Who this worker is: to the queue, and in results.

    The queue knows a worker by ``DROVER_WORKER``, which the compiled template sets to
    ``{{workflow.name}}/{{inputs.parameters.shard}}``: the same for every pod retry of one shard,
    so a retried pod's leases are answered first with what its dead predecessor still held.
    Results name the pod that produced them, ``DROVER_POD`` (``{{pod.name}}``, new for every
    retry). Templates compiled before ``DROVER_POD`` existed set ``DROVER_WORKER`` to the pod's
    name; it then names the pod as well. Without ``DROVER_WORKER`` the worker is known by its
    ``<group key>/<index>``, which is unique within the run its leases are scoped to.
    """

    lease_id: str
    pod: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str], group: str, shard: int) -> WorkerIdentity:
        worker = env.get("DROVER_WORKER", "").strip()
        pod = env.get("DROVER_POD", "").strip() or worker or None
        return cls(lease_id=_bounded(worker or f"{group}/{shard}"), pod=pod)


def _bounded(worker: str) -> str:
    """``worker``, or when too long for the service a stable shortening that keeps it unique."""
    if len(worker) <= WORKER_LIMIT:
        return worker
    digest = hashlib.sha256(worker.encode("utf-8")).hexdigest()[:16]
    return f"{worker[: WORKER_LIMIT - len(digest) - 1]}~{digest}"


@dataclass(frozen=True)
class Lease:
    scenarios: list[str]
    done: bool
    """Nothing is queued or leased any more in the group: the worker can stop asking."""
    lease_seconds: float


class FacadeClient:
    """Blocking HTTP calls to one run's endpoints, each retried with backoff."""

    def __init__(
        self,
        config: FacadeConfig,
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    def post_results(self, results: list[dict[str, Any]], *, attempts: int | None = None) -> int:
        """Send one batch; returns how many were new to the service (repeats are ignored)."""
        answer = self._call("/results", {"results": results}, attempts)
        inserted = answer.get("inserted")
        return inserted if isinstance(inserted, int) else 0

    def lease(self, group_key: str, worker: str, count: int) -> Lease:
        """The next ``count`` scenarios of the group for ``worker``, longest expected first."""
        path = f"/groups/{urllib.parse.quote(group_key, safe='')}/lease"
        answer = self._call(path, {"worker": worker, "count": count}, None)
        scenarios = answer.get("scenarios")
        if not isinstance(scenarios, list) or not all(isinstance(s, str) for s in scenarios):
            raise FacadeRejected(200, f"the lease answer has no scenario list: {answer!r:.200}")
        return Lease(
            scenarios=scenarios,
            done=bool(answer.get("done")),
            lease_seconds=float(answer.get("lease_seconds") or 0.0),
        )

    def _call(self, path: str, body: dict[str, Any], attempts: int | None) -> dict[str, Any]:
        # Imported by the workers that call a facade: ~15 ms of every other worker's start.
        import http.client
        import urllib.error

        run = urllib.parse.quote(self.config.run_id, safe="")
        url = f"{self.config.api_base}/runs/{run}{path}"
        data = json.dumps(body).encode("utf-8")
        tries = max(1, attempts or self.attempts)
        problem = ""
        for attempt in range(tries):
            if attempt:
                time.sleep(self._pause(attempt))
            try:
                return self._post(url, data)
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                if exc.code not in RETRYABLE_STATUS:
                    raise FacadeRejected(exc.code, detail) from None
                problem = f"HTTP {exc.code}: {detail}"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                # URLError, refused or reset connections and timeouts are all OSErrors; a
                # truncated or non-JSON answer is a ValueError. All are worth another try.
                problem = _reason(exc)
        raise FacadeUnavailable(f"{url}: {problem} (after {tries} attempts)")

    def _post(self, url: str, data: bytes) -> dict[str, Any]:
        import urllib.request

        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.config.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            answer = json.loads(response.read() or b"{}")
        if not isinstance(answer, dict):
            raise ValueError(f"expected a JSON object, got {answer!r:.200}")
        return answer

    def _pause(self, attempt: int) -> float:
        """Exponential backoff with jitter, so many workers do not retry in lockstep."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read().decode("utf-8", "replace")
    except OSError:
        return str(exc.reason)
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:300] or str(exc.reason)
    if isinstance(parsed, dict) and parsed.get("detail"):
        return str(parsed["detail"])[:300]
    return body[:300]


def _reason(exc: BaseException) -> str:
    import urllib.error

    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
