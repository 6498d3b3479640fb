"""Read the shard plan that travels in ConfigMaps mounted as a directory.

``run.json`` describes the project and its runner; each scenario group has ``<key>.json``,
``<key>.json.gz``, or, for huge groups, parts ``<key>.part<N>.json[.gz]`` that split its workers.
Unknown keys are ignored so an older agent reads a newer plan; missing ones raise PlanError.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "GroupPlan",
    "PlanError",
    "PlanScenario",
    "ProjectSource",
    "RunPlan",
    "RunnerConfig",
    "SetupCommand",
    "load_group_plan",
    "load_run_plan",
]

SUPPORTED_VERSION = 1
RUNNER_KINDS = ("pytest", "cucumber", "playwright", "command")

SetupCommand = str | list[str]


class PlanError(Exception):
    """The plan directory is missing a file, or a file does not hold what the agent needs."""


@dataclass(frozen=True)
class RunnerConfig:
    kind: str
    command: list[str] | None = None
    args: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectSource:
    repo: str | None
    path: str | None
    ref: str
    setup: list[SetupCommand]
    runner: RunnerConfig


@dataclass(frozen=True)
class RunPlan:
    execution: str
    run_id: str | None
    project: ProjectSource


class PlanScenario(NamedTuple):
    """A scenario of the plan (tuples: a worker reads every scenario of its group, 60,000 and
    more, before its first test)."""

    id: str
    name: str = ""
    location: str = ""
    tags: tuple[str, ...] = ()
    duration: float | None = None


@dataclass(frozen=True)
class GroupPlan:
    key: str
    flow: str
    name: str
    threads: int
    strategy: str
    retries: int
    scenario_timeout: float | None
    workers: dict[int, list[PlanScenario]]

    def shard(self, index: int) -> list[PlanScenario]:
        """The scenarios of worker ``index``, in plan order (an unknown index has none)."""
        if not 0 <= index < max(self.threads, len(self.workers)):
            raise PlanError(f"group {self.key!r} has {self.threads} workers; no shard {index}")
        return list(self.workers.get(index, []))


def load_run_plan(plan_dir: Path) -> RunPlan:
    document = _read_json(plan_dir / "run.json")
    _check_version(document, "run.json")
    project = _mapping(document, "project", "run.json")
    runner = _mapping(project, "runner", "run.json project")
    kind = runner.get("kind")
    if kind not in RUNNER_KINDS:
        raise PlanError(f"run.json project.runner.kind: {kind!r} is not one of {RUNNER_KINDS}")
    setup = project.get("setup") or []
    if not isinstance(setup, list) or not all(_is_command(c) for c in setup):
        raise PlanError("run.json project.setup: expected a list of strings or argument lists")
    return RunPlan(
        execution=str(document.get("execution", "")),
        run_id=document.get("run_id"),
        project=ProjectSource(
            repo=project.get("repo"),
            path=project.get("path"),
            ref=str(project.get("ref") or "HEAD"),
            setup=setup,
            runner=RunnerConfig(
                kind=kind,
                command=[str(a) for a in runner["command"]] if runner.get("command") else None,
                args=[str(a) for a in runner.get("args") or []],
            ),
        ),
    )


def load_group_plan(plan_dir: Path, key: str) -> GroupPlan:
    """The group ``key``, merged from all of its parts when it was split."""
    documents = [_read_json(path) for path in _group_files(plan_dir, key)]
    first = documents[0]
    workers: dict[int, list[PlanScenario]] = {}
    for document in documents:
        _check_version(document, f"group {key}")
        for index, entries in _mapping(document, "workers", f"group {key}").items():
            workers.setdefault(int(index), []).extend(_scenario(e, key) for e in entries)
    return GroupPlan(
        key=str(first.get("group", key)),
        flow=str(first.get("flow", "")),
        name=str(first.get("name", "")),
        threads=int(first.get("threads", len(workers))),
        strategy=str(first.get("strategy", "")),
        retries=int(first.get("retries") or 0),
        scenario_timeout=_optional_float(first.get("scenario_timeout")),
        workers=workers,
    )


def _group_files(plan_dir: Path, key: str) -> list[Path]:
    for name in (f"{key}.json", f"{key}.json.gz"):
        if (plan_dir / name).is_file():
            return [plan_dir / name]
    part = re.compile(re.escape(key) + r"\.part(\d+)\.json(\.gz)?")
    parts = []
    if plan_dir.is_dir():
        for path in plan_dir.iterdir():
            match = part.fullmatch(path.name)
            if match:
                parts.append((int(match.group(1)), path))
    if not parts:
        raise PlanError(f"no plan for group {key!r} in {plan_dir} (looked for {key}.json[.gz])")
    return [path for _, path in sorted(parts)]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file; is the plan ConfigMap mounted?") from None
    try:
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        document = json.loads(raw)
    except (OSError, EOFError, ValueError) as exc:
        raise PlanError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PlanError(f"{path}: expected a JSON object")
    return document


def _check_version(document: dict[str, Any], what: str) -> None:
    version = document.get("version", SUPPORTED_VERSION)
    if version != SUPPORTED_VERSION:
        raise PlanError(f"{what}: plan format version {version!r}; this agent reads version 1")


def _mapping(document: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise PlanError(f"{what}: '{key}' must be an object")
    return value


def _is_command(value: object) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, list) and bool(value) and all(isinstance(a, str) for a in value)


def _scenario(entry: object, key: str) -> PlanScenario:
    if isinstance(entry, str):
        return PlanScenario(id=entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise PlanError(f"group {key}: every scenario needs a string 'id', got {entry!r}")
    tags = entry.get("tags")
    return PlanScenario(
        entry["id"],
        str(entry.get("name") or ""),
        str(entry.get("location") or ""),
        tuple(map(str, tags)) if tags else (),
        _optional_float(entry.get("duration")),
    )


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float | str):
        return float(value)
    raise PlanError(f"expected a number of seconds, got {value!r}")
