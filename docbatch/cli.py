"""The command line: ``starter.py`` (run / status / items / results / export / cancel /
pause / resume / list) and
``docbatch dev`` / ``docbatch worker``.

Human output by default (rich); ``--json`` prints the reference API's JSON shapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm
from rich.table import Table
from temporalio.client import Client

from docbatch import export, service, views
from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, ConflictError, DocbatchError, NotFoundError
from docbatch.logging import configure_logging
from docbatch.models import (
    BatchCreateRequest,
    BatchGetStatusResponse,
    BatchJob,
    ItemStatus,
    JobStatus,
    JobType,
    Page,
    format_validation_error,
)
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.tables import JobRow

app = typer.Typer(
    help="docbatch: durable batch document processing on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

_T = TypeVar("_T")

EXIT_JOB_NOT_COMPLETED = 1
EXIT_USAGE = 2
EXIT_DETACHED = 3

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON shape.")]


class CliError(Exception):
    """A problem to report in one line with a non-zero exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _run(coro_fn: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return asyncio.run(_with_errors(coro_fn))
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exc.code) from None


async def _with_errors(coro_fn: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await coro_fn()
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    except (NotFoundError, ConflictError) as exc:
        raise CliError(str(exc), EXIT_JOB_NOT_COMPLETED) from None
    except DocbatchError as exc:
        raise CliError(str(exc), EXIT_JOB_NOT_COMPLETED) from None


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise CliError(f"invalid settings: {format_validation_error(exc)}") from None
    configure_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level,
                      settings.log_format)  # fmt: skip
    return settings


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    store = await Store.open(settings.effective_database_url)
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _temporal(settings: Settings, *, embedded: bool) -> AsyncIterator[Client]:
    if embedded:
        from docbatch.stack import embedded_stack

        # The summary reports failed items; the SDK's per-failure warnings would repeat
        # them with tracebacks in the middle of the progress bar.
        logging.getLogger("temporalio.activity").setLevel(logging.ERROR)

        async with embedded_stack(settings) as client:
            yield client
        return
    from docbatch.temporal import connect

    try:
        client = await connect(settings)
    except RuntimeError as exc:
        raise CliError(
            f"Temporal is not reachable at {settings.temporal_address} ({exc}); "
            "start the stack with `make up`, or pass --embedded"
        ) from None
    yield client


def _print_json(model: BaseModel | dict[str, Any]) -> None:
    if isinstance(model, BaseModel):
        text = model.model_dump_json(indent=2, by_alias=True)
    else:
        text = json.dumps(model, indent=2, default=str)
    print(text)  # noqa: T201 - machine-readable CLI output


# ------------------------------------------------------------------------ run


def _load_config(job_type: JobType, config_file: Path | None) -> dict[str, Any]:
    if config_file is None:
        if job_type == JobType.CLASSIFY:
            raise CliError("a classify job needs --config FILE.json with at least one rule")
        if job_type == JobType.EXTRACT:
            raise CliError("an extract job needs --config FILE.json with a 'data_schema'")
        return {}
    try:
        data = json.loads(config_file.read_text())
    except OSError as exc:
        raise CliError(f"cannot read --config {config_file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"--config {config_file} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"--config {config_file} must hold a JSON object")
    if job_type == JobType.CLASSIFY and "rules" not in data:
        raise CliError(f"--config {config_file}: a classify config needs 'rules'")
    if job_type == JobType.EXTRACT and "data_schema" not in data:
        parameters = data.get("parameters") or {}
        if not parameters.get("structured_output_json_schema"):
            raise CliError(f"--config {config_file}: an extract config needs 'data_schema'")
    if job_type == JobType.PARSE and "rules" in data:
        raise CliError(f"--config {config_file} has 'rules': use --job-type classify")
    if job_type == JobType.PARSE and "data_schema" in data:
        raise CliError(f"--config {config_file} has 'data_schema': use --job-type extract")
    return data


