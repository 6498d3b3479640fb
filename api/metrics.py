"""Prometheus metrics, read from Postgres and the mirror at scrape time.

A custom collector (rather than counters updated in place) because the numbers live in the
database, shared by every replica of the service, and in the mirror's state.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.mirror.executions import Mirror
from api.models import Run, ScenarioResult

__all__ = ["CONTENT_TYPE", "service_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _ServiceCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], mirror: Mirror) -> None:
        self.sessions = sessions
        self.mirror = mirror

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("drover_runs", "Runs by phase.", labels=["phase"])
        results = GaugeMetricFamily(
            "drover_scenario_results", "Scenario results by status.", labels=["status"]
        )
        with self.sessions() as session:
            for phase, count in session.execute(
                select(Run.phase, func.count()).group_by(Run.phase)
            ):
                runs.add_metric([phase], count)
            for status, count in session.execute(
                select(ScenarioResult.status, func.count()).group_by(ScenarioResult.status)
            ):
                results.add_metric([status], count)
        yield runs
        yield results
        yield GaugeMetricFamily(
            "drover_mirror_followed_runs",
            "Runs the mirror is following.",
            value=len(self.mirror.followed),
        )
        yield CounterMetricFamily(
            "drover_mirror_errors", "Failed mirror syncs (retried).", value=self.mirror.errors
        )


def service_metrics(sessions: sessionmaker[Session], mirror: Mirror) -> bytes:
    """The exposition text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServiceCollector(sessions, mirror))
    return generate_latest(registry)
