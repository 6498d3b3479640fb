"""Detached runner process: ``python -m engine.backends.local.daemon NAME``.

Started by ``LocalBackend.submit`` in its own session, or ahead of its workflow with
``--standby`` and then handed the workflow's name (:mod:`engine.backends.local.standby`). It
runs the stored workflow to completion, wakes on SIGUSR1 to read control requests and the
machine's node (another runner's scheduling pass bound one of its pods), and treats SIGTERM as
terminate.

Its pods start with the default disposition of every signal, as a container's process does
(container runtimes reset them before the exec: crun's regression containers/crun#2058 broke
podman's signal tests for not doing so). An ignored signal survives ``exec``, and a command
started as a background job (SIGINT and SIGQUIT ignored) or under ``nohup`` (SIGHUP) would
otherwise hand that on to every test: trio's ``test_ki_protection_works`` interrupts itself and
then waits forever.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from engine.backends.local.machine import MachineNode
from engine.backends.local.runner import WorkflowRunner
from engine.backends.local.runtime import default_runtime
from engine.backends.local.standby import read_order, take_order
from engine.backends.local.store import LocalStore
from engine.home import default_home

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            "usage: python -m engine.backends.local.daemon WORKFLOW_NAME | --standby",
            file=sys.stderr,
        )
        return 2
    name = args[0]
    if name == "--standby":
        order = read_order(sys.stdin.buffer)
        if order is None:
            return 0
        take_order(order)
        name = order.name
    _default_signals()
    store = LocalStore(default_home())
    # SIGUSR1 wakes this runner: another runner's scheduling pass sends it once it has bound
    # a pod of this workflow to the machine's node.
    machine = MachineNode(store.root, wakeable=True)
    runner = WorkflowRunner(store, name, runtime=default_runtime(), machine=machine)

    def wake(_signum: int, _frame: FrameType | None) -> None:
        runner.wake()

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        store.add_control(name, "terminate")
        runner.wake()

    signal.signal(signal.SIGUSR1, wake)
    signal.signal(signal.SIGTERM, terminate)
    store.ready_path(name).touch()  # control requests made before this wait for the first loop
    try:
        runner.run()
    finally:
        if store.runner_pid(name) == os.getpid():
            store.ready_path(name).unlink(missing_ok=True)
            store.pid_path(name).unlink(missing_ok=True)
    return 0


INHERITED_IGNORES = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
"""What a shell's background job or ``nohup`` starts a command with ignored."""


def _default_signals() -> None:
    """Handled here as a Python process handles them by default: an exec then resets them to
    the default for each pod's process, where an ignored one would stay ignored."""
    for signum in INHERITED_IGNORES:
        if signal.getsignal(signum) == signal.SIG_IGN:
            default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, default)


if __name__ == "__main__":
    raise SystemExit(main())
