"""Signals, queries and Updates sent as users send them: ``temporal workflow …`` with any input.

The Web UI's "Send a Signal" dialog sends what its input box holds (nothing when left
empty), and the CLI sends each ``--input`` as given. Whatever arrives, no workflow task
may fail: ``cancel`` cancels, ``pause``/``resume`` pause and resume, ``progress``
answers. Every test checks the parent's histories for ``WorkflowTaskFailed`` and replays
them on today's code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from docbatch import service
from docbatch.models import JobStatus
from docbatch.stack import temporal_binary
from docbatch.store.tables import JobRow
from tests.conftest import Stack, StackFactory
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import (
    children_started,
    failed_workflow_tasks,
    parent_histories,
    record_histories,
    replay,
    start_folder_job,
    wait_job,
    wait_until,
    write_text_files,
)
from workflows.handler_input import read_cancel

ITEMS = 24
WINDOW = 2


async def temporal_cli(stack: Stack, *args: str) -> str:
    """Run the ``temporal`` CLI against the test server; its stdout (fails on exit != 0)."""
    target = stack.client.service_client.config.target_host
    process = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        "--address",
        target,
        "--namespace",
        stack.client.namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, f"temporal {' '.join(args)}: {err.decode()}"
    return out.decode()


async def on_job(stack: Stack, job: JobRow, *command: str, inputs: Sequence[str] = ()) -> str:
    """``temporal workflow COMMAND… --workflow-id <the job's parent>`` with ``inputs``."""
    return await temporal_cli(
        stack, "workflow", *command, "--workflow-id", job.workflow_id, *input_flags(list(inputs))
    )


def input_flags(inputs: list[str]) -> list[str]:
    """``--input`` for each JSON value (flags given as such are passed as they are)."""
    if inputs and inputs[0].startswith("--"):
        return inputs
    return [flag for value in inputs for flag in ("--input", value)]


async def running_job(stack: Stack, folder: Path) -> JobRow:
    """A job over ``ITEMS`` slow documents, once its first items completed."""
    write_text_files(folder, ITEMS)
    job = await start_folder_job(stack, folder)

    async def started() -> bool:
        return (await stack.store.jobs.get_job(job.id)).completed_items >= 1

    await wait_until(started)
    return job


async def assert_healthy_histories(stack: Stack, job: JobRow, record: str | None = None) -> None:
    """No workflow task failed, and the histories replay (stored as ``record`` if asked)."""
    histories = await parent_histories(stack, job.workflow_id)
    assert failed_workflow_tasks(histories) == []
    if record is not None:
        record_histories(record, histories)
    await replay(histories)


CANCEL_INPUTS = {
    "no input (the UI's empty box)": ([], None),
    "null": (["null"], None),
    "a plain string": (['"stop"'], "stop"),
    "reason of the wrong type": (['{"reason": 5}'], None),
    "an object without reason": (['{"why": "because"}'], None),
    "a list": (["[1, 2]"], None),
    "a number": (["7"], None),
    "raw bytes, not JSON": (["--input-meta", "encoding=binary/plain", "--input", "stop now"], None),
    "two inputs": (['"first"', '{"reason": "second"}'], "first"),
    "the documented shape": (['{"reason": "enough"}'], "enough"),
}


RECORDED_CANCELS = {
    "no input (the UI's empty box)": "cancel-no-input",
    "a plain string": "cancel-plain-string",
    "reason of the wrong type": "cancel-wrong-type",
}
"""Cases whose histories ``test_replay`` keeps (recorded with DOCBATCH_RECORD_HISTORIES=1)."""


@pytest.mark.parametrize("case", CANCEL_INPUTS, ids=list(CANCEL_INPUTS))
async def test_cancel_signal_with_any_input_cancels(
    make_stack: StackFactory, tmp_path: Path, case: str
) -> None:
    inputs, reason = CANCEL_INPUTS[case]
    async with make_stack(engine=slow_engine, max_concurrent_children=WINDOW) as stack:
        job = await running_job(stack, tmp_path / "docs")

        await on_job(stack, job, "signal", "--name", "cancel", inputs=inputs)
        final = await wait_job(stack, job)

        assert final.job.status == JobStatus.CANCELLED
        ended = await stack.store.jobs.get_job(job.id)
        assert ended.cancelled_items > 0, "the job ran to completion although cancelled"
        assert ended.cancel_reason == reason
        await assert_healthy_histories(stack, job, record=RECORDED_CANCELS.get(case))


