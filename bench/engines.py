"""Engines for the benchmarks: module-level and picklable, like ``run_engine``.

They run in the worker's engine processes (``EnginePool``), so the benchmarks measure
everything docbatch does around an engine except the engine's own work.
"""

from __future__ import annotations

import os
import time

from docbatch.engines.base import Engine, EngineRequest, EngineResult
from docbatch.engines.registry import run_engine

SLEEP_SECONDS_ENV = "DOCBATCH_BENCH_SLEEP_SECONDS"
"""How long ``sleep_engine`` works (seconds; the worker's environment, default 30)."""


def noop_engine(request: EngineRequest) -> EngineResult:
    """Return at once with an empty output: the cost of orchestration alone."""
    return EngineResult(content="", content_type="text/plain", extension="txt")


def sleep_engine(request: EngineRequest) -> EngineResult:
    """Work for ``DOCBATCH_BENCH_SLEEP_SECONDS`` (a slow engine, to keep items in flight)."""
    time.sleep(float(os.environ.get(SLEEP_SECONDS_ENV, "30")))
    return noop_engine(request)


ENGINES: dict[str, Engine] = {"real": run_engine, "noop": noop_engine, "sleep": sleep_engine}
"""The engines a benchmark worker can run, by the name its ``--engine`` option takes."""
