"""What every command shares: the consoles, exit codes and one-line errors, the settings,
and the store, Temporal and blob storage the commands open.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from temporalio.client import Client

from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, ConflictError, DocbatchError, NotFoundError
from docbatch.logging import configure_logging
from docbatch.loop import run_main
from docbatch.models import format_validation_error
from docbatch.settings import Settings
from docbatch.store import Store

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


def run_command(coro_fn: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return run_main(_with_errors(coro_fn))
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


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise CliError(f"invalid settings: {format_validation_error(exc)}") from None
    configure_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level,
                      settings.log_format)  # fmt: skip
    return settings


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    store = await Store.open(settings.effective_database_url)
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def connect_temporal(settings: Settings, *, embedded: bool) -> AsyncIterator[Client]:
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


def print_json(model: BaseModel | dict[str, Any]) -> None:
    if isinstance(model, BaseModel):
        text = model.model_dump_json(indent=2, by_alias=True)
    else:
        text = json.dumps(model, indent=2, default=str)
    print(text)  # noqa: T201 - machine-readable CLI output


def blob_store(settings: Settings) -> BlobStore:
    return BlobStore(settings.blob_dir, s3_endpoint_url=settings.s3_endpoint_url)
