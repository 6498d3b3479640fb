"""Follow the pytest plugin's line file while pytest runs, and hand on each scenario's result.

Only a test whose node id *is* a scenario id is reported live (allowing for a pytest rootdir
above or below the workspace, which shifts node ids by leading directories). A scenario that
stands for several tests (a file, a class, a parametrized function) is known only when its batch
ends, from the session's record, like the results of the other runners.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from drover_agent.pytest_protocol import LIVE_RESULTS_ENV
from drover_agent.results import STATUSES, ScenarioResult, read_cost, read_properties

__all__ = ["LiveFeed", "live_runner_env", "scenario_index"]

POLL_SECONDS = 0.1


def live_runner_env(env: Mapping[str, str], lines_file: Path) -> dict[str, str]:
    """The runner's environment with the plugin told where to write (the pytest adapter loads
    the plugin into every pytest it starts; without this variable it reports nothing live)."""
    return {**env, LIVE_RESULTS_ENV: str(lines_file)}


def _path_suffixes(node: str) -> Iterator[str]:
    """``a/b/t.py::x`` → ``b/t.py::x``, ``t.py::x``: the id seen from deeper rootdirs."""
    path, separator, rest = node.partition("::")
    parts = path.split("/")
    for start in range(1, len(parts)):
        yield "/".join(parts[start:]) + separator + rest


def scenario_index(scenario_ids: Iterable[str]) -> dict[str, str]:
    """Node id → scenario id: every id itself, plus its unambiguous shorter forms."""
    index: dict[str, str] = {}
    ambiguous: set[str] = set()
    ids = list(scenario_ids)
    for scenario_id in ids:
        for suffix in _path_suffixes(scenario_id):
            if index.get(suffix, scenario_id) != scenario_id:
                ambiguous.add(suffix)
            index[suffix] = scenario_id
    for suffix in ambiguous:
        del index[suffix]
    index.update({s: s for s in ids})
    return index


class LiveFeed:
    """A thread reading new lines of ``path`` and calling ``on_result`` for known scenarios."""

    def __init__(self, path: Path, on_result: Callable[[ScenarioResult], None]) -> None:
        self.path = path
        self.on_result = on_result
        self._index: dict[str, str] = {}
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="drover-live", daemon=True)

    def __enter__(self) -> LiveFeed:
        self.path.unlink(missing_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.read_new_lines()

    def expect(self, scenario_ids: Iterable[str]) -> None:
        """Scenarios of the next batch (queue mode adds a batch at a time)."""
        index = scenario_index(scenario_ids)
        with self._lock:
            self._index.update(index)

    def read_new_lines(self) -> None:
        with self._lock:
            try:
                with self.path.open("rb") as handle:
                    handle.seek(self._offset)
                    chunk = handle.read()
            except FileNotFoundError:
                return
            self._offset += len(chunk)
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            results = [r for r in map(self._result, lines) if r is not None]
        for result in results:
            self.on_result(result)

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.read_new_lines()
            except Exception as exc:  # a broken line or callback must not end live reporting
                print(f"drover-agent: live results: {exc!r}", flush=True)

    def _result(self, raw: bytes) -> ScenarioResult | None:
        try:
            line: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(line, dict) or line.get("status") not in STATUSES:
            return None
        node = str(line.get("nodeid", ""))
        scenario_id = self._index.get(node) or next(
            (self._index[s] for s in _path_suffixes(node) if s in self._index), None
        )
        if scenario_id is None:
            return None
        error = line.get("error")
        return ScenarioResult(
            id=scenario_id,
            status=line["status"],
            duration=float(line.get("duration") or 0.0),
            attempt=int(line.get("attempt") or 1),
            error=str(error) if error else None,
            cost=read_cost(line.get("cost")),
            properties=read_properties(line.get("properties")),
        )
