"""Work stealing between the workers of one scenario group that share a workspace.

A static plan is cut on predicted durations, or by count when nothing is known yet, so one
worker may still have minutes of work when its peers are done. A worker that finishes its own
shard takes the tail of the busiest peer's remaining scenarios through that peer's steal board
(:mod:`drover_agent.steal_board`: one file per worker under ``.drover-steal/`` of a workspace
setup-env prepared, never in a directory of the user's own) and runs them in a pytest session
of its own; the peer's plugin passes over what was taken, and the peer leaves those scenarios
out of its results. The thief takes the share that ends both at about the same time, allowing
for its new session's start-up, and only when that saves at least :data:`MIN_GAIN_SECONDS`;
then it looks again.

A peer whose pod has not started (Pending, as Kubernetes keeps a pod that does not fit its node:
three workers on two cores) is not waited for: a worker done with its own shard takes all of
that peer's shard and offers it in turn, so the running workers share it; the peer's pod, when
it starts, finds its shard taken and runs no session for it. Of many waiting peers (fifty
workers on two cores) it takes whole shards until they make its share of them all, into one
session, instead of a session for each. Stealing needs a workspace the
workers share (one unpacked from an artifact for each has no peers' boards), and only
pytest shards of a static plan (a queue-mode group balances itself), and only the first pod of
a shard: a pod retried after its predecessor died finds its board started and runs its whole
shard, plus what its predecessor took from others, without offering or taking more: nothing is
lost, at worst run twice.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drover_agent.plan import GroupPlan
from drover_agent.steal_board import BoardState, locked_board, parse_board
from drover_agent.workspace import READY_MARKER, STEAL_BOARDS

__all__ = ["MIN_GAIN_SECONDS", "OwnBoard", "Stealing", "board_namespace"]

MIN_GAIN_SECONDS = 1.0
"""A steal must shorten the group by at least this much (a new session costs seconds)."""
MIN_OVERHEAD_SECONDS = 0.5
"""The least a new session is assumed to cost (interpreter, plugins, collection)."""
POLL_SECONDS = 0.25
"""The longest wait between two looks at the peers' boards."""
POLL_SECONDS_PER_BOARD = 0.02
"""A look reads every peer's board, so few peers are looked at more often: a worker lingering
for a peer that ends without a take ends right after it, and is not the group's last pod by a
quarter of a second."""


def board_namespace(env: Mapping[str, str], run_id: str | None) -> str | None:
    """Whose boards these are: the workflow (``DROVER_WORKER`` is ``<workflow>/<shard>``), else
    the run; None when neither is known (then nothing is stolen)."""
    worker = env.get("DROVER_WORKER", "").strip()
    owner = worker.rpartition("/")[0] if "/" in worker else (run_id or "")
    return _safe(owner) or None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:200]


@dataclass(frozen=True)
class OwnBoard:
    """This worker's board, offered to its pytest session for the shard's first batch."""

    path: Path
    ids: tuple[str, ...]

    def positions(self, ids: Sequence[str]) -> list[int]:
        """Each id's position on the board; -1 (run by this worker, never offered) for an id
        not on it."""
        index = {scenario_id: position for position, scenario_id in enumerate(self.ids)}
        return [index.get(scenario_id, -1) for scenario_id in ids]

    def close_if_all_taken(self, ids: Sequence[str]) -> list[str] | None:
        """End the offer when peers took every one of ``ids`` (its pod started after they took
        its whole shard) and return them; None when some are still this worker's to run."""
        positions = self.positions(ids)
        with locked_board(self.path, len(self.ids)) as state:
            if not positions or min(positions) < state.end:  # -1: not offered, run here
                return None
            state.closed = True
        return list(ids)

    def close(self) -> list[str]:
        """End the offer; the ids peers took, which this worker leaves to them."""
        with locked_board(self.path, len(self.ids)) as state:
            state.closed = True
            end = state.end
        return list(self.ids[end:])


