"""Following a job while it runs: the progress bar (items/s and ETA), Ctrl-C (cancel it or
detach from it), and the summary once it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm
from rich.table import Table
from temporalio.client import Client

from docbatch import service, views
from docbatch.cli.common import err, out
from docbatch.models import BatchGetStatusResponse, BatchJob, ItemStatus
from docbatch.store import Store

RATE_EVERY_POLLS = 8
"""The progress display polls every 0.25 s and refreshes items/s and ETA every 2 s."""


def duration_text(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``2h 07m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _rate_text(status: BatchGetStatusResponse) -> str:
    """``12.5 items/s · ETA 1m 20s`` (what is known of it; empty when nothing is)."""
    parts = []
    if status.throughput_items_per_second is not None:
        parts.append(f"{status.throughput_items_per_second:.3g} items/s")
    if status.eta_seconds is not None and not status.job.status.is_terminal:
        parts.append(f"ETA {duration_text(status.eta_seconds)}")
    return " · ".join(parts)


def shown_status(job: BatchJob) -> str:
    """The status people see: ``paused`` for a paused job (the API keeps ``running``)."""
    return "paused" if job.paused and not job.status.is_terminal else job.status.value


async def wait_for_job(
    store: Store, client: Client, job_id: str, *, quiet: bool, embedded: bool
) -> BatchGetStatusResponse | None:
    """Poll the store until the job ends; on Ctrl-C ask whether to cancel or detach."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"),
            console=err,
            disable=quiet,
            transient=False,
        ) as bar:
            task = bar.add_task(job_id, total=None, detail="", rate="")
            polls = 0
            while True:
                # Throughput costs a query: refresh it every few polls, not every one.
                with_rate = polls % RATE_EVERY_POLLS == 0
                polls += 1
                status = await service.get_status(store, job_id, throughput=with_rate)
                job = status.job
                if with_rate:
                    bar.update(task, rate=_rate_text(status))
                done = (job.processed_items or 0) + (job.skipped_items or 0)
                detail = (
                    f"{shown_status(job)} · ✓{(job.processed_items or 0) - (job.failed_items or 0)}"
                    f" ✗{job.failed_items or 0} ↷{job.skipped_items or 0}"
                )
                bar.update(task, total=job.total_items or None, completed=done, detail=detail)
                if job.status.is_terminal:
                    if not with_rate:
                        status = await service.get_status(store, job_id)
                    bar.update(task, completed=job.total_items, rate=_rate_text(status))
                    return status
                if interrupted.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(interrupted.wait(), timeout=0.25)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    cancel = False
    if sys.stdin.isatty():
        cancel = await asyncio.to_thread(
            Confirm.ask, f"Cancel job {job_id}? (No detaches; the job continues)", default=False
        )
    if cancel:
        await service.cancel_job(store, client, job_id, reason="cancelled from the CLI")
        return await service.get_status(store, job_id)
    hint = " once a worker runs again (make up)" if embedded else ""
    err.print(f"detached: job {job_id} continues{hint}; follow it with: starter.py status {job_id}")
    return None


async def print_summary(store: Store, status: BatchGetStatusResponse) -> None:
    job = status.job
    counts = views.job_counts(await store.jobs.get_job(job.id))
    table = Table(title=f"job {job.id} — {job.status.value}", show_header=True)
    for column in ("total", "completed", "failed", "skipped", "cancelled", "wall time", "items/s"):
        table.add_column(column, justify="right")
    wall = (
        f"{(job.completed_at - job.started_at).total_seconds():.1f}s"
        if job.completed_at and job.started_at
        else "-"
    )
    rate = status.throughput_items_per_second
    table.add_row(
        str(counts.total),
        f"[green]{counts.completed}[/green]",
        f"[red]{counts.failed}[/red]" if counts.failed else "0",
        str(counts.skipped),
        str(counts.cancelled),
        wall,
        f"{rate:.3g}" if rate is not None else "-",
    )
    out.print(table)
    if counts.failed:
        failed, total = await store.items.list_items(job.id, status=ItemStatus.FAILED, limit=50)
        errors = Table(title=f"failed items ({total})", show_lines=False)
        errors.add_column("file")
        errors.add_column("error")
        for item in failed:
            errors.add_row(item.item_name, item.error_message or "")
        out.print(errors)
