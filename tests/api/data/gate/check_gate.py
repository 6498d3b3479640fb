"""Two tests that pass at once, and one that waits for a gate file (``GATE`` test data) to
exist: runs of it stay Running until the test opens the gate (or stops the run)."""

import os
import time
from pathlib import Path


def test_quick_one() -> None:
    assert True


def test_quick_two() -> None:
    assert True


def test_waits_for_the_gate() -> None:
    gate = Path(os.environ.get("GATE", "/nonexistent"))
    deadline = time.monotonic() + 60
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gate.exists()


def test_also_waits_for_the_gate() -> None:
    test_waits_for_the_gate()
