"""Ctrl-C (and SIGTERM) while ``drover run`` follows a run: end the run, never orphan it.

The first Ctrl-C stops the run as ``argo stop`` does (running pods are ended, exit handlers
still run), the second terminates it (no exit handlers); SIGTERM or SIGHUP terminate at once.
``drover run`` keeps following until the runner has ended every pod, then exits 130 (Ctrl-C) or
128 + the signal's number. The handler only counts; the follow loop acts (``apply``), so no
database or file work happens inside a signal handler.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["RunInterrupts"]

_ENDING = (signal.SIGTERM, signal.SIGHUP)


class RunInterrupts:
    """Counts interrupts while installed; ``apply`` turns them into stop/terminate requests.

    ``control(action)`` asks the backend to ``stop`` or ``terminate`` the run (it may raise
    when the run has just finished); ``say(text)`` tells the user what is happening.
    ``immediate``: act inside the signal handler, for a run this very thread executes (it has
    no loop of its own to call ``apply``; ``control`` must then only write a request), once
    ``ready()`` says the run exists.
    """

    def __init__(
        self,
        control: Callable[[str], None],
        say: Callable[[str], None],
        *,
        immediate: bool = False,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.control = control
        self.say = say
        self.immediate = immediate
        self.ready = ready
        self.interrupts = 0
        self.signal: int | None = None
        """The first signal received (SIGINT, SIGTERM, SIGHUP), None while none came."""
        self._done = 0
        self._previous: dict[int, Any] = {}
        self._requested: str | None = None

    def __enter__(self) -> RunInterrupts:
        for sig in (signal.SIGINT, *_ENDING):
            self._previous[sig] = signal.signal(sig, self._count)
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _count(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = self.signal or signum
        # Ctrl-C stops, then terminates; a request to end the process terminates at once.
        self.interrupts += 1 if signum == signal.SIGINT else 2
        if self.immediate:
            self.apply()

    def receive(self, signum: int) -> None:
        """A signal another process received for this run (``drover run``, for the local
        service that runs it): counted as if it had come here."""
        self._count(signum, None)

    @property
    def exit_code(self) -> int | None:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return None if self.signal is None else 128 + self.signal

    @property
    def ended(self) -> str | None:
        """How the run was ended, for the summary: ``Stopped``, ``Terminated`` or None (it
        ended by itself, or had ended before the request)."""
        return {"stop": "Stopped", "terminate": "Terminated"}.get(self._requested or "")

    def apply(self) -> None:
        """Ask for what the interrupts so far asked for and was not asked for yet."""
        while self._done < min(self.interrupts, 3) and self.ready():
            self._done += 1
            if self._done == 1 and self.interrupts == 1:
                self.say(
                    "stopping the run: running pods end, exit handlers still run "
                    "(press Ctrl-C again to terminate)"
                )
                self._request("stop")
            elif self._done <= 2:
                self._done = 2
                self.say("terminating the run: pods are killed, no exit handlers run")
                self._request("terminate")
            else:
                self.say("still terminating: waiting for the runner to end its pods")

    def _request(self, action: str) -> None:
        try:
            self.control(action)
        except Exception as exc:  # e.g. it finished meanwhile: nothing is left to end
            self.say(f"could not {action} the run: {exc}")
        else:
            self._requested = action
