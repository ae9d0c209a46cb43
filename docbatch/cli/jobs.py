"""Jobs once they exist: ``status``, ``items`` and ``list`` show them; ``cancel``,
``pause`` and ``resume`` control them through Temporal.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from docbatch import service
from docbatch.cli.common import (
    JsonOption,
    connect_temporal,
    load_settings,
    open_store,
    out,
    print_json,
    run_command,
)
from docbatch.cli.progress import duration_text, shown_status
from docbatch.models import ItemStatus, JobStatus, JobType, Page


def status(job_id: str, as_json: JsonOption = False) -> None:
    """Show a job's status and progress."""

    async def go() -> None:
        settings = load_settings()
        async with open_store(settings) as store:
            result = await service.get_status(store, job_id)
            if as_json:
                print_json(result)
                return
            job = result.job
            out.print(
                f"[bold]{job.id}[/bold] {job.job_type.value} — [bold]{shown_status(job)}[/bold]"
                f" {result.progress_percentage:.1f}%  total {job.total_items}, processed"
                f" {job.processed_items}, failed {job.failed_items}, skipped {job.skipped_items}"
            )
            rate, eta = result.throughput_items_per_second, result.eta_seconds
            line = "throughput " + (f"{rate:.3g} items/s" if rate is not None else "unknown")
            if not job.status.is_terminal:
                line += ", ETA " + (duration_text(eta) if eta is not None else "unknown")
            out.print(line)
            if job.error_message:
                out.print(f"error: {job.error_message}")

    run_command(go)


def items(
    job_id: str,
    status: Annotated[ItemStatus | None, typer.Option("--status")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """List a job's items, optionally by status."""

    async def go() -> None:
        settings = load_settings()
        async with open_store(settings) as store:
            rows, total = await service.list_items(
                store, job_id, status=status, limit=limit, offset=offset
            )
            if as_json:
                print_json(Page(items=rows, total_size=total))
                return
            table = Table(title=f"items of {job_id} ({offset + 1}–{offset + len(rows)} of {total})")
            for column in ("item_id", "name", "status", "detail"):
                table.add_column(column)
            for item in rows:
                detail = item.error_message or (item.skip_reason.value if item.skip_reason else "")
                table.add_row(item.item_id, item.item_name, item.status.value, detail)
            out.print(table)

    run_command(go)


def cancel(
    job_id: str,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a running job; waits until every item has ended."""

    async def go() -> None:
        settings = load_settings()
        async with (
            open_store(settings) as store,
            connect_temporal(settings, embedded=False) as client,
        ):
            response = await service.cancel_job(store, client, job_id, reason=reason)
            if as_json:
                print_json(response)
            else:
                out.print(
                    f"job {job_id} {response.status.value}; "
                    f"{response.processed_items} items were processed before cancellation"
                )

    run_command(go)


def pause(job_id: str, as_json: JsonOption = False) -> None:
    """Pause a job: nothing new starts, items in flight finish (resume continues it)."""
    run_command(lambda: _pause_or_resume(job_id, paused=True, as_json=as_json))


def resume(job_id: str, as_json: JsonOption = False) -> None:
    """Resume a paused job."""
    run_command(lambda: _pause_or_resume(job_id, paused=False, as_json=as_json))


async def _pause_or_resume(job_id: str, *, paused: bool, as_json: bool) -> None:
    settings = load_settings()
    async with open_store(settings) as store, connect_temporal(settings, embedded=False) as client:
        response = await service.set_paused(store, client, job_id, paused)
        if as_json:
            print_json(response)
        else:
            shown = "paused" if response.paused else response.status.value
            out.print(f"job {job_id} {shown}: {response.message}")


def list_jobs(
    status: Annotated[JobStatus | None, typer.Option("--status")] = None,
    job_type: Annotated[JobType | None, typer.Option("--job-type")] = None,
    directory_id: Annotated[str | None, typer.Option("--directory-id")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """List jobs, newest first."""

    async def go() -> None:
        settings = load_settings()
        async with open_store(settings) as store:
            jobs, total = await service.list_jobs(
                store,
                status=status,
                job_type=job_type,
                directory_id=directory_id,
                limit=limit,
                offset=offset,
            )
            if as_json:
                print_json(Page(items=jobs, total_size=total))
                return
            table = Table(title=f"jobs ({len(jobs)} of {total})")
            for column in ("id", "type", "status", "total", "processed", "failed", "skipped",
                           "created"):  # fmt: skip
                table.add_column(column)
            for job in jobs:
                table.add_row(
                    job.id,
                    job.job_type.value,
                    job.status.value,
                    str(job.total_items),
                    str(job.processed_items),
                    str(job.failed_items),
                    str(job.skipped_items),
                    job.created_at.isoformat(timespec="seconds") if job.created_at else "",
                )
            out.print(table)

    run_command(go)
