"""Work stealing: two real agents share a prepared workspace; the one done first takes the tail
of the other's shard, and every scenario is run and reported exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agent_plans import AGENT_DIR, RunAgent, read_results, write_plan
from drover_agent.plan import GroupPlan, PlanScenario
from drover_agent.steal_board import locked_board
from drover_agent.stealing import Stealing, _at_a_file_start
from drover_agent.workspace import READY_MARKER

SLOW = [f"test_slow.py::test_sleeps[{i}]" for i in range(16)]
FAST = ["test_fast.py::test_quick"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "test_slow.py").write_text(
        "import time\n\nimport pytest\n\n\n"
        "@pytest.mark.parametrize('i', range(16))\n"
        "def test_sleeps(i):\n    time.sleep(0.5)\n"
    )
    (root / "test_fast.py").write_text("def test_quick():\n    pass\n")
    return root


def _start(plan: Path, workspace: Path, shard: int, results: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(AGENT_DIR), "DROVER_WORKER": f"wf-1/main.all/{shard}"}
    return subprocess.Popen(
        [sys.executable, "-m", "drover_agent", "run", "--plan-dir", str(plan),
         "--workspace", str(workspace), "--shard", f"main.all/{shard}",
         "--results", str(results)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _board_started(board: Path) -> bool:
    try:
        return bool(json.loads(board.read_text())["started"])
    except (OSError, ValueError, KeyError):
        return False


def _run_group(tmp_path: Path, plan: Path, workspace: Path) -> list[dict[str, Any]]:
    """Both workers of the group; worker 0 starts once worker 1 has started its shard (a peer
    that has not started gives all of it away)."""
    results = [tmp_path / f"results-{shard}.json" for shard in (0, 1)]
    owner = _start(plan, workspace, 1, results[1])
    board = workspace / ".drover-steal" / "wf-1_main.all" / "main.all" / "shard-1.json"
    deadline = time.monotonic() + 60
    while (workspace / READY_MARKER).exists() and not _board_started(board):
        assert time.monotonic() < deadline and owner.poll() is None, "worker 1 did not start"
        time.sleep(0.02)
    agents = [_start(plan, workspace, 0, results[0]), owner]
    outputs = [agent.communicate(timeout=120)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0], outputs
    return [read_results(path) for path in results]


def test_the_idle_worker_takes_the_tail_and_each_scenario_runs_once(
    tmp_path: Path, project: Path, run_agent: RunAgent
) -> None:
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": FAST, "1": SLOW}, path=str(project)
    )
    workspace = tmp_path / "workspace"
    done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace))
    assert done.returncode == 0, done.stderr

    thief, owner = _run_group(tmp_path, plan, workspace)

    taken = [r["id"] for r in thief["results"] if r["id"] in SLOW]
    kept = [r["id"] for r in owner["results"]]
    assert taken, "worker 0 finished at once and took part of worker 1's shard"
    assert kept, "worker 1 ran the front of its own shard"
    assert taken == SLOW[-len(taken) :], "the tail, in plan order"
    assert sorted(kept + taken) == sorted(SLOW), "each scenario reported once, by one worker"
    every = [*thief["results"], *owner["results"]]
    assert {r["status"] for r in every} == {"passed"}
    assert all(r["attempt"] == 1 for r in every)


def test_a_retried_pod_runs_its_whole_shard_and_offers_nothing(
    tmp_path: Path, project: Path, run_agent: RunAgent
) -> None:
    """A pod started again (its predecessor died) finds its board started: it runs everything
    it was planned, and a peer takes nothing from it."""
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": FAST, "1": SLOW}, path=str(project)
    )
    workspace = tmp_path / "workspace"
    assert (
        run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace)).returncode == 0
    )
    boards = workspace / ".drover-steal" / "wf-1_main.all" / "main.all"
    boards.mkdir(parents=True)
    board = {"total": 16, "pos": 3, "end": 16, "started": True, "closed": False, "elapsed": 1.0}
    (boards / "shard-1.json").write_text(json.dumps(board))

    thief, owner = _run_group(tmp_path, plan, workspace)

    assert [r["id"] for r in thief["results"]] == FAST
    assert sorted(r["id"] for r in owner["results"]) == sorted(SLOW)


def test_a_workspace_setup_env_did_not_prepare_gets_no_boards(
    tmp_path: Path, project: Path, run_agent: RunAgent
) -> None:
    """The agent pointed at a directory of the user's own writes nothing into it."""
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": FAST, "1": SLOW[:4]}, path=str(project)
    )
    _, owner = _run_group(tmp_path, plan, project)
    assert [r["id"] for r in owner["results"]] == SLOW[:4]
    assert not (project / ".drover-steal").exists()


