"""Rules that span jobs: the dependency graph and the references between jobs.

``check_pipeline`` returns the resolved :class:`JobGraph` (needs with stage order made
explicit, a topological order, ancestors) or raises a SpecError naming the job and field,
e.g. ``jobs[deploy].needs[0]`` or ``stages[test].jobs[unit].when``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.errors import SpecError
from engine.pipelines.conditions import compile_condition
from engine.pipelines.model import Edge, Job, Pipeline
from engine.pipelines.references import Reference, find_references

__all__ = ["JobGraph", "check_pipeline", "job_texts"]


@dataclass
class JobGraph:
    """The pipeline's jobs as a DAG, in a fixed topological order."""

    jobs: dict[str, Job]
    needs: dict[str, list[str]]
    """Every job's direct needs: its own plus, in stages, all jobs of the previous stage."""
    paths: dict[str, str]
    """Field path of each job, for error messages."""
    order: list[str] = field(default_factory=list)
    ancestors: dict[str, set[str]] = field(default_factory=dict)

    def position(self, name: str) -> int:
        return self.order.index(name)


def job_texts(job: Job) -> Iterator[tuple[str, str]]:
    """(field path inside the job, text) of every value that may hold ``${...}`` references."""
    for key, value in job.inputs.items():
        yield f"inputs.{key}", value
    for key, value in job.env.items():
        yield f"env.{key}", value
    if job.container is not None:
        for index, arg in enumerate(job.container.args):
            yield f"container.args[{index}]", arg
    if job.http is not None:
        yield "http.url", job.http.url
        for key, header in job.http.headers.items():
            if isinstance(header, str):
                yield f"http.headers.{key}", header
        if job.http.body is not None:
            yield "http.body", job.http.body
    if job.tool is not None:
        yield "tool.message", job.tool.message


def check_pipeline(pipeline: Pipeline) -> JobGraph:
    graph = _resolve_needs(pipeline)
    _order(graph)
    for name in graph.order:
        _check_job(pipeline, graph, graph.jobs[name])
    if pipeline.on_exit is not None:
        if pipeline.on_exit.name in graph.jobs:
            raise SpecError("on_exit.name", f"a job is already named {pipeline.on_exit.name!r}")
        _check_exit_job(pipeline, pipeline.on_exit)
    return graph


def _resolve_needs(pipeline: Pipeline) -> JobGraph:
    jobs: dict[str, Job] = {}
    paths: dict[str, str] = {}
    stage_of: dict[str, int] = {}
    stages = pipeline.stages or []
    seen_stages: set[str] = set()
    for index, stage in enumerate(stages):
        if stage.name in seen_stages:
            raise SpecError(f"stages[{index}].name", f"duplicate stage name {stage.name!r}")
        seen_stages.add(stage.name)
    located = (
        [(job, f"jobs[{job.name}]", 0) for job in pipeline.jobs or []]
        if pipeline.jobs is not None
        else [
            (job, f"stages[{stage.name}].jobs[{job.name}]", index)
            for index, stage in enumerate(stages)
            for job in stage.jobs
        ]
    )
    for job, path, stage_index in located:
        if job.name in jobs:
            raise SpecError(
                f"{path}.name", f"duplicate job name {job.name!r}; job names must be unique"
            )
        jobs[job.name] = job
        paths[job.name] = path
        stage_of[job.name] = stage_index
    needs: dict[str, list[str]] = {}
    for name, job in jobs.items():
        for index, need in enumerate(job.needs):
            where = f"{paths[name]}.needs[{index}]"
            if need not in jobs:
                raise SpecError(where, f"unknown job {need!r}", _did_you_mean(need, jobs))
            if need == name:
                raise SpecError(where, "a job cannot need itself")
            if stages and stage_of[need] > stage_of[name]:
                raise SpecError(
                    where, f"{need!r} is in a later stage; a job can only need earlier ones"
                )
        implicit = (
            [j.name for j in stages[stage_of[name] - 1].jobs]
            if stages and stage_of[name] > 0
            else []
        )
        needs[name] = [*implicit, *(n for n in job.needs if n not in implicit)]
        if job.on is not Edge.SUCCESS and not needs[name]:
            raise SpecError(
                f"{paths[name]}.on",
                f"'on: {job.on}' is relative to the job's needs, and it has none",
            )
    return JobGraph(jobs=jobs, needs=needs, paths=paths)


