"""``run`` and ``retry``: a batch job over a folder of documents (or over the failed items
of an ended job), followed to its end, its outputs written with ``--output`` as it goes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from temporalio.client import Client

from docbatch import export, service, views
from docbatch.cli.common import (
    EXIT_DETACHED,
    EXIT_JOB_NOT_COMPLETED,
    CliError,
    JsonOption,
    blob_store,
    connect_temporal,
    err,
    load_settings,
    open_store,
    out,
    print_json,
    run_command,
)
from docbatch.cli.outputs import print_outputs
from docbatch.cli.progress import print_summary, wait_for_job
from docbatch.models import (
    BatchCreateRequest,
    BatchGetStatusResponse,
    JobStatus,
    JobType,
    format_validation_error,
)
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.tables import JobRow


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
    code = run_command(
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
    settings = load_settings()
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
    async with (
        open_store(settings) as store,
        connect_temporal(settings, embedded=embedded) as client,
    ):
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
            print_json(views.job_model(job))
        else:
            out.print(f"job {job.id} started (workflow {job.workflow_id})")
        return 0
    if output is None:
        final = await wait_for_job(store, client, job.id, quiet=as_json, embedded=embedded)
        exported = None
    else:
        blobs = blob_store(settings)
        async with export.following(store, blobs, job.id, output):
            final = await wait_for_job(store, client, job.id, quiet=as_json, embedded=embedded)
        exported = await export.export_job(store, blobs, job.id, output)
    if final is None:
        if exported is not None:
            print_outputs(output, exported, stream=err)  # what was done so far
        return EXIT_DETACHED
    if as_json:
        print_json(final)
    else:
        await print_summary(store, final)
    if exported is not None:
        print_outputs(output, exported, stream=err if as_json else out)
    if final.job.status != JobStatus.COMPLETED:
        err.print(f"job {job.id} ended {final.job.status.value}: {_reason(final)}")
        return EXIT_JOB_NOT_COMPLETED
    return 0


def retry(
    job_id: str,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once the job exists.")] = False,
    embedded: Annotated[bool, typer.Option("--embedded")] = False,
    as_json: JsonOption = False,
) -> None:
    """Start a new job over the failed items of an ended job (linked by retry_of)."""

    async def go() -> int:
        settings = load_settings()
        async with open_store(settings) as store:
            await store.jobs.get_job(job_id)  # say "not found" before reaching for Temporal
        async with (
            open_store(settings) as store,
            connect_temporal(settings, embedded=embedded) as client,
        ):
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

    raise typer.Exit(run_command(go))


def _reason(status: BatchGetStatusResponse) -> str:
    job = status.job
    if job.error_message:
        return job.error_message
    if job.status == JobStatus.CANCELLED:
        return "cancelled"
    return job.status.value