def test_a_peer_whose_pod_has_not_started_gives_its_whole_shard_away(
    tmp_path: Path, project: Path, run_agent: RunAgent
) -> None:
    """Three workers on two cores: the third pod waits Pending. A worker done with its own
    shard takes all of the waiting peer's, and that peer's pod, started at last, finds nothing
    left and runs no pytest session; every scenario is reported once."""
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": FAST, "1": SLOW}, path=str(project)
    )
    workspace = tmp_path / "workspace"
    assert (
        run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace)).returncode == 0
    )
    outputs, results = [], []
    for shard in (0, 1):  # one after the other: worker 1's pod starts when worker 0's ends
        results.append(tmp_path / f"results-{shard}.json")
        agent = _start(plan, workspace, shard, results[-1])
        outputs.append(agent.communicate(timeout=120)[0])
        assert agent.returncode == 0, outputs[-1]

    thief, owner = (read_results(path)["results"] for path in results)
    assert [r["id"] for r in thief] == [*FAST, *SLOW], outputs[0]
    assert {r["status"] for r in thief} == {"passed"}
    assert owner == []
    assert "-m pytest" not in outputs[1], "no session for a shard peers ran"


def test_a_waiting_peer_s_shard_is_taken_only_when_it_is_worth_a_session(tmp_path: Path) -> None:
    """A peer that has not started is reckoned by its planned durations, else by the thief's
    own pace; its whole shard is taken when that is worth more than a second."""
    group = GroupPlan(
        key="main.all", flow="main", name="all", threads=2, strategy="count", retries=0,
        scenario_timeout=None,
        workers={0: [PlanScenario("a")], 1: [PlanScenario(f"b{i}") for i in range(6)]},
    )  # fmt: skip
    (tmp_path / READY_MARKER).write_text("")
    thief = Stealing.prepare(group, 0, tmp_path, "wf")
    assert thief is not None
    assert thief.take(overhead=0.5, linger=0, pace=0.1) == [], "0.6 s: not worth it"
    assert thief.take(overhead=0.5, linger=0, pace=0.5) == [f"b{i}" for i in range(6)]

    peer = Stealing.prepare(group, 1, tmp_path, "wf")
    assert peer is not None and not peer.rerun, "taken from, but never started"
    own = peer.own_board()
    assert own is not None
    assert own.close_if_all_taken(list(own.ids)) == list(own.ids)
    assert thief.take(overhead=0.5, linger=0, pace=0.5) == []


def test_waiting_shards_too_small_alone_are_taken_together_as_a_share(tmp_path: Path) -> None:
    """Fifty workers on two cores: 48 pods wait Pending, each shard half a second of work, none
    worth a session alone. A worker done with its own takes whole waiting shards, in plan
    order, until they make its share of all of them (here half: one peer is still in its own
    shard), in one batch; the other running worker takes the rest the same way."""
    group = GroupPlan(
        key="main.all", flow="main", name="all", threads=50, strategy="count", retries=0,
        scenario_timeout=None,
        workers={w: [PlanScenario(f"s{w}-{i}") for i in range(5)] for w in range(50)},
    )  # fmt: skip
    (tmp_path / READY_MARKER).write_text("")
    thief, peer = (Stealing.prepare(group, shard, tmp_path, "wf") for shard in (0, 1))
    assert thief is not None and peer is not None
    own = thief.own_board()
    assert own is not None and own.close() == []  # done with its own shard; the peer is not

    taken = thief.take(overhead=0.5, linger=0, pace=0.1)
    assert taken == [f"s{w}-{i}" for w in range(2, 26) for i in range(5)]
    own_of_peer = peer.own_board()
    assert own_of_peer is not None and own_of_peer.close() == []
    assert peer.take(overhead=0.5, linger=0, pace=0.1) == [
        f"s{w}-{i}" for w in range(26, 50) for i in range(5)
    ]
    late = Stealing.prepare(group, 30, tmp_path, "wf")  # its pod starts at last
    assert late is not None
    board = late.own_board()
    assert board is not None and board.close_if_all_taken(list(board.ids)) == list(board.ids)


