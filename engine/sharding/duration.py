"""Duration: balance predicted durations over the workers, each worker running its scenarios in
the spec's order.

Two candidate plans: consecutive runs of the spec's order cut where the predicted time is
balanced, and longest processing time first (LPT, the classic greedy, within
(4/3 - 1/(3 * threads)) of the optimum; Graham, 1969). The consecutive one wins unless its
makespan is more than ``CONSECUTIVE_SLACK`` longer, and never by more than
``MAX_SLACK_SECONDS``: a worker then loads (pytest: collects) only its part of the project's
files, and tests run in the order and with the neighbours their suite was written for (module
fixtures, tests that rely on an earlier one). The time that saves is not in the durations,
hence the slack; it is paid once per file, not per second of tests, hence its cap.

The consecutive plan cuts between files when the best such cuts keep it within the same slack;
otherwise each cut inside a file moves to one of the file's ends where that does. A file split
between two workers is imported and collected by both and its module and class fixtures set up
twice: costs no duration records, and for a suite of millisecond tests the larger part of a
worker's time.

Either way a worker runs its scenarios in the spec's order, never longest first: the order
within a worker does not change its load.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Sequence

from engine.sharding.loads import Assignment, longest_first
from engine.sharding.locations import file_of
from engine.sharding.model import Placeable

__all__ = [
    "CONSECUTIVE_SLACK",
    "MAX_SLACK_SECONDS",
    "consecutive_limit",
    "cut_between_files",
    "keep_files_whole",
    "place_consecutive",
    "place_longest_first",
]

CONSECUTIVE_SLACK = 0.05
"""How much longer (relative) the consecutive plan's makespan may be than LPT's."""
MAX_SLACK_SECONDS = 1.0
"""...and at most this much longer: about what importing and collecting a worker's files
costs a suite of short tests. sh's single file of slow tests (36 s a worker) lost 1.4 s to a
5 % slack that bought it nothing, both workers importing that file either way."""


def consecutive_limit(lpt_makespan: float, *, estimated: bool = False) -> float:
    """The longest makespan a consecutive plan may have and still win over LPT's. With every
    duration an estimate (a first run: all the same invented figure) the cap in seconds means
    nothing, and only the relative slack applies: a cut then moves by up to that share of a
    worker's scenarios to reach a file's end, so that a worker collects whole files and runs
    each in the order its own pytest session would (tests that depend on their order within a
    file, or on how pytest groups a module's parametrized fixtures, pass as natively)."""
    slack = lpt_makespan * CONSECUTIVE_SLACK
    return lpt_makespan + (slack if estimated else min(slack, MAX_SLACK_SECONDS))


def place_longest_first(
    items: Sequence[Placeable], durations: Sequence[float], threads: int
) -> Assignment:
    """The consecutive plan if it is within the slack of LPT, else LPT; spec order in each."""
    lpt, lpt_loads = longest_first(range(len(items)), durations, [0.0] * threads)
    estimated = all(item.duration is None for item in items)
    limit = consecutive_limit(max(lpt_loads, default=0.0), estimated=estimated)
    consecutive = place_consecutive(durations, threads)
    if _makespan(consecutive, durations) > limit:
        return [sorted(part) for part in lpt]
    if limit == 0:
        return consecutive  # no duration at all: balanced by count, and left so
    files = [file_of(item.location or item.id) for item in items]
    whole = cut_between_files(files, durations, threads, limit)
    if whole is not None:
        return whole
    return keep_files_whole(consecutive, durations, files, limit)


def place_consecutive(durations: Sequence[float], threads: int) -> Assignment:
    """Consecutive runs of positions, one per worker, cut where the running total crosses a
    multiple of ``total / threads`` (a scenario goes where its midpoint falls); by count when
    every duration is zero."""
    # Scaled by the longest, so that neither tiny durations (whose share would underflow to 0)
    # nor huge ones (whose sum would overflow) change where the cuts fall.
    longest = max(durations, default=0.0)
    weights: list[float]
    if longest > 0:
        weights = list(map(operator.truediv, durations, itertools.repeat(longest)))
    else:
        weights = [1.0] * len(durations)
    share = sum(weights) / threads if weights else 1.0
    before = list(itertools.accumulate(weights, initial=0.0))

    def shares_done(position: int) -> float:
        """Shares of the total up to this scenario's midpoint (it goes to worker ceil() - 1)."""
        return (before[position] + weights[position] / 2) / share

    # Midpoints only grow along the spec, so each worker's positions are one run of it, and
    # worker k's starts where the midpoints pass k shares (one exactly on a cut goes to the
    # earlier worker, as LPT's ties do).
    positions = range(len(weights))
    starts = [bisect.bisect_right(positions, float(k), key=shares_done) for k in range(1, threads)]
    bounds = [0, *starts, len(weights)]
    return [list(range(start, end)) for start, end in itertools.pairwise(bounds)]


def cut_between_files(
    files: Sequence[str], durations: Sequence[float], threads: int, limit: float
) -> Assignment | None:
    """Consecutive runs that never split a run of one file's scenarios, with the least
    makespan such cuts allow (to within 0.1 %); None when that is over ``limit``.

    That least cap is found by bisection: a cap is feasible when cutting greedily (each
    worker takes runs while they fit) needs no more than ``threads`` workers. Within it, each
    cut then goes to the file boundary nearest an even share of what is left.
    """
    ends = [p for p in range(1, len(files)) if files[p] != files[p - 1]] + [len(files)]
    if len(ends) == len(files):
        return None  # no file holds two scenarios in a row: nothing to keep together
    before = [0.0, *itertools.accumulate(durations)]
    totals = [before[end] for end in ends]  # running total at the end of each file's run
    starts_at = [0.0, *totals]  # running total before each run

    def feasible(first: int, workers: int, cap: float) -> bool:
        """Whether ``workers`` parts of at most ``cap`` hold the runs from ``first`` on."""
        for _ in range(workers):
            if first == len(totals):
                return True
            last = bisect.bisect_right(totals, starts_at[first] + cap) - 1
            if last < first:
                return False  # that run alone is longer than the cap
            first = last + 1
        return first == len(totals)

    if not feasible(0, threads, limit):
        return None
    low = max(before[-1] / threads, *(b - a for a, b in itertools.pairwise(starts_at)))
    cap = limit
    while cap - low > cap * 1e-3:
        middle = (low + cap) / 2
        low, cap = (low, middle) if feasible(0, threads, middle) else (middle, cap)

    starts = [0]
    first = 0  # the next worker's first run
    for workers_left in range(threads, 1, -1):
        if first == len(totals):
            break  # every run is placed: the remaining workers stay idle
        done = starts_at[first]
        # This worker's last run: at most what fits the cap, at least what leaves the rest
        # feasible (taking more never hurts the rest), and within that nearest an even share.
        most = bisect.bisect_right(totals, done + cap) - 1
        least = (
            bisect.bisect_left(
                range(first, most + 1),
                True,
                key=lambda last: feasible(last + 1, workers_left - 1, cap),
            )
            + first
        )
        even = done + (before[-1] - done) / workers_left
        nearest = bisect.bisect_right(totals, even) - 1
        candidates = {min(max(last, least), most) for last in (nearest, nearest + 1)}
        first = min(candidates, key=lambda last: (abs(totals[last] - even), last)) + 1
        starts.append(ends[first - 1])
    starts += [len(files)] * (threads + 1 - len(starts))
    return [list(range(starts[w], starts[w + 1])) for w in range(threads)]


def keep_files_whole(
    consecutive: Assignment,
    durations: Sequence[float],
    files: Sequence[str],
    limit: float,
) -> Assignment:
    """Move each cut that splits a file between two workers to the file's start or end,
    whichever leaves the busier of the two less loaded, if that load stays within ``limit``.

    For a plan where some file must be split (it is longer than a worker's share): the other
    cuts can still avoid theirs. Neither worker is emptied; cuts are taken in order, each
    seeing where the one before it went.
    """
    starts = [0, *itertools.accumulate(len(part) for part in consecutive)]
    before = [0.0, *itertools.accumulate(durations)]  # before[p]: load of positions < p

    def load(start: int, end: int) -> float:
        return before[end] - before[start]

    for worker in range(1, len(consecutive)):
        low, cut, high = starts[worker - 1], starts[worker], starts[worker + 1]
        if not low < cut < high or files[cut - 1] != files[cut]:
            continue
        first = cut - 1
        while first > low and files[first - 1] == files[cut]:
            first -= 1
        end = cut + 1
        while end < high and files[end] == files[cut]:
            end += 1
        moves = [
            (max(load(low, edge), load(edge, high)), edge)
            for edge in (first, end)
            if low < edge < high  # neither worker is emptied
        ]
        if moves and (best := min(moves))[0] <= limit:
            starts[worker] = best[1]
    return [list(range(starts[w], starts[w + 1])) for w in range(len(consecutive))]


def _makespan(assignment: Assignment, durations: Sequence[float]) -> float:
    return max((sum(map(durations.__getitem__, part)) for part in assignment), default=0.0)
