"""The worker's engine processes: CPU-bound engines run beside the event loop, never in it.

The pool is a set of *slots*, each a single-process executor. A document takes a free
slot (waiting for one costs none of its time limit), and a document that runs past its
limit has only its own process stopped and replaced: the engines of other documents go
on. Engine processes ask the kernel to kill them when their worker dies, so a SIGKILLed
worker leaves no orphans behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from docbatch.engines.base import Engine, EngineRequest, EngineResult

_PR_SET_PDEATHSIG = 1
_SMOOTHING = 0.2


class EngineCrashedError(RuntimeError):
    """The engine's process died (crash or out of memory); the attempt may be retried."""


class EngineTimeoutError(RuntimeError):
    """The engine ran past its time limit; its process was stopped."""


def _die_with_parent(parent_pid: int) -> None:
    """Engine process initialiser: exit when the worker that started us exits."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _warm_up() -> None:
    """Import the engines in a new process, so no document pays for it in its time."""
    import docbatch.engines.registry  # noqa: F401


class _Slot:
    """One engine process (a single-worker executor), started and warmed on first use."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    async def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
            try:
                await asyncio.get_running_loop().run_in_executor(executor, _warm_up)
            except BaseException:
                executor.shutdown(wait=False, cancel_futures=True)
                raise
            self._executor = executor
        return self._executor

    def kill(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # An executor cannot interrupt a running call: terminate its process.
        for process in list(getattr(executor, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)


class Reservation:
    """A place held in an engine pool's queue (see ``EnginePool.reserve``); release once."""

    def __init__(self, pool: EnginePool) -> None:
        self._pool: EnginePool | None = pool
        pool._reserved += 1

    def release(self) -> None:
        """Give the place back (a ``run`` that uses the reservation does this itself)."""
        if self._pool is not None:
            self._pool._reserved -= 1
            self._pool = None


class EnginePool:
    """Runs engines in separate processes, at most ``processes`` at a time.

    Processes are started with ``spawn``: forking a process that runs Temporal's core
    threads is unsafe.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._slots = [_Slot() for _ in range(processes)]
        self._free: asyncio.Queue[_Slot] | None = None
        self._waiting = 0
        self._reserved = 0
        self._typical_seconds = 0.5
        """Moving average of how long a document holds an engine process (a cautious
        guess until the first documents are through)."""

    def reserve(self) -> Reservation:
        """Hold a place in the queue now, for a ``run`` that starts after some awaits.

        Counted by ``expected_wait`` at once, so concurrent callers that each check it
        before submitting do not all see the same free process.
        """
        return Reservation(self)

    def expected_wait(self) -> float:
        """Seconds a document submitted now would likely wait for an engine process."""
        free = self._queue().qsize()
        queued = self._waiting + self._reserved - free
        if queued < 0:
            return 0.0
        # The busy processes are, on average, halfway through their documents.
        return (queued // self.processes + 0.5) * self._typical_seconds

    def _queue(self) -> asyncio.Queue[_Slot]:
        if self._free is None:
            self._free = asyncio.Queue()
            for slot in self._slots:
                self._free.put_nowait(slot)
        return self._free

    async def run(
        self,
        engine: Engine,
        request: EngineRequest,
        *,
        heartbeat: Callable[[], None] | None = None,
        heartbeat_every: float = 2.0,
        timeout: float | None = None,
        reservation: Reservation | None = None,
        started: asyncio.Event | None = None,
    ) -> EngineResult:
        """Run ``engine(request)`` in a free engine process, heartbeating while it works.

        ``timeout`` counts from the moment a process takes the document up; past it that
        process is stopped and ``EngineTimeoutError`` raised. ``started`` is set at that
        moment; ``reservation`` (from ``reserve``) is used up.
        """
        free = self._queue()
        self._waiting += 1
        if reservation is not None:
            reservation.release()
        try:
            while True:
                try:
                    slot = await asyncio.wait_for(free.get(), heartbeat_every)
                    break
                except TimeoutError:
                    if heartbeat is not None:
                        heartbeat()
        finally:
            self._waiting -= 1
        if started is not None:
            started.set()
        taken_at = time.monotonic()
        try:
            return await self._run_in(slot, engine, request, heartbeat, heartbeat_every, timeout)
        finally:
            free.put_nowait(slot)
            held = time.monotonic() - taken_at
            self._typical_seconds += _SMOOTHING * (held - self._typical_seconds)

    async def _run_in(
        self,
        slot: _Slot,
        engine: Engine,
        request: EngineRequest,
        heartbeat: Callable[[], None] | None,
        heartbeat_every: float,
        timeout: float | None,
    ) -> EngineResult:
        loop = asyncio.get_running_loop()
        try:
            executor = await slot.executor()
        except BrokenProcessPool as exc:
            raise EngineCrashedError("an engine process could not start") from exc
        # The limit counts from here: starting a process is not the document's time.
        deadline = None if timeout is None else loop.time() + timeout
        future = loop.run_in_executor(executor, engine, request)
        try:
            while True:
                wait = heartbeat_every
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - loop.time()))
                done, _ = await asyncio.wait({future}, timeout=wait)
                if done:
                    return future.result()
                if deadline is not None and loop.time() >= deadline:
                    slot.kill()
                    raise EngineTimeoutError(
                        f"processing {request.file_name} took longer than {timeout:g}s"
                    )
                if heartbeat is not None:
                    heartbeat()
        except BrokenProcessPool as exc:
            slot.kill()
            raise EngineCrashedError(
                f"the engine process died while processing {request.file_name}"
            ) from exc
        except asyncio.CancelledError:
            # The activity was cancelled (job cancelled, worker stopping): stop the work.
            if not future.done():
                slot.kill()
            raise
        finally:
            future.cancel()

    def kill(self) -> None:
        """Stop every engine process now; later runs start fresh ones."""
        for slot in self._slots:
            slot.kill()

    def shutdown(self) -> None:
        """Stop the engine processes without waiting for engines still running."""
        self.kill()