def test_waiting_shards_are_not_taken_when_the_share_is_not_worth_a_session(
    tmp_path: Path,
) -> None:
    group = GroupPlan(
        key="main.all", flow="main", name="all", threads=3, strategy="count", retries=0,
        scenario_timeout=None, workers={w: [PlanScenario(f"s{w}-{i}") for i in range(3)]
                                         for w in range(3)},
    )  # fmt: skip
    (tmp_path / READY_MARKER).write_text("")
    thief = Stealing.prepare(group, 0, tmp_path, "wf")
    assert thief is not None
    assert thief.take(overhead=0.5, linger=0, pace=0.15) == [], "0.9 s in all: not worth it"
    assert thief.take(overhead=0.5, linger=0, pace=0.2) == [f"s{w}-{i}" for w in (1, 2)
                                                            for i in range(3)]  # fmt: skip


def test_a_retried_thief_runs_again_what_its_predecessor_took(
    tmp_path: Path, project: Path, run_agent: RunAgent
) -> None:
    """The scenarios a dead pod took from a peer are its shard's now: its retry runs them."""
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": FAST, "1": SLOW[:4]}, path=str(project)
    )
    workspace = tmp_path / "workspace"
    assert (
        run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace)).returncode == 0
    )
    boards = workspace / ".drover-steal" / "wf-1_main.all" / "main.all"
    boards.mkdir(parents=True)
    started = {"pos": 1, "started": True, "elapsed": 0.1}
    (boards / "shard-0.json").write_text(json.dumps({**started, "total": 1, "end": 1,
                                                     "closed": True}))  # fmt: skip
    (boards / "shard-1.json").write_text(json.dumps({**started, "total": 4, "end": 2,
                                                     "closed": True}))  # fmt: skip
    (boards / "taken-by-0.json").write_text(json.dumps(SLOW[2:4]))

    results = tmp_path / "results-0.json"
    agent = _start(plan, workspace, 0, results)
    output = agent.communicate(timeout=120)[0]
    assert agent.returncode == 0, output
    assert [r["id"] for r in read_results(results)["results"]] == [*FAST, *SLOW[2:4]]


def _two_workers(workspace: Path, durations: list[float | None]) -> tuple[Stealing, Stealing]:
    """Worker 1 with scenarios b0, b1, ... of these planned durations, and worker 0 with one,
    in a workspace setup-env prepared."""
    worker_1 = [PlanScenario(f"b{i}", duration=d) for i, d in enumerate(durations)]
    group = GroupPlan(
        key="main.all", flow="main", name="all", threads=2, strategy="duration", retries=0,
        scenario_timeout=None, workers={0: [PlanScenario("a")], 1: worker_1},
    )  # fmt: skip
    (workspace / READY_MARKER).write_text("")
    workers = [Stealing.prepare(group, shard, workspace, "wf") for shard in (1, 0)]
    assert workers[0] is not None and workers[1] is not None
    return workers[0], workers[1]


def test_a_take_is_cut_on_the_peers_planned_durations(tmp_path: Path) -> None:
    """With planned durations the thief takes the tail worth half the peer's remaining time
    (here its one long scenario), not half its remaining count."""
    peer, thief = _two_workers(tmp_path, [1.0] * 6 + [6.0])
    board = peer.own_board()
    assert board is not None
    board.path.write_text(json.dumps({"total": 7, "pos": 1, "end": 7, "started": True,
                                      "closed": False, "elapsed": 1.0, "at": time.time()}))  # fmt: skip

    assert thief.take(overhead=0.5, linger=0) == ["b6"]
    assert board.close() == ["b6"], "the peer leaves it to the thief"
    assert thief.take(overhead=0.5, linger=0) == [], "a closed board offers nothing"


