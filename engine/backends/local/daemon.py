"""Detached runner process: ``python -m engine.backends.local.daemon NAME``.

Started by ``LocalBackend.submit`` in its own session. It runs the stored workflow to
completion, wakes on SIGUSR1 to read control requests and the machine's node (another runner's
scheduling pass bound one of its pods), and treats SIGTERM as terminate.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from engine.backends.local.machine import MachineNode
from engine.backends.local.runner import WorkflowRunner
from engine.backends.local.runtime import default_runtime
from engine.backends.local.store import LocalStore
from engine.home import default_home

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m engine.backends.local.daemon WORKFLOW_NAME", file=sys.stderr)
        return 2
    name = args[0]
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


if __name__ == "__main__":
    raise SystemExit(main())