@dataclass
class Stealing:
    group: GroupPlan
    shard: int
    directory: Path
    """``<workspace>/.drover-steal/<namespace>/<group key>``."""
    rerun: bool = False
    """This shard's board was started by an earlier pod: run everything, offer and take nothing."""
    taken: list[str] = field(default_factory=list)
    """What this worker took from peers (kept on disk, for a pod retried after it died)."""
    _offers: dict[Path, _Offer] = field(default_factory=dict)
    _batches: int = 0
    _claims_seen: dict[Path, tuple[int, float, float]] = field(default_factory=dict)
    """Each board's last claim (its ``pos`` and ``at``) and when this worker first saw it."""

    @classmethod
    def prepare(
        cls, group: GroupPlan, shard: int, workspace: Path, namespace: str
    ) -> Stealing | None:
        """This worker's part in stealing; None unless ``workspace`` is one Drover prepared."""
        if not (workspace / READY_MARKER).is_file():
            return None
        directory = workspace / STEAL_BOARDS / namespace / _safe(group.key)
        directory.mkdir(parents=True, exist_ok=True)
        stealing = cls(group, shard, directory)
        own = stealing._plan_offer(shard)
        with locked_board(own.board, len(own.scenarios)) as state:
            stealing.rerun = state.started
            state.started = True
            if stealing.rerun:
                state.closed = True
        if stealing.rerun:
            stealing.taken = stealing._read_taken()
            for board in directory.glob(f"batch-{shard}-*.board"):  # the dead pod's offers
                with locked_board(board, 0) as state:
                    state.closed = True
        return stealing

    def own_board(self) -> OwnBoard | None:
        """The board to offer the first batch, or None for a rerun."""
        if self.rerun:
            return None
        own = self._plan_offer(self.shard)
        return OwnBoard(own.board, tuple(s.id for s in own.scenarios))

    def offer_taken(self, taken: list[str]) -> OwnBoard:
        """A board for a batch this worker took, so that a peer done sooner than foreseen can
        take part of it in turn (a tail heavier than the peer's pace said)."""
        name = f"batch-{self.shard}-{self._batches}"
        self._batches += 1
        ids_file = self.directory / f"{name}.ids"
        _write_atomically(ids_file, json.dumps(taken))
        board = self.directory / f"{name}.board"
        with locked_board(board, len(taken)) as state:
            state.started = True
        return OwnBoard(board, tuple(taken))

    def take(self, overhead: float, linger: float, pace: float = 0.0) -> list[str]:
        """The tail of the busiest peer's remaining scenarios, or this worker's share of the
        shards of peers whose pods have not started, or none when no take would save time.
        While a peer still has scenarios to spare but no take is worth it yet (it has not
        started its first test, or its tests may be slower than they have looked so far), look
        again for up to ``linger`` seconds.

        ``overhead``: seconds a new session of this worker costs besides its tests. ``pace``:
        seconds a scenario of its own shard took: what a peer's scenario is reckoned to take
        when the peer has not started and its plan has no durations."""
        if self.rerun:
            return []
        overhead = max(overhead, MIN_OVERHEAD_SECONDS)
        deadline = time.monotonic() + linger
        while True:
            offers = self._peer_offers()
            stolen, spare = self._take_once(offers, overhead, pace)
            if stolen or not spare or time.monotonic() >= deadline:
                return stolen
            time.sleep(min(POLL_SECONDS, POLL_SECONDS_PER_BOARD * len(offers)))

    def _take_once(
        self, offers: list[_Offer], overhead: float, pace: float
    ) -> tuple[list[str], bool]:
        """What one look takes, and whether some peer still has scenarios to spare: the tail
        of the busiest peer, or this worker's share of the shards whose pods have not started,
        whichever holds more time."""
        worth = overhead + 2 * MIN_GAIN_SECONDS
        best: tuple[float, _Offer] | None = None
        spare = False
        waiting: list[tuple[_Offer, float]] = []
        running = 1  # this worker, and the peers still in their own shards
        for offer in offers:
            state = _peek(offer)
            if not state.started:
                if state.remaining:
                    waiting.append((offer, _unstarted_seconds(offer, state, pace)))
                continue
            if offer.board.name.startswith("shard-") and not state.closed:
                running += 1
            if state.remaining >= 2:
                spare = True
                seconds = _remaining_seconds(offer, state, overhead, self._in_claim(offer, state))
                if seconds > worth and (best is None or seconds > best[0]):
                    best = (seconds, offer)
        shards, planned = _share_of_waiting(waiting, running)
        if planned > MIN_GAIN_SECONDS and (best is None or planned >= best[0]):
            return self._take_waiting(shards), spare
        if best is None:
            return [], spare
        offer = best[1]
        with locked_board(offer.board, len(offer.scenarios)) as state:
            if not state.started:
                return [], True
            seconds = _remaining_seconds(offer, state, overhead, self._in_claim(offer, state))
            if seconds <= worth:
                return [], True
            # Both end together when the peer keeps (remaining + overhead) / 2 of the time.
            count = _tail_count(offer, state, (seconds - overhead) / 2 / seconds)
            count = _at_a_file_start([s.id for s in offer.scenarios], state.end, count)
            if count < 1:
                return [], True
            state.end -= count
            stolen = [s.id for s in offer.scenarios[state.end : state.end + count]]
        self._record_taken(stolen)
        return stolen, True

    def _in_claim(self, offer: _Offer, state: BoardState) -> float:
        """How long this worker has seen the owner of ``offer`` in its last claim: by this
        worker's own clock, as pods on different nodes may not agree on the time of day."""
        now = time.monotonic()
        seen = self._claims_seen.get(offer.board)
        if seen is None or seen[:2] != (state.pos, state.at):
            seen = self._claims_seen[offer.board] = (state.pos, state.at, now)
        return now - seen[2]

    def _take_waiting(self, offers: list[_Offer]) -> list[str]:
        """The whole shards of ``offers``, whose pods have not started (a pod that started
        meanwhile keeps what is left of its own); their pods, when they start, run nothing."""
        stolen: list[str] = []
        for offer in offers:
            with locked_board(offer.board, len(offer.scenarios)) as state:
                if state.started or not state.remaining:
                    continue
                stolen += [s.id for s in offer.scenarios[state.pos : state.end]]
                state.end = state.pos
        self._record_taken(stolen)
        return stolen

    def _record_taken(self, stolen: list[str]) -> None:
        """Kept on disk: a pod retried after this one died runs them (see :meth:`prepare`)."""
        if stolen:
            self.taken.extend(stolen)
            _write_atomically(self._taken_file(), json.dumps(self.taken))

    def _peer_offers(self) -> list[_Offer]:
        """Every peer's shard, and the batches peers took and offer in turn."""
        offers = [self._plan_offer(p) for p in range(self.group.threads) if p != self.shard]
        for board in sorted(self.directory.glob("batch-*.board")):
            if not board.name.startswith(f"batch-{self.shard}-"):
                offer = self._batch_offer(board)
                if offer is not None:
                    offers.append(offer)
        return offers

    def _plan_offer(self, shard: int) -> _Offer:
        """A shard's board; its positions number the plan's scenarios, duplicates dropped."""
        board = self.directory / f"shard-{shard}.json"
        if board not in self._offers:
            seen: dict[str, _Planned] = {}
            for scenario in self.group.shard(shard):
                seen.setdefault(scenario.id, _Planned(scenario.id, scenario.duration))
            self._offers[board] = _Offer(board, tuple(seen.values()))
        return self._offers[board]

    def _batch_offer(self, board: Path) -> _Offer | None:
        """A taken batch's board; its ids are in the file beside it, written before it."""
        if board not in self._offers:
            try:
                ids = json.loads(board.with_suffix(".ids").read_text("utf-8"))
            except (OSError, ValueError):
                return None
            planned = {s.id: s.duration for shard in self.group.workers.values() for s in shard}
            scenarios = tuple(_Planned(str(i), planned.get(str(i))) for i in ids)
            self._offers[board] = _Offer(board, scenarios)
        return self._offers[board]

    def _taken_file(self) -> Path:
        return self.directory / f"taken-by-{self.shard}.json"

    def _read_taken(self) -> list[str]:
        try:
            document = json.loads(self._taken_file().read_text("utf-8"))
        except (OSError, ValueError):
            return []
        return [str(i) for i in document] if isinstance(document, list) else []


