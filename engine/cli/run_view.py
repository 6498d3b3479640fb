"""What ``drover run`` shows of an execution: its progress while it runs (a live table in a
terminal, one plain line per change in a pipe or CI log), then the verdict and what failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

__all__ = ["OUTCOMES", "ProgressView", "error_headline", "summarise", "verdict"]

OUTCOMES = ("failed", "error", "not_run", "passed", "skipped")
"""Scenario outcomes in the order a summary names them: what needs attention first."""


def verdict(counts: Mapping[str, int], ok: bool, ended: str | None = None) -> str:
    """``Failed — 1 failed, 23 passed``: the exit code's word, then the counts behind it.

    ``ended`` replaces the word when the run did not end by itself (``Stopped``, ...).
    """
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in OUTCOMES if counts.get(s)]
    word = ended or ("Passed" if ok else "Failed")
    return f"{word} — {', '.join(parts) or 'no scenarios'}"


def progress_table(detail: Any, state: str | None = None) -> Table:
    """One row per group; the title ends with ``state`` (the verdict at the end), else the
    run's phase."""
    title = f"{detail.execution_name} — {detail.workflow_name} — {state or detail.phase}"
    table = Table(title=escape(title), title_justify="left")
    width = max((len(g.key) for g in detail.groups), default=5)
    table.add_column("group", no_wrap=True, min_width=width)
    table.add_column("state", no_wrap=True)
    for header in ("workers", "passed", "failed", "error", "skipped", "running", "pending"):
        table.add_column(header, justify="right", no_wrap=True)
    for group in detail.groups:
        p = group.progress
        table.add_row(
            escape(group.key),
            group.phase,
            str(group.threads),
            f"[green]{p.passed}[/]",
            f"[red]{p.failed}[/]" if p.failed else "0",
            f"[red]{p.errored}[/]" if p.errored else "0",
            str(p.skipped),
            f"[yellow]{p.running}[/]" if p.running else "0",
            str(p.pending),
        )
    return table


Changes = Callable[[Any], list[tuple[str, tuple[Any, ...]]]]
"""What a plain progress line says of a state: (what it is about, its words), one per item."""


class ProgressView:
    """A live table in a terminal; elsewhere one line per change, so a log shows the run as
    it goes and nothing is cut or redrawn. ``table(state, verdict)`` draws the table;
    ``changes(state)`` says what the lines say (an execution's by default)."""

    def __init__(
        self,
        console: Console,
        table: Callable[[Any, str | None], Table] | None = None,
        changes: Changes | None = None,
    ) -> None:
        self.console = console
        self.table = table or progress_table
        self.changes = changes or run_changes
        self.live: Live | None = None
        self._seen: dict[str, tuple[Any, ...]] = {}

    def __enter__(self) -> ProgressView:
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, state: Any) -> None:
        if self.live is not None:
            self.live.update(self.table(state, None))
            return
        for key, line in self.changes(state):
            if self._seen.get(key) != line:
                self._seen[key] = line
                self.say(" ".join(str(part) for part in line))

    def say(self, text: str) -> None:
        """A message above the live table, or a timestamped line."""
        if self.live is not None:
            self.console.print(text, highlight=False)
        else:
            self.console.print(f"{time.strftime('%H:%M:%S')} {text}", highlight=False)

    def finish(self, state: Any, verdict: str | None) -> None:
        """The last table, its title ending with the verdict."""
        if self.live is not None:
            self.live.update(self.table(state, verdict))
        else:
            self.console.print(self.table(state, verdict))


def run_changes(detail: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """What a plain progress line says, per run and per group."""
    lines: list[tuple[str, tuple[Any, ...]]] = [
        ("", (f"run {detail.id} ({detail.workflow_name})", detail.phase))
    ]
    for group in detail.groups:
        p = group.progress
        lines.append(
            (
                group.key,
                (
                    f"group {group.key}",
                    f"{group.phase}:",
                    f"{p.completed}/{p.total} done",
                    f"({p.passed} passed, {p.failed} failed, {p.errored} error,",
                    f"{p.skipped} skipped),",
                    f"{p.running} running",
                ),
            )
        )
    return lines


def error_headline(error: str | None) -> str:
    """The line of an error text that says what went wrong.

    pytest's report of a broken fixture starts with where it happened (``failed on setup with
    "file …, line 5``); the error itself is on its ``E`` lines. The first ``E`` line of the last
    block of them (the final exception of a chain) is the headline, after the phase it failed in.
    """
    lines = [line.rstrip() for line in (error or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    blocks: list[list[str]] = []
    for previous, line in zip(["", *lines], lines, strict=False):
        if line.startswith("E "):
            if previous.startswith("E "):
                blocks[-1].append(line)
            else:
                blocks.append([line])
    if not blocks:
        return lines[0]
    first = lines[0]
    phase = first.partition(" with ")[0] if first.startswith("failed on ") else None
    return f"{phase}: {blocks[-1][0]}" if phase else blocks[-1][0]


def summarise(outcome: dict[str, Any], console: Console, setup_log: list[str]) -> None:
    """What did not pass, why nothing ran if setup-env failed, and the verdict (``scenarios``
    counts them all; ``results`` need only hold those that did not pass)."""
    failing = [o for o in outcome["results"] if o["status"] in ("failed", "error")]
    not_run: dict[tuple[str, str], int] = {}
    for o in outcome["results"]:
        if o["status"] == "not_run":
            key = (o["group"], o.get("error") or "")
            not_run[key] = not_run.get(key, 0) + 1
    if failing or not_run:
        table = Table(title="scenarios that did not pass", title_justify="left")
        for header in ("group", "scenario", "status", "error"):
            table.add_column(header, overflow="fold")
        for o in failing:
            table.add_row(
                escape(o["group"]), escape(o["id"]), o["status"], escape(error_headline(o["error"]))
            )
        for (group, why), count in not_run.items():
            scenarios = "1 scenario" if count == 1 else f"{count} scenarios"
            table.add_row(escape(group), scenarios, "not_run", escape(why))
        console.print(table)
    if outcome.get("setup_error"):
        console.print(f"[red]{escape(outcome['setup_error'])}[/]", highlight=False)
        for line in setup_log:
            console.print(f"  {escape(line)}", highlight=False)
    colour = "green" if outcome["ok"] else "red"
    console.print(
        f"[{colour}]{escape(outcome['verdict'])}[/] ({outcome['scenarios']} scenarios) — "
        f"run {outcome['run_id']}, workflow {escape(str(outcome['workflow']))} {outcome['phase']}",
        highlight=False,
    )
    console.print(f"logs: {escape(outcome['logs'])}", highlight=False)
    console.print(
        f"inspect: drover get {outcome['workflow']} · drover logs {outcome['workflow']}",
        highlight=False,
    )
