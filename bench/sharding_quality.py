"""How close each sharding strategy gets to the lower bound, against round-robin as baseline.

Run: ``python bench/sharding_quality.py`` (about 15 s). For 100 seeded random suites of 1,000
scenarios with lognormal durations, spread over 8 and 32 workers, it prints per strategy the
p50/p90/max of makespan / lower bound, the median makespan relative to round-robin on the same
suite, the share of directory or tag groups kept on one worker, and the planning time. Then it
times LPT on 100,000 scenarios over 20 workers. Target: LPT p50 <= 1.02.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from engine.sharding import ShardItem, ShardPlan, Strategy, plan_shards

SUITES = 100
SCENARIOS = 1_000
WORKER_COUNTS = (8, 32)
LARGE_SCENARIOS = 100_000
LARGE_WORKERS = 20
LPT_P50_TARGET = 1.02

# Median scenario about 20 s, a long tail into minutes: typical UI/integration suites.
LOGNORMAL_MU = 3.0
LOGNORMAL_SIGMA = 1.0
DIRECTORIES = 40
FILES_PER_DIRECTORY = 6
TAGS = 12
FAILED_SHARE = 0.05


def random_suite(rng: random.Random, size: int) -> list[ShardItem]:
    """Scenarios spread over directories and tags of uneven (Zipf-like) popularity."""
    directory_weights = [1 / (rank + 1) for rank in range(DIRECTORIES)]
    tag_weights = [1 / (rank + 1) for rank in range(TAGS)]
    directories = rng.choices(range(DIRECTORIES), directory_weights, k=size)
    tags = rng.choices(range(TAGS), tag_weights, k=size)
    return [
        ShardItem(
            id=f"s{index}",
            duration=rng.lognormvariate(LOGNORMAL_MU, LOGNORMAL_SIGMA),
            location=f"tests/d{directories[index]}/test_{rng.randrange(FILES_PER_DIRECTORY)}.py::t{index}",
            tags=(f"tag{tags[index]}",),
            last_status="failed" if rng.random() < FAILED_SHARE else "passed",
        )
        for index in range(size)
    ]


def share_of_groups_kept_whole(plan: ShardPlan, group_of: Callable[[str], str]) -> float:
    """Fraction of groups whose scenarios all run on one worker."""
    workers_of: dict[str, set[int]] = defaultdict(set)
    for shard in plan.shards:
        for item_id in shard.item_ids:
            workers_of[group_of(item_id)].add(shard.index)
    return sum(len(workers) == 1 for workers in workers_of.values()) / len(workers_of)


@dataclass
class Figures:
    imbalance: list[float] = field(default_factory=list)
    versus_round_robin: list[float] = field(default_factory=list)
    kept_whole: list[float] = field(default_factory=list)
    seconds: float = 0.0


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(threads: int) -> dict[Strategy, Figures]:
    figures = {strategy: Figures() for strategy in Strategy}
    for seed in range(SUITES):
        items = random_suite(random.Random(seed), SCENARIOS)
        directory = {item.id: item.location.rsplit("/", 1)[0] for item in items}
        first_tag = {item.id: item.tags[0] for item in items}
        baseline = plan_shards(items, threads, Strategy.ROUND_ROBIN).makespan
        for strategy in Strategy:
            started = time.perf_counter()
            plan = plan_shards(items, threads, strategy)
            figures[strategy].seconds += time.perf_counter() - started
            figures[strategy].imbalance.append(plan.imbalance)
            figures[strategy].versus_round_robin.append(plan.makespan / baseline)
            if strategy is Strategy.FILE:
                figures[strategy].kept_whole.append(
                    share_of_groups_kept_whole(plan, directory.__getitem__)
                )
            if strategy is Strategy.TAG:
                figures[strategy].kept_whole.append(
                    share_of_groups_kept_whole(plan, first_tag.__getitem__)
                )
    return figures


def quality_table(threads: int, figures: dict[Strategy, Figures]) -> Table:
    table = Table(
        title=f"{threads} workers: makespan / lower bound",
        caption="vs RR: median makespan relative to round-robin on the same suite; "
        "whole: groups (directories, tags) on one worker",
    )
    for header in ("strategy", "p50", "p90", "max", "vs RR", "whole", "ms/plan"):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    order = [Strategy.ROUND_ROBIN, Strategy.DURATION] + [
        s for s in Strategy if s not in (Strategy.ROUND_ROBIN, Strategy.DURATION)
    ]
    for strategy in order:
        f = figures[strategy]
        kept = f"{statistics.mean(f.kept_whole):.0%}" if f.kept_whole else ""
        table.add_row(
            strategy.value,
            f"{percentile(f.imbalance, 0.5):.3f}",
            f"{percentile(f.imbalance, 0.9):.3f}",
            f"{max(f.imbalance):.3f}",
            f"{percentile(f.versus_round_robin, 0.5):.3f}x",
            kept,
            f"{1000 * f.seconds / SUITES:.1f}",
        )
    return table


def time_large_lpt() -> tuple[float, ShardPlan]:
    rng = random.Random(2024)
    items = [
        ShardItem(f"s{index}", rng.lognormvariate(LOGNORMAL_MU, LOGNORMAL_SIGMA))
        for index in range(LARGE_SCENARIOS)
    ]
    best = float("inf")
    plan = None
    for _ in range(3):
        started = time.perf_counter()
        plan = plan_shards(items, LARGE_WORKERS, Strategy.DURATION)
        best = min(best, time.perf_counter() - started)
    assert plan is not None
    return best, plan


def main() -> int:
    console = Console()
    started = time.perf_counter()
    console.print(f"{SUITES} seeded suites of {SCENARIOS:,} scenarios, lognormal durations")
    lpt_p50s = []
    for threads in WORKER_COUNTS:
        figures = measure(threads)
        console.print(quality_table(threads, figures))
        lpt_p50s.append(percentile(figures[Strategy.DURATION].imbalance, 0.5))
    seconds, plan = time_large_lpt()
    console.print(
        f"LPT on {LARGE_SCENARIOS:,} scenarios over {LARGE_WORKERS} workers: "
        f"{seconds * 1000:.0f} ms (best of 3), makespan / lower bound {plan.imbalance:.5f}"
    )
    worst = max(lpt_p50s)
    verdict = "met" if worst <= LPT_P50_TARGET else "MISSED"
    console.print(
        f"Target LPT p50 <= {LPT_P50_TARGET}: {verdict} (worst p50 {worst:.4f}); "
        f"total {time.perf_counter() - started:.1f} s"
    )
    return 0 if worst <= LPT_P50_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