def _unplanned_peer(tmp_path: Path, pos: int) -> tuple[Stealing, Path, dict[str, Any]]:
    """A thief, and the board of its peer of 100 scenarios without planned durations: the peer
    claimed ``pos`` of them just now, 0.5 s of tests after 2.5 s of start-up."""
    peer, thief = _two_workers(tmp_path, [None] * 100)
    board = peer.own_board()
    assert board is not None
    state = {"total": 100, "pos": pos, "end": 100, "started": True, "closed": False,
             "elapsed": 3.0, "at": time.time(), "first": 2.5}  # fmt: skip
    board.path.write_text(json.dumps(state))
    return thief, board.path, state


def test_a_peer_s_pace_leaves_out_its_session_s_start_up(tmp_path: Path) -> None:
    """No durations planned: a peer that collected for 2.5 s, then ran 50 short tests in 0.5 s,
    has ~0.5 s left, not the 3 s its whole session's pace says; that is worth no session.
    Once its remaining tests are reckoned at the pace of a slow one, the take is half."""
    thief, board, state = _unplanned_peer(tmp_path, pos=50)
    assert thief.take(overhead=0.5, linger=0) == []

    board.write_text(json.dumps(state | {"elapsed": 12.5}))  # 10 s for its 50 tests
    taken = thief.take(overhead=0.5, linger=0)
    assert taken == [f"b{i}" for i in range(100 - len(taken), 100)]
    assert 20 <= len(taken) <= 25, "the peer keeps (10 + 0.5) / 2 s of its ~10 s"


def test_a_peer_long_in_one_test_is_reckoned_at_its_pace(tmp_path: Path) -> None:
    """No durations planned: a peer that ran 50 short tests in 0.5 s and is seen in its next one
    for longer than a new session's start-up is in a cluster of slow tests as far as the thief
    can tell; half its remaining tests are taken. Seen there for less, nothing is. That time is
    the thief's own reckoning: the peer's clock (``at``) may be another node's."""
    thief, _, _ = _unplanned_peer(tmp_path, pos=51)
    first_look = time.monotonic()
    assert thief.take(overhead=0.5, linger=0) == [], "just seen in it: no sign of slow ones"

    taken = thief.take(overhead=0.5, linger=5)
    assert time.monotonic() - first_look >= 0.5, "taken once seen in the test for 0.5 s"
    assert taken == [f"b{i}" for i in range(100 - len(taken), 100)]
    assert 23 <= len(taken) <= 25, "the peer keeps its half, and the test it is in"


def test_a_take_starts_at_a_file_when_that_keeps_half_of_it() -> None:
    ids = [f"test_{f}.py::test_{i}" for f, count in (("a", 3), ("b", 4), ("c", 3)) for i in range(count)]  # fmt: skip
    assert _at_a_file_start(ids, 10, 5) == 3, "test_c.py whole, none of test_b.py"
    assert _at_a_file_start(ids, 10, 3) == 3
    assert _at_a_file_start(ids, 10, 8) == 7, "test_b.py and test_c.py"
    assert _at_a_file_start(ids, 7, 2) == 2, "within one file, it is that or nothing"
    assert _at_a_file_start(ids, 10, 0) == 0


def test_a_taken_batch_is_offered_in_turn(tmp_path: Path) -> None:
    """A tail heavier than its owner's pace said: the owner, done first after all, takes part
    of what was taken from it back."""
    owner, thief = _two_workers(tmp_path, [1.0] * 4 + [6.0, 6.0])
    batch = thief.offer_taken(["b2", "b3", "b4", "b5"])
    batch.path.write_text(json.dumps({"total": 4, "pos": 1, "end": 4, "started": True,
                                      "closed": False, "elapsed": 1.0, "at": time.time()}))  # fmt: skip
    own = owner.own_board()
    assert own is not None
    assert own.close() == []  # the owner's shard is done

    assert owner.take(overhead=0.5, linger=0) == ["b5"]
    assert batch.close() == ["b5"]
    assert owner.taken == ["b5"]