def _did_you_mean(name: str, jobs: dict[str, Job]) -> str | None:
    close = difflib.get_close_matches(name, list(jobs), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _order(graph: JobGraph) -> None:
    """Kahn's algorithm in document order; a leftover job lies on a cycle."""
    remaining = {name: set(needs) for name, needs in graph.needs.items()}
    order: list[str] = []
    while remaining:
        ready = [name for name, needs in remaining.items() if not needs]
        if not ready:
            cycle = _find_cycle(remaining)
            first = cycle[0]
            raise SpecError(
                f"{graph.paths[first]}.needs",
                "the needs form a cycle: " + " → ".join([*cycle, first]),
            )
        for name in ready:
            order.append(name)
            del remaining[name]
        for needs in remaining.values():
            needs.difference_update(ready)
    graph.order = order
    for name in order:
        graph.ancestors[name] = set(graph.needs[name]).union(
            *(graph.ancestors[n] for n in graph.needs[name])
        )


def _find_cycle(remaining: dict[str, set[str]]) -> list[str]:
    name = next(iter(remaining))
    path: list[str] = []
    while name not in path:
        path.append(name)
        name = sorted(remaining[name])[0]
    return path[path.index(name) :]


def _check_job(pipeline: Pipeline, graph: JobGraph, job: Job) -> None:
    path = graph.paths[job.name]
    for where, text in job_texts(job):
        try:
            references = find_references(text)
        except ValueError as error:
            raise SpecError(f"{path}.{where}", str(error)) from None
        for reference in references:
            _check_reference(pipeline, graph, job, reference, f"{path}.{where}")
    if job.when is not None:
        try:
            condition = compile_condition(job.when)
        except ValueError as error:
            raise SpecError(f"{path}.when", str(error)) from None
        for reference in condition.references:
            _check_reference(pipeline, graph, job, reference, f"{path}.when")
    overlap = set(job.env) & set(job.secrets)
    if overlap:
        raise SpecError(f"{path}.secrets", f"{sorted(overlap)[0]!r} is also set in env")


def _check_reference(
    pipeline: Pipeline, graph: JobGraph, job: Job, reference: Reference, where: str
) -> None:
    if reference.kind == "param":
        if reference.name not in pipeline.parameters:
            raise SpecError(
                where,
                f"${{{reference.text}}}: the pipeline has no parameter {reference.name!r}",
                "declare it under 'parameters'",
            )
        return
    source = reference.job or ""
    if source not in graph.jobs:
        raise SpecError(where, f"${{{reference.text}}}: unknown job {source!r}")
    if source not in graph.ancestors[job.name]:
        raise SpecError(
            where,
            f"${{{reference.text}}}: {source!r} does not run before {job.name!r}",
            f"add {source!r} to 'needs'",
        )
    producer = graph.jobs[source]
    if reference.kind == "output" and reference.name not in producer.outputs:
        raise SpecError(
            where,
            f"${{{reference.text}}}: job {source!r} declares no output {reference.name!r}",
            f"list it under {source!r}'s 'outputs'",
        )
    if reference.kind == "condition" and producer.script is None:
        raise SpecError(
            where, f"${{{reference.text}}}: only script jobs set a condition ({source!r} cannot)"
        )


def _check_exit_job(pipeline: Pipeline, job: Job) -> None:
    if job.needs or job.when is not None or job.on is not Edge.SUCCESS:
        raise SpecError("on_exit", "the exit job runs last by itself: no needs, when or on")
    for where, text in job_texts(job):
        try:
            references = find_references(text)
        except ValueError as error:
            raise SpecError(f"on_exit.{where}", str(error)) from None
        for reference in references:
            if reference.kind != "param":
                raise SpecError(
                    f"on_exit.{where}",
                    f"${{{reference.text}}}: the exit job can only use parameters",
                )
            if reference.name not in pipeline.parameters:
                raise SpecError(
                    f"on_exit.{where}", f"the pipeline has no parameter {reference.name!r}"
                )
