"""Engines for orchestration tests, run in the real engine process pool.

``slow_engine`` is the real engine plus a delay, so that cancellation can land while
items are in flight. Module-level so the spawned pool processes can import them.
"""

from __future__ import annotations

import time

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.registry import run_engine

SLOW_ENGINE_DELAY_SECONDS = 0.5


def slow_engine(request: EngineRequest) -> EngineResult:
    """The real engine, after a fixed delay."""
    time.sleep(SLOW_ENGINE_DELAY_SECONDS)
    return run_engine(request)
