"""Group commit: concurrent store writes of the same kind share one transaction.

A worker has up to a hundred items of a job finishing at once, each wanting its own
short write transaction. On SQLite the writes queue behind one another for the write
lock, and each transaction costs several event-loop round trips, so a hundred callers
wait hundreds of milliseconds. ``GroupCommit`` hands every call that arrives while a
flush is running to the next flush, as one bulk statement set: no timer, so a lone call
is flushed at once, and under load the batch grows by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class GroupCommit(Generic[_K, _V]):
    """Coalesce concurrent ``submit`` calls into calls of ``flush`` with many requests.

    ``flush`` takes the pending requests and returns their answers in the same order.
    An exception fails every request of that flush; callers retry as they would a
    single write. A caller that stops waiting (cancelled) may still have its request
    flushed: requests must be idempotent, as the store's guarded transitions are.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[_K]], Awaitable[Sequence[_V]]],
        *,
        max_batch: int = 500,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[_K, asyncio.Future[_V]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, request: _K) -> _V:
        """Queue ``request`` for the next flush and wait for its answer."""
        future: asyncio.Future[_V] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            live = [(request, future) for request, future in batch if not future.done()]
            if not live:
                continue
            try:
                answers = await self._flush([request for request, _ in live])
                if len(answers) != len(live):
                    raise RuntimeError(f"flush answered {len(answers)} of {len(live)} requests")
            except BaseException as exc:
                # Every waiting caller hears of it; none is left waiting for ever.
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    self._fail_pending(exc)
                    raise
                continue
            for (_, future), answer in zip(live, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    def _fail_pending(self, exc: BaseException) -> None:
        """The drainer itself is going (cancelled): fail what it would have flushed."""
        pending, self._pending = self._pending, []
        for _, future in pending:
            if not future.done():
                future.set_exception(exc)
