"""A command's start-up and end: what start-up makes is frozen, the collector's state kept; a
finished command leaves without the interpreter's teardown, losing no output and no handler."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.lifetime import long_lived_objects


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def test_objects_made_at_start_up_are_not_collected_again() -> None:
    gc.enable()
    with long_lived_objects():
        assert not gc.isenabled()  # no collection while the start-up builds them
        made = [[n] for n in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)  # in the permanent generation


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    with long_lived_objects():
        pass
    assert not gc.isenabled()


def test_the_collector_comes_back_when_start_up_fails() -> None:
    gc.enable()
    with pytest.raises(ImportError), long_lived_objects():
        raise ImportError("no such module")
    assert gc.isenabled()


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_finished_command_ends_at_once_with_its_output_and_exit_handlers(
    tmp_path: Path,
) -> None:
    ended = _python(
        """
        import atexit, pathlib, sys
        from engine.cli.lifetime import end_process
        atexit.register(pathlib.Path(sys.argv[1], "handler-ran").touch)
        print("written, not yet flushed", end="")
        big = [{"n": n} for n in range(100_000)]  # not freed one by one
        end_process(3)
        print("not reached")
        """,
        tmp_path,
    )
    assert ended.returncode == 3
    assert ended.stdout == "written, not yet flushed"
    assert (tmp_path / "handler-ran").exists()


def test_a_message_as_the_exit_code_is_printed_and_exits_1(tmp_path: Path) -> None:
    ended = _python(
        "from engine.cli.lifetime import end_process; end_process('no such spec')", tmp_path
    )
    assert (ended.returncode, ended.stderr) == (1, "no such spec\n")


def test_the_interpreter_still_waits_for_a_thread_that_runs(tmp_path: Path) -> None:
    ended = _python(
        """
        import pathlib, sys, threading, time
        from engine.cli.lifetime import end_process
        def work():
            time.sleep(0.5)
            pathlib.Path(sys.argv[1], "thread-done").touch()
        threading.Thread(target=work).start()
        end_process(0)
        print("returned")
        """,
        tmp_path,
    )
    assert (ended.returncode, ended.stdout) == (0, "returned\n")
    assert (tmp_path / "thread-done").exists()