@dataclass(frozen=True)
class _Planned:
    id: str
    duration: float | None


@dataclass(frozen=True)
class _Offer:
    """A board peers may take from, and the scenarios its positions number."""

    board: Path
    scenarios: tuple[_Planned, ...]


def _peek(offer: _Offer) -> BoardState:
    """A board without taking its lock (to choose only; a take reads it again, locked)."""
    try:
        return parse_board(offer.board.read_bytes(), len(offer.scenarios))
    except (OSError, ValueError, KeyError, TypeError):
        return BoardState(total=len(offer.scenarios))


def _remaining_seconds(
    offer: _Offer, state: BoardState, overhead: float, in_claim: float
) -> float:
    """How long the owner still needs for what it has not claimed: its planned durations scaled
    by how its session compares with them so far, else its pace so far (the test it is in
    counts as long as it has run); 0 while neither is known. Its session's start-up and
    collection, behind it, count in neither.

    Without planned durations, a test the owner has been seen in (``in_claim``: one claim) for
    longer than the thief's ``overhead`` sets the pace of its remaining ones: slow tests come in
    clusters (a file of subprocess or network tests), which an average over the fast ones
    before them would hide until the cluster is nearly done. Were the rest fast after all, the
    thief's session ends about when that test would, if it needs about as long again as it has
    run (the usual guess for heavy-tailed durations), so the take costs the group little."""
    if state.remaining <= 0:
        return 0.0
    spent = 0.0
    if state.pos:
        spent = state.elapsed + max(time.time() - state.at, 0.0) - (state.first or 0.0)
    planned = [s.duration for s in offer.scenarios]
    if all(d is not None for d in planned):
        known = [d for d in planned if d is not None]
        ahead, done = sum(known[state.pos : state.end]), sum(known[: state.pos])
        scale = min(max(spent / done, 0.5), 4.0) if spent and done > 0 else 1.0
        return ahead * scale
    pace = spent / state.pos if spent else 0.0
    if state.pos and in_claim >= overhead:  # before its first claim the owner is starting up
        pace = max(pace, in_claim)
    return state.remaining * pace


