"""Command line of the agent: ``drover-agent setup | run | cleanup`` (paths are all options)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from drover_agent.log_copy import run_with_log_copy, start_log_copy
from drover_agent.plan import PlanError, load_run_plan
from drover_agent.workspace import (
    SetupError,
    checkout_project,
    mark_ready,
    pack_workspace,
    prepare_if_missing,
    run_setup_commands,
    unpack_workspace,
)

# Each command imports what only it needs (the runners, the facade's HTTP client, the report
# merge): every pod of a run starts an agent, and setup-env's starts 60 ms sooner without them.

__all__ = ["main"]

PLAN_ERROR = 2


class Terminated(BaseException):
    """SIGTERM arrived (pod deadline, workflow stopped): unwind so results still get written.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way swallows it.
    """


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drover-agent", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    setup = commands.add_parser("setup", help="prepare the workspace and run setup commands")
    setup.add_argument("--plan-dir", type=Path, required=True, help="the mounted plan directory")
    setup.add_argument("--workspace", type=Path, required=True, help="directory to prepare")
    setup.add_argument("--pack", type=Path, help="also write the workspace as this tar.gz")

    run = commands.add_parser("run", help="run one shard of one scenario group")
    run.add_argument("--plan-dir", type=Path, required=True)
    run.add_argument("--workspace", type=Path, required=True)
    run.add_argument("--group", help="group key, e.g. checkout.smoke (or give --shard KEY/N)")
    run.add_argument(
        "--shard",
        required=True,
        help="worker index in the group, or 'GROUP/INDEX' as the compiled workflow passes it",
    )
    run.add_argument("--results", type=Path, required=True, help="results JSON to write")
    run.add_argument("--summary", type=Path, help="also write the counts as a small JSON file")
    run.add_argument(
        "--attempt",
        type=int,
        default=0,
        help="the pod's retry number, Argo's {{retries}} (0 first)",
    )
    run.add_argument("--unpack", type=Path, help="restore the workspace from this tar.gz first")
    run.add_argument(
        "--prepare-if-missing",
        action="store_true",
        help="prepare a shared workspace that setup-env never prepared (no ready marker)",
    )
    run.add_argument("--report-dir", type=Path, help="the runners' scratch files go here")
    run.add_argument(
        "--reports",
        type=Path,
        help="keep native reports and scenario artifacts here (a directory, or a .tgz file)",
    )
    run.add_argument(
        "--log", type=Path, help="also copy all output here (kept as an artifact after pod GC)"
    )

    cleanup = commands.add_parser("cleanup", help="print a summary when the workflow ends")
    cleanup.add_argument("--plan-dir", type=Path, required=True)
    cleanup.add_argument("--status", required=True, help="{{workflow.status}}")
    cleanup.add_argument("--results-dir", type=Path, help="directory holding results files")
    cleanup.add_argument(
        "--workers",
        type=Path,
        help="every worker's kept reports (.tgz files or directories): merge them into --out",
    )
    cleanup.add_argument("--workspace", type=Path, help="the project (its node_modules' tools)")
    cleanup.add_argument(
        "--out", type=Path, help="the run's reports: a directory, or a .tgz file (with --workers)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run" and args.log is not None:
        finish = start_log_copy(args.log)
        if finish is None:
            raw = list(sys.argv[1:] if argv is None else argv)
            at = next(i for i, a in enumerate(raw) if a == "--log" or a.startswith("--log="))
            rest = raw[at + (1 if "=" in raw[at] else 2) :]
            return run_with_log_copy([*raw[:at], *rest], args.log)
        try:
            return _command(args)
        finally:
            finish()
    return _command(args)


def _command(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_terminated)
    if args.command == "setup":
        return _setup(args)
    if args.command == "run":
        return _run(args)
    if args.workers is not None:
        return _cleanup_with_reports(args)
    from drover_agent.cleanup import summary

    print(summary(args.plan_dir, args.status, args.results_dir), flush=True)
    return 0


def _cleanup_with_reports(args: argparse.Namespace) -> int:
    """Summarise, then merge the workers' reports into the run's (never failing the exit
    handler over a report: what could not be made is listed in index.json and printed)."""
    from drover_agent.cleanup import summary_of
    from drover_agent.kept import pack_directory
    from drover_agent.merge import merge_run_reports, read_results, unpack_workers

    with tempfile.TemporaryDirectory(prefix="drover-cleanup-") as scratch:
        workers = unpack_workers(args.workers, Path(scratch) / "workers")
        results = read_results(workers)
        print(summary_of(args.plan_dir, args.status, results.documents), flush=True)
        if args.out is None:
            return 0
        packed = args.out.name.endswith((".tgz", ".tar.gz"))
        out = Path(scratch) / "run" if packed else args.out
        try:
            name = load_run_plan(args.plan_dir).execution or "drover"
        except PlanError:
            name = "drover"
        merged = merge_run_reports(
            workers, results, out, name=name, workspace=args.workspace, env=dict(os.environ)
        )
        print(
            f"drover-agent: run reports: {', '.join(sorted(merged.reports)) or 'none'} "
            f"({merged.scenarios} scenarios from {len(workers)} workers)",
            flush=True,
        )
        for problem in merged.problems:
            print(f"drover-agent: {problem}", file=sys.stderr, flush=True)
        if packed:
            pack_directory(out, args.out)
    return 0


def _setup(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    try:
        project = load_run_plan(args.plan_dir).project
        args.workspace.mkdir(parents=True, exist_ok=True)
        checkout_project(project, args.workspace, env)
        run_setup_commands(project.setup, args.workspace, env)
        mark_ready(args.workspace)
        if args.pack:
            pack_workspace(args.workspace, args.pack)
    except PlanError as exc:
        print(f"drover-agent: {exc}", file=sys.stderr)
        return PLAN_ERROR
    except SetupError as exc:
        print(f"drover-agent: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _shard_address(group: str | None, shard: str) -> tuple[str, int]:
    """``--group g --shard 3`` or ``--shard g/3`` → ``("g", 3)``."""
    key, _, index = shard.rpartition("/")
    if key and group and key != group:
        raise PlanError(f"--group {group!r} and --shard {shard!r} name different groups")
    key = key or group or ""
    if not key:
        raise PlanError("name the group: --group KEY --shard N, or --shard KEY/N")
    if not index.isdigit():
        raise PlanError(f"--shard {shard!r}: the worker index must be a number")
    return key, int(index)


def _run(args: argparse.Namespace) -> int:
    from drover_agent.facade import FacadeClient, FacadeConfig, WorkerIdentity
    from drover_agent.results import count_statuses
    from drover_agent.shard import ShardRequest, run_shard

    try:
        group, shard = _shard_address(args.group, args.shard)
    except PlanError as exc:
        print(f"drover-agent: {exc}", file=sys.stderr)
        return PLAN_ERROR
    if args.unpack:
        unpack_workspace(args.unpack, args.workspace)
    elif args.prepare_if_missing:
        try:
            prepare_if_missing(load_run_plan(args.plan_dir).project, args.workspace, os.environ)
        except PlanError as exc:
            print(f"drover-agent: {exc}", file=sys.stderr)
            return PLAN_ERROR
        except SetupError as exc:
            print(f"drover-agent: {exc}", file=sys.stderr)
            return exc.exit_code
    identity = WorkerIdentity.from_env(os.environ, group, shard)
    request = ShardRequest(
        plan_dir=args.plan_dir,
        workspace=args.workspace,
        group=group,
        shard=shard,
        results=args.results,
        attempt=args.attempt,
        report_dir=args.report_dir,
        reports=args.reports,
        worker=identity.lease_id,
        pod=identity.pod,
        shared_workspace=args.unpack is None,
    )
    facade = FacadeConfig.from_env(os.environ)
    if facade is not None:
        print(f"drover-agent: reporting results to {facade.api_base} (run {facade.run_id})")
    try:
        report = run_shard(request, dict(os.environ), FacadeClient(facade) if facade else None)
    except Terminated:
        print("drover-agent: terminated; partial results written", file=sys.stderr)
        return 143
    counts = count_statuses(report.results)
    if args.summary:
        # Small enough for an Argo output parameter, so the mirror sees counts in the status.
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(counts, sort_keys=True))
    print(
        f"drover-agent: {request.group} shard {request.shard}: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + (f" ({report.error})" if report.error else ""),
        flush=True,
    )
    if report.error:
        return PLAN_ERROR
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