@pytest.mark.parametrize("inputs", [[], ["null"], ['"now"'], ['{"x": [1]}'], ["1", "2"]], ids=str)
async def test_pause_and_resume_signals_with_any_input(
    make_stack: StackFactory, tmp_path: Path, inputs: list[str]
) -> None:
    async with make_stack(engine=slow_engine, max_concurrent_children=WINDOW) as stack:
        job = await running_job(stack, tmp_path / "docs")

        await on_job(stack, job, "signal", "--name", "pause", inputs=inputs)

        async def paused() -> bool:
            return bool((await stack.store.jobs.get_job(job.id)).paused)

        await wait_until(paused)
        progress = json.loads(
            await on_job(
                stack, job, "query", "--name", "progress", "--output", "json", inputs=inputs
            )
        )
        assert progress["queryResult"][0]["status"] == "paused"
        assert progress["queryResult"][0]["paused"] is True

        await on_job(stack, job, "signal", "--name", "resume", inputs=inputs)
        final = await wait_job(stack, job)

        assert final.job.status == JobStatus.COMPLETED
        assert final.job.processed_items == ITEMS
        assert final.job.paused is False
        record = "pause-resume-no-input" if not inputs else None
        await assert_healthy_histories(stack, job, record=record)


async def test_updates_with_malformed_input_are_answered_not_failed(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    async with make_stack(engine=slow_engine, max_concurrent_children=WINDOW) as stack:
        job = await running_job(stack, tmp_path / "docs")
        update = ("update", "execute", "--output", "json", "--name")

        paused = json.loads(
            await on_job(stack, job, *update, "pause_job", inputs=['{"unexpected": true}'])
        )
        assert paused["result"]["paused"] is True
        assert paused["result"]["status"] == "paused"
        assert (await stack.store.jobs.get_job(job.id)).paused

        await on_job(stack, job, *update, "resume_job", inputs=["null"])
        cancelled = json.loads(await on_job(stack, job, *update, "cancel_job"))
        assert cancelled["result"]["status"] == JobStatus.CANCELLED.value

        # Once the job ended a pause can never be honoured: it is refused, nothing fails.
        with pytest.raises(AssertionError, match=r"already (completed|cancelled)"):
            await on_job(stack, job, *update, "pause_job")
        await assert_healthy_histories(stack, job)


async def test_pause_update_then_cancel_while_paused(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    async with make_stack(engine=slow_engine, max_concurrent_children=WINDOW) as stack:
        job = await running_job(stack, tmp_path / "docs")

        paused = await service.set_paused(stack.store, stack.client, job.id, True)
        assert paused.paused and paused.status == JobStatus.RUNNING
        status = await service.get_status(stack.store, job.id)
        assert status.job.paused and status.job.status == JobStatus.RUNNING
        started = sum(children_started(h) for h in await parent_histories(stack, job.workflow_id))

        cancelled = await service.cancel_job(stack.store, stack.client, job.id, reason="stop")

        assert cancelled.status == JobStatus.CANCELLED
        histories = await parent_histories(stack, job.workflow_id)
        assert sum(children_started(h) for h in histories) == started
        ended = await service.get_status(stack.store, job.id)
        assert ended.job.paused is False  # a job that ended is not paused
        assert (await stack.store.jobs.get_job(job.id)).cancelled_items > 0
        await assert_healthy_histories(stack, job)


@pytest.mark.parametrize(
    ("args", "reason", "well_formed"),
    [
        ((), None, False),
        ((None,), None, False),
        (("  why  ",), "why", False),
        (({"reason": "x", "extra": 1},), "x", True),
        (({"reason": None},), None, True),
        (({"reason": ["x"]},), None, False),
        (({},), None, True),
        ((3.5,), None, False),
        (("a" * 5000,), "a" * 1000, False),
    ],
)
def test_read_cancel(args: tuple[object, ...], reason: str | None, well_formed: bool) -> None:
    read = read_cancel(args)
    assert (read.reason, read.well_formed) == (reason, well_formed)
    assert read.well_formed or read.problem