def _unstarted_seconds(offer: _Offer, state: BoardState, pace: float) -> float:
    """How long the scenarios of a peer that has not started would take: their planned
    durations, else ``pace`` each."""
    planned = [s.duration for s in offer.scenarios[state.pos : state.end]]
    if planned and all(d is not None for d in planned):
        return sum(d for d in planned if d is not None)
    return state.remaining * pace


def _share_of_waiting(
    waiting: list[tuple[_Offer, float]], running: int
) -> tuple[list[_Offer], float]:
    """Whole waiting shards, in plan order, until they make one running worker's share of all
    of them (their time over ``running``), and their time. Three workers on two cores: the
    one waiting shard. Fifty workers of short tests on two cores: half of the 48 waiting
    shards, one session's worth, where each would otherwise start a session of its own pod,
    one after the other."""
    share = sum(seconds for _, seconds in waiting) / max(running, 1)
    chosen, planned = [], 0.0
    for offer, seconds in waiting:
        if planned >= share:
            break
        chosen.append(offer)
        planned += seconds
    return chosen, planned


def _tail_count(offer: _Offer, state: BoardState, share: float) -> int:
    """How many scenarios from the end of the owner's remaining ones make ``share`` of its
    remaining time: by planned durations when it has them, else by count."""
    planned = [s.duration for s in offer.scenarios[state.pos : state.end]]
    if not all(d is not None for d in planned) or not any(planned):
        return int(state.remaining * share)
    known = [d for d in planned if d is not None]
    target, tail, count = sum(known) * share, 0.0, 0
    for duration in reversed(known[1:]):  # the owner keeps at least one
        if tail + duration / 2 > target:
            break
        tail += duration
        count += 1
    return count


def _at_a_file_start(ids: Sequence[str], end: int, count: int) -> int:
    """``count`` shortened so that the take ``ids[end - count : end]`` starts a file, when that
    keeps at least half of it: the owner and the thief then seldom run tests of one module at
    the same time (its fixtures may share files or a port, as under pytest-xdist's ``load``)."""
    aligned = count
    while 0 < aligned < end and _file(ids[end - aligned]) == _file(ids[end - aligned - 1]):
        aligned -= 1
    return aligned if 2 * aligned >= count else count


def _file(scenario_id: str) -> str:
    return scenario_id.partition("::")[0]


def _write_atomically(path: Path, text: str) -> None:
    scratch = path.with_name(f"{path.name}.{os.getpid()}")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)
