"""Which scenarios a worker runs, batch by batch: its static shard, or leases from the queue.

In queue mode (``"strategy": "queue"`` in the group plan, and a facade configured) the worker
leases batches from ``POST /runs/{id}/groups/{key}/lease`` until the group is drained. Batch
sizes follow guided self-scheduling: large while much is left (few runner start-ups), shrinking
towards one at the end (an even finish). When leasing stops working part-way (the facade is
unreachable, refuses, or hands back scenarios this worker already ran because their results
never landed) the worker runs what is left of its static shard, so every scenario still runs
somewhere even if every worker loses the facade.

Leases are held under the worker's queue identity (``DROVER_WORKER``: workflow, group and
index), not the pod's name, so a pod retried after it died asks under the same identity and
the service hands it back first the scenarios its predecessor leased and never reported.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from drover_agent.facade import FacadeClient, FacadeError
from drover_agent.plan import GroupPlan

__all__ = ["QUEUE_STRATEGY", "BatchCost", "WorkSource", "lease_size"]

QUEUE_STRATEGY = "queue"
MAX_LEASE = 100  # the service's limit per lease call
# While peers still hold the group's last leases: ask again soon (the group ends when the last
# worker learns it is drained), but not so often that thousands of idle workers load the facade.
OVERHEAD_SHARE = 4
FIRST_POLL = 0.25
MAX_POLL = 2.0


@dataclass
class BatchCost:
    """What this worker's batches so far say about runner start-up against scenario time."""

    overhead: float | None = None
    """The smallest (wall time - its scenarios' costs) of a batch: the runner's start-up."""
    scenario_seconds: float = 0.0
    scenarios: int = 0

    def record(self, wall_seconds: float, durations: list[float]) -> None:
        if not durations:
            return
        spent = max(0.0, wall_seconds - sum(durations))
        self.overhead = spent if self.overhead is None else min(self.overhead, spent)
        self.scenario_seconds += sum(durations)
        self.scenarios += len(durations)

    def amortizing_size(self) -> int:
        """Scenarios a batch needs for start-up to cost at most 1/OVERHEAD_SHARE of its time."""
        if self.overhead is None or not self.scenarios:
            return 0
        mean = max(self.scenario_seconds / self.scenarios, 0.001)
        return math.ceil(OVERHEAD_SHARE * self.overhead / mean)


def lease_size(total: int, threads: int, taken_by_me: int, cost: BatchCost | None = None) -> int:
    """Guided self-scheduling, grown where runner start-up would dominate small batches.

    GSS takes half of an even split of what is probably left (estimated from this worker's own
    progress, its peers assumed to keep pace), so batches shrink towards one for an even finish.
    When scenarios are short next to the runner's start-up, a batch grows until start-up is
    amortized, but never beyond an even share of the whole group (what a static plan gives).
    """
    threads = max(1, threads)
    left = max(0, total - taken_by_me * threads)
    guided = math.ceil(left / (2 * threads))
    amortizing = min(cost.amortizing_size(), math.ceil(total / threads)) if cost else 0
    return max(1, min(MAX_LEASE, max(guided, amortizing)))


@dataclass
class WorkSource:
    """Yields the batches one worker runs; ``queue_lost`` says why leasing stopped early."""

    group: GroupPlan
    shard: int
    client: FacadeClient | None
    worker: str
    """The queue identity leases are held under; every pod retry of the shard shares it."""
    queue_lost: str | None = None
    cost: BatchCost = field(default_factory=BatchCost)
    """Fed by the caller after each batch; sizes the next lease."""

    @property
    def queue_mode(self) -> bool:
        return self.group.strategy == QUEUE_STRATEGY and self.client is not None

    def batches(self) -> Iterator[list[str]]:
        static = [s.id for s in self.group.shard(self.shard)]
        if not self.queue_mode:
            yield static
            return
        handed: set[str] = set()
        yield from self._leased(handed)
        if self.queue_lost is not None:
            rest = [s for s in dict.fromkeys(static) if s not in handed]
            _log(
                f"queue mode stopped ({self.queue_lost}); running the {len(rest)} scenarios "
                f"left of static shard {self.shard}"
            )
            if rest:
                yield rest

    def _leased(self, handed: set[str]) -> Iterator[list[str]]:
        assert self.client is not None
        total = sum(len(entries) for entries in self.group.workers.values())
        poll = FIRST_POLL
        while True:
            count = lease_size(total, self.group.threads, len(handed), self.cost)
            try:
                lease = self.client.lease(self.group.key, self.worker, count)
            except FacadeError as exc:
                self.queue_lost = str(exc)
                return
            again = [s for s in lease.scenarios if s in handed]
            if again:
                self.queue_lost = (
                    f"the queue handed back {len(again)} scenarios this worker already ran; "
                    "their results did not reach the facade"
                )
                return
            if lease.scenarios:
                poll = FIRST_POLL
                handed.update(lease.scenarios)
                yield list(lease.scenarios)
            elif lease.done:
                return
            else:
                # Peers still hold leases. One that dies gets its scenarios back first when
                # its pod is retried; otherwise they return to the queue when its lease
                # expires, and then this worker takes them.
                time.sleep(poll * random.uniform(0.8, 1.2))
                poll = min(MAX_POLL, poll * 2)


def _log(message: str) -> None:
    print(f"drover-agent: {message}", file=sys.stderr, flush=True)
