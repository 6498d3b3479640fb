"""One test that sleeps: runs of it stay Running until terminated (scheduler tests)."""

import time


def test_sleeps() -> None:
    time.sleep(20)
