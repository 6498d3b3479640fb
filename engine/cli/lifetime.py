"""The cyclic garbage collector and a command's start-up and exit.

A command's start-up (importing the service: Hera's ~400 model classes, SQLAlchemy, pydantic)
makes objects that live until the process ends. Python's collector walks them again at every
full collection while they are made, and once more as the interpreter exits: ~0.1 s and ~0.2 s
of a ``drover run`` here (the one-test line of ``bench/real_suites.py``). Moving them to the
permanent generation (:func:`gc.freeze`) spares both; what the command makes afterwards is
collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["leave_without_collecting", "long_lived_objects"]


@contextmanager
def long_lived_objects() -> Iterator[None]:
    """Everything made inside lives as long as the process: not collected while it is made,
    and never scanned again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def leave_without_collecting() -> None:
    """The process is about to exit: its memory goes back to the system whole, so the
    interpreter's last collection would only walk every object once more."""
    gc.freeze()
