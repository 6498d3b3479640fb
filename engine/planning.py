"""Plan an execution: resolve every group's scenarios and settings, and shard them over workers."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import SpecError
from engine.sharding import ShardPlan, Strategy, plan_shards
from engine.spec import Defaults, Execution, Scenario

__all__ = ["ExecutionPlan", "GroupPlan", "group_key", "plan_execution"]


def group_key(flow: str, group: str) -> str:
    """The id of a group inside a run (plan files, API paths, results): ``flow.group``."""
    return f"{flow}.{group}"


@dataclass(frozen=True)
class GroupPlan:
    flow: str
    name: str
    title: str
    settings: Defaults
    """The group's threads, strategy, retries and timeouts with execution defaults applied."""
    continue_on_failure: bool
    scenarios: tuple[Scenario, ...]
    shards: ShardPlan
    workers: tuple[tuple[Scenario, ...], ...]
    """Each worker's scenarios in execution order (``shards`` resolved to scenarios)."""

    @property
    def key(self) -> str:
        return group_key(self.flow, self.name)


@dataclass(frozen=True)
class ExecutionPlan:
    execution: Execution
    groups: tuple[GroupPlan, ...]

    def flow_groups(self, flow: str) -> list[GroupPlan]:
        return [g for g in self.groups if g.flow == flow]

    @property
    def scenario_count(self) -> int:
        return sum(len(g.scenarios) for g in self.groups)

    @property
    def worker_count(self) -> int:
        return sum(g.settings.threads for g in self.groups)

    @property
    def predicted_makespan(self) -> float:
        """Flows run in parallel and groups of a flow in sequence; setup time not included."""
        per_flow: dict[str, float] = {}
        for g in self.groups:
            per_flow[g.flow] = per_flow.get(g.flow, 0.0) + g.shards.makespan
        return max(per_flow.values(), default=0.0)


def plan_execution(
    execution: Execution, *, strategy: Strategy | str | None = None, default_duration: float = 30.0
) -> ExecutionPlan:
    """Shard every group; ``strategy`` overrides the one each group would use."""
    override = _strategy(strategy) if strategy is not None else None
    groups = []
    for flow, group in execution.iter_groups():
        settings = execution.effective(group)
        if override is not None:
            settings = settings.model_copy(update={"strategy": override})
        scenarios = tuple(execution.group_scenarios(group))
        shards = plan_shards(
            scenarios, settings.threads, settings.strategy, default_duration=default_duration
        )
        by_id = {s.id: s for s in scenarios}
        groups.append(
            GroupPlan(
                flow=flow.name,
                name=group.name,
                title=group.title or group.name,
                settings=settings,
                continue_on_failure=group.continue_on_failure,
                scenarios=scenarios,
                shards=shards,
                workers=tuple(tuple(map(by_id.__getitem__, s.item_ids)) for s in shards.shards),
            )
        )
    return ExecutionPlan(execution=execution, groups=tuple(groups))


def _strategy(value: Strategy | str) -> Strategy:
    try:
        return Strategy(value)
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise SpecError(
            "strategy", f"unknown strategy {value!r}", f"choose one of {choices}"
        ) from None
