"""``GroupCommit``: concurrent submissions share flushes, answers go back to their own
callers in order, a failing flush fails only its own requests, and no caller is ever
left waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from docbatch.store.batching import GroupCommit


class Recorder:
    """A flush that records the batches it is given and can be held open."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.fail_next: BaseException | None = None
        self.short_answer = False

    async def flush(self, requests: Sequence[int]) -> list[int]:
        self.batches.append(list(requests))
        self.entered.set()
        await self.gate.wait()
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        answers = [request * 10 for request in requests]
        return answers[:-1] if self.short_answer else answers


async def test_a_lone_request_is_flushed_at_once() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.flush)
    assert await group.submit(4) == 40
    assert recorder.batches == [[4]]


async def test_requests_arriving_during_a_flush_share_the_next_one() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    group = GroupCommit(recorder.flush)
    first = asyncio.create_task(group.submit(1))
    await recorder.entered.wait()
    later = [asyncio.create_task(group.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)  # they queue behind the open flush
    recorder.gate.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert recorder.batches == [[1], [2, 3, 4]]


async def test_max_batch_splits_a_long_queue_in_order() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    group = GroupCommit(recorder.flush, max_batch=2)
    first = asyncio.create_task(group.submit(0))
    await recorder.entered.wait()
    rest = [asyncio.create_task(group.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert [await first, *await asyncio.gather(*rest)] == [0, 10, 20, 30, 40, 50]
    assert recorder.batches == [[0], [1, 2], [3, 4], [5]]


async def test_a_failing_flush_fails_its_own_requests_only() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    group = GroupCommit(recorder.flush)
    recorder.fail_next = OSError("disk I/O error")
    doomed = asyncio.create_task(group.submit(1))
    await recorder.entered.wait()
    spared = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    recorder.gate.set()
    with pytest.raises(OSError, match="disk I/O error"):
        await doomed
    assert await spared == 20
    assert await group.submit(3) == 30  # and the group keeps working


async def test_a_caller_that_stopped_waiting_is_not_flushed() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    group = GroupCommit(recorder.flush)
    first = asyncio.create_task(group.submit(1))
    await recorder.entered.wait()
    gone = asyncio.create_task(group.submit(2))
    kept = asyncio.create_task(group.submit(3))
    await asyncio.sleep(0)
    gone.cancel()
    recorder.gate.set()
    assert (await first, await kept) == (10, 30)
    assert gone.cancelled()
    assert recorder.batches == [[1], [3]]


async def test_a_flush_answering_too_few_fails_its_callers_instead_of_hanging() -> None:
    recorder = Recorder()
    recorder.short_answer = True
    group = GroupCommit(recorder.flush)
    with pytest.raises(RuntimeError, match="answered 0 of 1"):
        await asyncio.wait_for(group.submit(1), timeout=10)


async def test_a_cancelled_drainer_fails_everything_it_held() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    group = GroupCommit(recorder.flush)
    first = asyncio.create_task(group.submit(1))
    await recorder.entered.wait()
    queued = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    drainer = group._drainer
    assert drainer is not None
    drainer.cancel()
    for caller in (first, queued):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, timeout=10)