def test_a_test_after_one_a_peer_took_is_set_up_as_pytest_would(tmp_path: Path) -> None:
    """Tests need not run in board order (a plugin may reorder them): when the test after one
    that ran was taken by a peer, the module the two shared is torn down before the next test
    that runs, from another module, is set up (pytest refused it: "previous item was not torn
    down properly")."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(
        "def pytest_collection_modifyitems(items):\n    items.sort(key=lambda item: item.name)\n"
    )
    (project / "test_one.py").write_text(
        "from pathlib import Path\n\nimport pytest\n\n\n@pytest.fixture(scope='module')\n"
        "def shared():\n    yield\n    with Path('teardowns.txt').open('a') as f:\n"
        "        f.write('module one\\n')\n\n\n"
        "def test_1(shared):\n    pass\n\n\ndef test_2(shared):\n    pass\n"
    )
    (project / "test_two.py").write_text("def test_3():\n    pass\n")
    # Board order: test_1, test_3, test_2; a peer took the last position (test_2), which runs
    # between the two others.
    ids = ["test_one.py::test_1", "test_two.py::test_3", "test_one.py::test_2"]
    board = tmp_path / "board.json"
    with locked_board(board, len(ids)) as state:
        state.started, state.end = True, 2
    selection = tmp_path / "selection.json"
    selection.write_text(
        json.dumps(
            {
                "ids": ids,
                "paths": ["test_one.py", "test_two.py"],
                "board": {"path": str(board), "total": len(ids), "positions": [0, 1, 2]},
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "drover_agent.pytest_plugin",
         f"--drover-select={selection}", "-p", "no:cacheprovider", "-v"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(AGENT_DIR)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout, done.stdout[-3000:]
    ran = [line.split()[0] for line in done.stdout.splitlines() if " PASSED" in line]
    assert ran == ["test_one.py::test_1", "test_two.py::test_3"], done.stdout[-3000:]
    assert (project / "teardowns.txt").read_text() == "module one\n"


def test_tests_that_replace_the_clocks_leave_claims_and_costs_real(tmp_path: Path) -> None:
    """testfixtures' docs leave a ``Mock`` in ``time.time`` across several examples; freezegun
    swaps the module-level aliases of the real clocks. Claims and costs read the real ones."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_clocks.py").write_text(
        "import time\nfrom unittest.mock import Mock\n\nREAL = {}\n\n\n"
        "def test_replace():\n"
        "    for name in ('time', 'perf_counter', 'monotonic'):\n"
        "        REAL[name] = getattr(time, name)\n"
        "        setattr(time, name, Mock())\n\n\n"
        "def test_while_replaced():\n    assert isinstance(time.time(), Mock)\n\n\n"
        "def test_restore():\n"
        "    for name, real in REAL.items():\n"
        "        setattr(time, name, real)\n"
    )  # fmt: skip
    ids = [f"test_clocks.py::test_{name}" for name in ("replace", "while_replaced", "restore")]
    board = tmp_path / "board.json"
    progress = tmp_path / "progress.jsonl"
    with locked_board(board, len(ids)) as state:
        state.started = True
    selection = tmp_path / "selection.json"
    selection.write_text(
        json.dumps(
            {
                "ids": ids,
                "paths": ["test_clocks.py"],
                "progress": str(progress),
                "board": {"path": str(board), "total": len(ids), "positions": [0, 1, 2]},
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "drover_agent.pytest_plugin",
         f"--drover-select={selection}", "-p", "no:cacheprovider"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(AGENT_DIR)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 passed" in done.stdout, done.stdout[-3000:]
    claimed = json.loads(board.read_text())
    assert claimed["pos"] == len(ids) and isinstance(claimed["at"], float)
    ended = [json.loads(line) for line in progress.read_text().splitlines()]
    spent = {line["nodeid"]: line["cost"] for line in ended if "cost" in line}
    assert sorted(spent) == sorted(ids)
    assert all(isinstance(cost, float) and cost >= 0 for cost in spent.values())
