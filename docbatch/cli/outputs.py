"""Items' outputs: ``results`` (an item's processing results, or its latest output as
markdown, text or JSON) and ``export`` (a job's outputs written to a folder, with a
manifest).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from docbatch import export, service
from docbatch.cli.common import (
    CliError,
    JsonOption,
    blob_store,
    load_settings,
    open_store,
    out,
    print_json,
    run_command,
)


def print_outputs(shown: Path | None, stats: export.ExportStats, *, stream: Console) -> None:
    """``outputs: DIR (N files, manifest DIR/_docbatch.jsonl)``, and what went wrong."""
    folder = shown or stats.out_dir
    problems = f", {stats.errors} not exported" if stats.errors else ""
    stream.print(
        f"outputs: {folder} ({stats.files} files{problems}, manifest "
        f"{folder / export.MANIFEST_NAME})",
        highlight=False,
        soft_wrap=True,
    )


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
        settings = load_settings()
        async with open_store(settings) as store:
            response = await service.get_results(store, item_id)
            found = response.processing_results or []
            if content:
                if not found:
                    raise CliError(f"item {item_id} has no processing result yet")
                blobs = blob_store(settings)
                text = _render_output(await blobs.read_text(found[-1].output_s3_path), fmt)
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
                return
            if as_json:
                print_json(response)
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

    run_command(go)


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
        settings = load_settings()
        async with open_store(settings) as store:
            stats = await export.export_job(store, blob_store(settings), job_id, out_dir)
        if as_json:
            print_json(stats.as_json())
            return
        out.print(
            f"job {job_id} ({stats.job_status}): {stats.items} items, {stats.written} files "
            f"written, {stats.unchanged} unchanged, {stats.failed} failed",
            highlight=False,
            soft_wrap=True,
        )
        print_outputs(out_dir, stats, stream=out)

    run_command(go)
