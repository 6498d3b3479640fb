"""The cyclic garbage collector and a command's start-up and exit.

A command's start-up (importing the service: Hera's ~400 model classes, SQLAlchemy, pydantic)
makes objects that live until the process ends. Python's collector walks them again at every
full collection while they are made, and once more as the interpreter exits: ~0.1 s and ~0.2 s
of a ``drover run`` here (the one-test line of ``bench/real_suites.py``). Moving them to the
permanent generation (:func:`gc.freeze`) spares both; what the command makes afterwards is
collected as usual.

After the command, the interpreter's teardown frees every module and object one by one, memory
the process's end gives back whole anyway: 0.08 s of ``drover compile`` for a 100,000-scenario
spec. :func:`end_process` skips it, the way :mod:`multiprocessing` ends its children.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["end_process", "leave_without_collecting", "long_lived_objects"]


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


def end_process(code: object) -> None:
    """Exit with ``code`` (a ``SystemExit`` code) now, after the ``atexit`` handlers and with the
    output flushed, skipping the interpreter's teardown. Returns, leaving the usual exit to the
    caller, while another thread the interpreter would wait for still runs, or when the output
    cannot be flushed (a closed pipe: the interpreter reports that as it always does)."""
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    os._exit(_exit_status(code))


def _exit_status(code: object) -> int:
    """What the interpreter would exit with for ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr, flush=True)
    return 1
