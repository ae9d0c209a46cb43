"""The worker's process pool for CPU-bound engines, rebuilt if a process dies."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from docbatch.engines.base import Engine, EngineRequest, EngineResult


class EngineCrashedError(RuntimeError):
    """The engine's process died (crash or out of memory); the attempt may be retried."""


class EnginePool:
    """Runs engines in separate processes so parsing never blocks the worker's event loop.

    Processes are started with ``spawn``: forking a process that runs Temporal's core
    threads is unsafe.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    async def run(
        self,
        engine: Engine,
        request: EngineRequest,
        *,
        heartbeat: Callable[[], None] | None = None,
        heartbeat_every: float = 2.0,
    ) -> EngineResult:
        """Run ``engine(request)`` in the pool, calling ``heartbeat`` while it works."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool(), engine, request)
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=heartbeat_every)
                if done:
                    return future.result()
                if heartbeat is not None:
                    heartbeat()
        except BrokenProcessPool as exc:
            self._reset()
            raise EngineCrashedError(
                f"the engine process died while processing {request.file_name}"
            ) from exc
        finally:
            future.cancel()

    def _reset(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the processes (waits for running engines to finish)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
