"""The ``command`` runner: any program, judged by its exit code.

``{scenario}`` anywhere in an argument runs the command once per scenario with the id put in
its place; an argument that is exactly ``{scenarios}`` runs one batch with every id as its own
argument (and then every scenario shares the batch's outcome). The arguments are passed to the
program as they are, never through a shell. Exit code 0 passes, another fails, and a process
killed by a signal (out of memory, a crash) is an ``error`` that names the signal.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from drover_agent.runners.base import BatchContext, BatchRun, Outcome, ProcessRun, run_process

__all__ = ["CommandAdapter"]

ONE = "{scenario}"
ALL = "{scenarios}"


class CommandAdapter:
    kind = "command"

    def __init__(self, command: Sequence[str]) -> None:
        if not command:
            raise ValueError("the command runner needs a command")
        self.command = list(command)

    @property
    def per_scenario(self) -> bool:
        return any(ONE in arg for arg in self.command)

    def argv_for(self, scenario_id: str) -> list[str]:
        return [arg.replace(ONE, scenario_id) for arg in self.command]

    def argv_for_batch(self, scenario_ids: Sequence[str]) -> list[str]:
        argv: list[str] = []
        for arg in self.command:
            argv.extend(scenario_ids if arg == ALL else [arg])
        return argv

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        batch = BatchRun()
        if self.per_scenario:
            # The batch timeout covers n scenarios; each process gets its share.
            share = (
                context.timeout / len(scenario_ids) if context.timeout and scenario_ids else None
            )
            for scenario_id in scenario_ids:
                done = run_process(
                    self.argv_for(scenario_id),
                    context.workspace,
                    context.env,
                    share,
                    extra_env={"DROVER_SCENARIO": scenario_id},
                )
                batch.outcomes[scenario_id] = _outcome(done)
            return batch
        done = run_process(
            self.argv_for_batch(scenario_ids), context.workspace, context.env, context.timeout
        )
        shared = _outcome(done)
        batch.outcomes = dict.fromkeys(scenario_ids, shared)
        return batch


def _outcome(done: ProcessRun) -> Outcome:
    if done.exit_code == 0:
        return Outcome("passed", done.duration)
    if done.exit_code is None:
        return Outcome("error", done.duration, done.problem)
    detail = f"\n{done.output_tail}" if done.output_tail else ""
    if done.exit_code < 0:  # killed by a signal (out of memory: SIGKILL), not a test verdict
        reason = f"killed by signal {_signal_name(-done.exit_code)}"
        return Outcome("error", done.duration, f"{reason}{detail}")
    return Outcome("failed", done.duration, f"exited with code {done.exit_code}{detail}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
