"""Fixtures of the fault-injection suite: a fresh stack per test and the figures report."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Cluster, cluster
from tests.faults.report import Figures, Report


@pytest.fixture(scope="session")
def reliability_report() -> Iterator[Report]:
    """Figures of every scenario; written to docs/reliability.md after a complete run."""
    report = Report()
    yield report
    report.write()


class Scenario:
    """Times a test from its setup and records its figures in the report."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def record(self, figures: Figures) -> None:
        self.report.record(figures)


@pytest.fixture
def scenario(reliability_report: Report) -> Scenario:
    return Scenario(reliability_report)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Cluster]:
    """A Temporal dev server subprocess with its own database, a store, a task queue."""
    async with cluster(tmp_path / "stack") as built:
        yield built
