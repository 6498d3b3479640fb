"""The pure parts of what ``drover run`` says: verdicts, error headlines, interrupts."""

from __future__ import annotations

import os
import signal

import pytest

from engine.cli.interrupts import RunInterrupts
from engine.cli.run_view import error_headline, verdict
from engine.errors import Conflict

FIXTURE_NOT_FOUND = (
    'failed on setup with "file /workspace/test_bad.py, line 9\n'
    "  def test_fixture_missing(missing_fixture):\n"
    "E       fixture 'missing_fixture' not found\n"
    ">       available fixtures: cache, capfd\n"
    ">       use 'pytest --fixtures [testpath]' for help on them.\n"
    '\n/workspace/test_bad.py:9"'
)
CHAINED = """\
    def test_x():
        try:
>           int("x")
E           ValueError: invalid literal for int() with base 10: 'x'

During handling of the above exception, another exception occurred:

>       raise RuntimeError("could not parse")
E       RuntimeError: could not parse
E       (and more)

test_x.py:7: RuntimeError"""


@pytest.mark.parametrize(
    ("error", "headline"),
    [
        ("assert 1 == 2", "assert 1 == 2"),
        ('failed on setup with "ValueError: boom"', 'failed on setup with "ValueError: boom"'),
        (FIXTURE_NOT_FOUND, "failed on setup: E       fixture 'missing_fixture' not found"),
        (CHAINED, "E       RuntimeError: could not parse"),
        ("\n\n  first line\nsecond", "first line"),
        (None, ""),
    ],
)
def test_error_headline(error: str | None, headline: str) -> None:
    assert error_headline(error) == headline


def test_verdict_names_what_needs_attention_first() -> None:
    counts = {"passed": 23, "failed": 1, "error": 1, "skipped": 0, "not_run": 2}
    assert verdict(counts, ok=False) == "Failed — 1 failed, 1 error, 2 not run, 23 passed"
    assert verdict({"passed": 3, "skipped": 1}, ok=True) == "Passed — 3 passed, 1 skipped"
    assert verdict({}, ok=True, ended="Stopped") == "Stopped — no scenarios"


def _interrupts() -> tuple[RunInterrupts, list[str], list[str]]:
    asked: list[str] = []
    said: list[str] = []
    return RunInterrupts(asked.append, said.append), asked, said


def test_the_first_ctrl_c_stops_and_the_second_terminates() -> None:
    interrupts, asked, said = _interrupts()
    before = signal.getsignal(signal.SIGINT)  # ignored when the tests run as a background job
    with interrupts:
        interrupts.apply()
        assert asked == [] and interrupts.exit_code is None and interrupts.ended is None
        os.kill(os.getpid(), signal.SIGINT)
        interrupts.apply()
        assert asked == ["stop"] and "press Ctrl-C again to terminate" in said[-1]
        assert interrupts.ended == "Stopped"
        os.kill(os.getpid(), signal.SIGINT)
        interrupts.apply()
        interrupts.apply()  # nothing new: asked once
        assert asked == ["stop", "terminate"] and interrupts.ended == "Terminated"
        os.kill(os.getpid(), signal.SIGINT)
        interrupts.apply()
        assert asked == ["stop", "terminate"] and "still terminating" in said[-1]
    assert interrupts.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_sigterm_terminates_at_once() -> None:
    interrupts, asked, _ = _interrupts()
    with interrupts:
        os.kill(os.getpid(), signal.SIGTERM)
        interrupts.apply()
    assert asked == ["terminate"] and interrupts.exit_code == 128 + signal.SIGTERM


def test_a_run_that_finished_meanwhile_is_not_called_stopped() -> None:
    said: list[str] = []

    def finished(action: str) -> None:
        raise Conflict("the run has already finished (Succeeded)")

    interrupts = RunInterrupts(finished, said.append)
    with interrupts:
        os.kill(os.getpid(), signal.SIGINT)
        interrupts.apply()
    assert interrupts.ended is None and "already finished" in said[-1]
