"""The clocks as they were when Drover's code was imported, for what it measures and writes
inside a project's pytest (test costs, steal-board claims).

A project's tests may replace ``time.time`` for a while (unittest.mock, testfixtures'
``Replacer``: testfixtures' own docs leave a ``Mock`` there across several examples, and a
claim then wrote a ``Mock`` into JSON), or freeze time (freezegun swaps every module-level
alias of the real functions while a test runs). Held as attributes of a class, the real
functions are out of reach of both.

Standard library only: the agent and its pytest plugin share it.
"""

from __future__ import annotations

import time

__all__ = ["RealClock"]


class RealClock:
    wall = staticmethod(time.time)
    perf = staticmethod(time.perf_counter)
    monotonic = staticmethod(time.monotonic)
