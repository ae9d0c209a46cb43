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


class EngineTimeoutError(RuntimeError):
    """The engine ran past its time limit; its process was stopped."""


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
        timeout: float | None = None,
    ) -> EngineResult:
        """Run ``engine(request)`` in the pool, calling ``heartbeat`` while it works.

        Past ``timeout`` seconds the pool's processes are stopped (a process cannot be
        interrupted otherwise); engines running beside it fail with
        ``EngineCrashedError`` and are retried by their activities.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        future = loop.run_in_executor(self._pool(), engine, request)
        try:
            while True:
                wait = heartbeat_every
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - loop.time()))
                done, _ = await asyncio.wait({future}, timeout=wait)
                if done:
                    return future.result()
                if deadline is not None and loop.time() >= deadline:
                    self.kill()
                    raise EngineTimeoutError(
                        f"processing {request.file_name} took longer than {timeout:g}s"
                    )
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

    def kill(self) -> None:
        """Stop every engine process now; the next ``run`` starts a fresh pool."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor offers no way to stop a running call: terminate its workers.
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the processes (waits for running engines to finish)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