@app.command()
def run(
    path: Annotated[Path, typer.Argument(help="Folder of documents (processed recursively).")],
    job_type: Annotated[JobType, typer.Option("--job-type", help="parse or classify.")] = (
        JobType.PARSE
    ),
    config: Annotated[
        Path | None, typer.Option("--config", help="Job config JSON (the API's job_config).")
    ] = None,
    page_size: Annotated[int | None, typer.Option("--page-size")] = None,
    continue_as_new_threshold: Annotated[
        int | None, typer.Option("--continue-as-new-threshold")
    ] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once the job exists.")] = False,
    embedded: Annotated[
        bool,
        typer.Option("--embedded", help="Start a dev server (unless one answers) and a worker."),
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Run again safely: the same key returns the job."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Write each item's output to DIR as it finishes (see `export`).",
            metavar="DIR",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Process every file of PATH as one batch job; wait with a progress bar."""
    code = _run(
        lambda: _run_job(
            path,
            job_type,
            config,
            page_size,
            continue_as_new_threshold,
            no_wait,
            embedded,
            as_json,
            idempotency_key,
            output,
        )
    )
    raise typer.Exit(code)


async def _run_job(
    path: Path,
    job_type: JobType,
    config_file: Path | None,
    page_size: int | None,
    threshold: int | None,
    no_wait: bool,
    embedded: bool,
    as_json: bool,
    idempotency_key: str | None,
    output: Path | None,
) -> int:
    settings = _settings()
    body: dict[str, Any] = {"job_config": _load_config(job_type, config_file)}
    if page_size is not None:
        body["page_size"] = page_size
    if threshold is not None:
        body["continue_as_new_threshold"] = threshold
    body["directory_id"] = "(pending)"
    try:
        BatchCreateRequest.model_validate(body)
    except ValidationError as exc:
        raise CliError(f"invalid job config: {format_validation_error(exc)}") from None
    if not await asyncio.to_thread(path.is_dir):
        raise CliError(f"not a directory: {path}")
    if output is not None:
        _check_output(path, output, no_wait=no_wait)
    async with _store(settings) as store, _temporal(settings, embedded=embedded) as client:
        folder = await service.register_local_folder(store, path, project_id=settings.project_id)
        if not as_json:
            stats = folder.stats
            err.print(
                f"directory [bold]{folder.directory.id}[/bold] ({path}): {folder.files} files"
                f" — {stats.added} new, {stats.changed} changed, {stats.removed} removed"
            )
        body["directory_id"] = folder.directory.id
        request = BatchCreateRequest.model_validate(body)
        job = await service.create_job(
            store,
            client,
            settings,
            request,
            project_id=settings.project_id,
            idempotency_key=idempotency_key,
        )
        return await _follow(store, client, job, no_wait=no_wait, embedded=embedded,
                             as_json=as_json, output=output, settings=settings)  # fmt: skip


def _check_output(path: Path, output: Path, *, no_wait: bool) -> None:
    """Refuse an output folder that cannot work: without waiting, or inside PATH."""
    if no_wait:
        raise CliError(
            "--output needs to follow the job: drop --no-wait, or run "
            "`starter.py export JOB DIR` later"
        )
    if output.resolve().is_relative_to(path.resolve()):
        raise CliError(
            f"--output {output} is inside {path}: the next run would process the outputs"
        )


def _blobs(settings: Settings) -> BlobStore:
    return BlobStore(settings.blob_dir, s3_endpoint_url=settings.s3_endpoint_url)


async def _follow(
    store: Store,
    client: Client,
    job: JobRow,
    *,
    no_wait: bool,
    embedded: bool,
    as_json: bool,
    settings: Settings,
    output: Path | None = None,
) -> int:
    """Print the created job, or wait for it and print the summary; the exit code.

    With ``output``, items' outputs are written there while the job runs, and the rest
    (with the manifest) once it ended or the CLI detached from it.
    """
    if no_wait:
        if as_json:
            _print_json(views.job_model(job))
        else:
            out.print(f"job {job.id} started (workflow {job.workflow_id})")
        return 0
    if output is None:
        final = await _wait(store, client, job.id, quiet=as_json, embedded=embedded)
        exported = None
    else:
        blobs = _blobs(settings)
        async with export.following(store, blobs, job.id, output):
            final = await _wait(store, client, job.id, quiet=as_json, embedded=embedded)
        exported = await export.export_job(store, blobs, job.id, output)
    if final is None:
        if exported is not None:
            _print_outputs(output, exported, stream=err)  # what was done so far
        return EXIT_DETACHED
    if as_json:
        _print_json(final)
    else:
        await _print_summary(store, final)
    if exported is not None:
        _print_outputs(output, exported, stream=err if as_json else out)
    if final.job.status != JobStatus.COMPLETED:
        err.print(f"job {job.id} ended {final.job.status.value}: {_reason(final)}")
        return EXIT_JOB_NOT_COMPLETED
    return 0


@app.command()
def retry(
    job_id: str,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once the job exists.")] = False,
    embedded: Annotated[bool, typer.Option("--embedded")] = False,
    as_json: JsonOption = False,
) -> None:
    """Start a new job over the failed items of an ended job (linked by retry_of)."""

    async def go() -> int:
        settings = _settings()
        async with _store(settings) as store:
            await store.get_job(job_id)  # say "not found" before reaching for Temporal
        async with _store(settings) as store, _temporal(settings, embedded=embedded) as client:
            job = await service.retry_failed_items(
                store, client, settings, job_id, project_id=settings.project_id
            )
            if not as_json:
                err.print(f"retrying the failed items of {job_id} as job {job.id}")
            return await _follow(
                store,
                client,
                job,
                no_wait=no_wait,
                embedded=embedded,
                as_json=as_json,
                settings=settings,
            )

    raise typer.Exit(_run(go))


RATE_EVERY_POLLS = 8
"""The progress display polls every 0.25 s and refreshes items/s and ETA every 2 s."""


def _duration_text(seconds: float) -> str:
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
        parts.append(f"ETA {_duration_text(status.eta_seconds)}")
    return " · ".join(parts)


def _reason(status: BatchGetStatusResponse) -> str:
    job = status.job
    if job.error_message:
        return job.error_message
    if job.status == JobStatus.CANCELLED:
        return "cancelled"
    return job.status.value


def _shown(job: BatchJob) -> str:
    """The status people see: ``paused`` for a paused job (the API keeps ``running``)."""
    return "paused" if job.paused and not job.status.is_terminal else job.status.value


async def _wait(
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
                    f"{_shown(job)} · ✓{(job.processed_items or 0) - (job.failed_items or 0)}"
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


async def _print_summary(store: Store, status: BatchGetStatusResponse) -> None:
    job = status.job
    counts = views.job_counts(await store.get_job(job.id))
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
        failed, total = await store.list_items(job.id, status=ItemStatus.FAILED, limit=50)
        errors = Table(title=f"failed items ({total})", show_lines=False)
        errors.add_column("file")
        errors.add_column("error")
        for item in failed:
            errors.add_row(item.item_name, item.error_message or "")
        out.print(errors)


def _print_outputs(shown: Path | None, stats: export.ExportStats, *, stream: Console) -> None:
    """``outputs: DIR (N files, manifest DIR/_docbatch.jsonl)``, and what went wrong."""
    folder = shown or stats.out_dir
    problems = f", {stats.errors} not exported" if stats.errors else ""
    stream.print(
        f"outputs: {folder} ({stats.files} files{problems}, manifest "
        f"{folder / export.MANIFEST_NAME})",
        highlight=False,
        soft_wrap=True,
    )


# -------------------------------------------------------------- other commands


@app.command()
def status(job_id: str, as_json: JsonOption = False) -> None:
    """Show a job's status and progress."""

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            result = await service.get_status(store, job_id)
            if as_json:
                _print_json(result)
                return
            job = result.job
            out.print(
                f"[bold]{job.id}[/bold] {job.job_type.value} — [bold]{_shown(job)}[/bold]"
                f" {result.progress_percentage:.1f}%  total {job.total_items}, processed"
                f" {job.processed_items}, failed {job.failed_items}, skipped {job.skipped_items}"
            )
            rate, eta = result.throughput_items_per_second, result.eta_seconds
            line = "throughput " + (f"{rate:.3g} items/s" if rate is not None else "unknown")
            if not job.status.is_terminal:
                line += ", ETA " + (_duration_text(eta) if eta is not None else "unknown")
            out.print(line)
            if job.error_message:
                out.print(f"error: {job.error_message}")

    _run(go)


@app.command()
def items(
    job_id: str,
    status: Annotated[ItemStatus | None, typer.Option("--status")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """List a job's items, optionally by status."""

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            rows, total = await service.list_items(
                store, job_id, status=status, limit=limit, offset=offset
            )
            if as_json:
                _print_json(Page(items=rows, total_size=total))
                return
            table = Table(title=f"items of {job_id} ({offset + 1}–{offset + len(rows)} of {total})")
            for column in ("item_id", "name", "status", "detail"):
                table.add_column(column)
            for item in rows:
                detail = item.error_message or (item.skip_reason.value if item.skip_reason else "")
                table.add_row(item.item_id, item.item_name, item.status.value, detail)
            out.print(table)

    _run(go)


class OutputFormat(StrEnum):
    """How ``results --content`` prints an output."""

    MARKDOWN = "markdown"
    TEXT = "text"
    JSON = "json"


def _render_output(raw: str, fmt: OutputFormat) -> str:
    """A stored output as the user asked: parse outputs hold markdown, text and pages."""
    if fmt == OutputFormat.JSON:
        return raw
    try:
        document = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if isinstance(document, dict) and isinstance(document.get(fmt.value), str):
        return str(document[fmt.value])
    return json.dumps(document, indent=2, ensure_ascii=False)


@app.command()
def results(
    item_id: str,
    content: Annotated[bool, typer.Option("--content", help="Print the latest output.")] = False,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="With --content: markdown, text or json.")
    ] = OutputFormat.MARKDOWN,
    as_json: JsonOption = False,
) -> None:
    """Show the processing results of an item (a file)."""

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            response = await service.get_results(store, item_id)
            found = response.processing_results or []
            if content:
                if not found:
                    raise CliError(f"item {item_id} has no processing result yet")
                blobs = _blobs(settings)
                text = _render_output(await blobs.read_text(found[-1].output_s3_path), fmt)
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
                return
            if as_json:
                _print_json(response)
                return
            table = Table(title=f"results of {response.item_name} ({item_id})")
            for column in ("result_id", "job_type", "processed_at", "output"):
                table.add_column(column)
            for result in found:
                table.add_row(
                    result.result_id,
                    result.job_type.value,
                    result.processed_at.isoformat(timespec="seconds"),
                    result.output_s3_path,
                )
            out.print(table)

    _run(go)


@app.command("export")
def export_outputs(
    job_id: str,
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the outputs to.")],
    as_json: JsonOption = False,
) -> None:
    """Write a job's outputs to DIR, one file per item at its path, and _docbatch.jsonl.

    Parse outputs become NAME.md (the markdown), classify and extract NAME.json; the
    manifest has a line per item (status, error or output path). Safe to repeat.
    """

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            stats = await export.export_job(store, _blobs(settings), job_id, out_dir)
        if as_json:
            _print_json(stats.as_json())
            return
        out.print(
            f"job {job_id} ({stats.job_status}): {stats.items} items, {stats.written} files "
            f"written, {stats.unchanged} unchanged, {stats.failed} failed",
            highlight=False,
            soft_wrap=True,
        )
        _print_outputs(out_dir, stats, stream=out)

    _run(go)


@app.command()
def cancel(
    job_id: str,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a running job; waits until every item has ended."""

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store, _temporal(settings, embedded=False) as client:
            response = await service.cancel_job(store, client, job_id, reason=reason)
            if as_json:
                _print_json(response)
            else:
                out.print(
                    f"job {job_id} {response.status.value}; "
                    f"{response.processed_items} items were processed before cancellation"
                )

    _run(go)


@app.command()
def pause(job_id: str, as_json: JsonOption = False) -> None:
    """Pause a job: nothing new starts, items in flight finish (resume continues it)."""
    _run(lambda: _pause_or_resume(job_id, paused=True, as_json=as_json))


@app.command()
def resume(job_id: str, as_json: JsonOption = False) -> None:
    """Resume a paused job."""
    _run(lambda: _pause_or_resume(job_id, paused=False, as_json=as_json))


async def _pause_or_resume(job_id: str, *, paused: bool, as_json: bool) -> None:
    settings = _settings()
    async with _store(settings) as store, _temporal(settings, embedded=False) as client:
        response = await service.set_paused(store, client, job_id, paused)
        if as_json:
            _print_json(response)
        else:
            shown = "paused" if response.paused else response.status.value
            out.print(f"job {job_id} {shown}: {response.message}")


@app.command("list")
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
        settings = _settings()
        async with _store(settings) as store:
            jobs, total = await service.list_jobs(
                store,
                status=status,
                job_type=job_type,
                directory_id=directory_id,
                limit=limit,
                offset=offset,
            )
            if as_json:
                _print_json(Page(items=jobs, total_size=total))
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

    _run(go)


@app.command()
def dev() -> None:
    """Start the embedded stack (Temporal dev server + Web UI, worker, API) until Ctrl-C."""
    from docbatch.stack import run_dev

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run_dev(settings, out.print))


@app.command()
def worker() -> None:
    """Run a worker against TEMPORAL_ADDRESS until SIGINT/SIGTERM."""
    import worker as worker_module

    asyncio.run(worker_module.main())


keys = typer.Typer(help="Create, list and revoke API keys (stored hashed; shown once).")
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(
    project: Annotated[str | None, typer.Option("--project", help="Project id.")] = None,
    organization: Annotated[str | None, typer.Option("--organization")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key for a project and print it (the only time it is shown)."""
    from docbatch.auth import create_api_key

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            row, key = await create_api_key(
                store,
                project_id=project or settings.project_id,
                organization_id=organization or settings.organization_id,
                name=name,
            )
        if as_json:
            _print_json(
                {"id": row.id, "key": key, "project_id": row.project_id,
                 "organization_id": row.organization_id}
            )  # fmt: skip
        else:
            out.print(f"key id {row.id} for project {row.project_id}:")
            print(key)  # noqa: T201 - the key itself, alone on a line for scripts

    _run(go)


@keys.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """List API keys (ids, prefixes and projects; never the keys)."""

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            rows = await store.list_api_keys()
        if as_json:
            _print_json(
                {
                    "items": [
                        {
                            "id": row.id,
                            "prefix": row.prefix,
                            "name": row.name,
                            "project_id": row.project_id,
                            "organization_id": row.organization_id,
                            "created_at": row.created_at.isoformat(),
                            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                        }
                        for row in rows
                    ]
                }
            )
            return
        table = Table(title="API keys")
        for column in ("id", "prefix", "project", "organization", "name", "created", "revoked"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row.id,
                row.prefix + "…",
                row.project_id,
                row.organization_id,
                row.name or "",
                row.created_at.isoformat(timespec="seconds"),
                row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "",
            )
        out.print(table)

    _run(go)


@keys.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by id; requests with it then answer 401."""

    async def go() -> None:
        settings = _settings()
        async with _store(settings) as store:
            row = await store.revoke_api_key(key_id)
        out.print(f"revoked {row.id} (project {row.project_id})")

    _run(go)


@app.command()
def api() -> None:
    """Serve the HTTP API (same as ``python -m docbatch.api``)."""
    from docbatch.api.__main__ import main

    main()
