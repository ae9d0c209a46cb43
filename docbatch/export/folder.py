"""Exporting a job's outputs to a folder: a file per output and the manifest, each
written atomically, in one pass or pass after pass while the job runs."""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, DocbatchError
from docbatch.export.names import MAX_COMPONENT_BYTES, output_relative_path
from docbatch.export.reading import (
    PAGE_SIZE,
    READ_WINDOW,
    ItemResult,
    Read,
    iter_item_results,
    read_outputs,
    render_output,
    windows,
)
from docbatch.models import ItemStatus, JobType
from docbatch.store import Store
from docbatch.store.tables import JobRow

MANIFEST_NAME = "_docbatch.jsonl"
FOLLOW_EVERY_SECONDS = 2.0
FOLLOW_OVERLAP = timedelta(seconds=10)
"""How far before the previous pass began a following pass looks back (see ExportFollower)."""
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ExportStats:
    """What one export pass found and did."""

    out_dir: Path
    job_id: str
    job_status: str
    items: int = 0
    """Items the pass covered (every item of the job for a full pass)."""
    files: int = 0
    """Output files the pass covered: ``written`` + ``unchanged``."""
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    """Failed items (in the manifest with their error, no file)."""
    errors: int = 0
    """Outputs that could not be read or written (in the manifest with the reason)."""
    manifest: Path | None = None
    """The manifest written (None: a pass over recent items only writes no manifest)."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, Any]:
        """The figures as plain JSON values."""
        values = asdict(self)
        values["out_dir"] = str(self.out_dir)
        values["manifest"] = str(self.manifest) if self.manifest else None
        values["started_at"] = self.started_at.isoformat()
        return values


class ExportPathError(DocbatchError):
    """An output would land outside the export folder (a symbolic link inside it)."""


def _prepare_root(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out_dir}: {exc.strerror}", field="output") from None
    root = out_dir.resolve()
    if not os.access(root, os.W_OK):
        raise ConfigError(f"cannot write to {out_dir}", field="output")
    return root


def _atomic_write(path: Path, data: bytes) -> None:
    prefix = f".{path.name[:MAX_COMPONENT_BYTES]}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_if_changed(root: Path, relative: PurePosixPath, data: bytes) -> bool:
    """Write ``data`` at ``root/relative`` atomically unless it is there already.

    Returns whether it wrote. ``root`` must be resolved; a path that a symbolic link
    inside it would take elsewhere is refused (``ExportPathError``).
    """
    path = root.joinpath(*relative.parts)
    if not path.parent.resolve().is_relative_to(root):
        raise ExportPathError(f"{relative} would be written outside {root}")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, data)
    return True


class _Manifest:
    """The manifest, streamed to a temporary file and renamed over the old one if it differs."""

    def __init__(self, root: Path) -> None:
        self.path = root / MANIFEST_NAME
        fd, self._tmp = tempfile.mkstemp(dir=root, prefix=f".{MANIFEST_NAME}.", suffix=".tmp")
        self._handle = os.fdopen(fd, "wb")

    def write(self, lines: list[bytes]) -> None:
        self._handle.writelines(lines)

    def commit(self) -> bool:
        """Put the manifest in place; False if the one there was identical (kept)."""
        self._handle.close()
        tmp = Path(self._tmp)
        if self.path.is_file() and filecmp.cmp(tmp, self.path, shallow=False):
            tmp.unlink()
            return False
        os.replace(tmp, self.path)
        return True

    def discard(self) -> None:
        self._handle.close()
        Path(self._tmp).unlink(missing_ok=True)


def _manifest_line(
    entry: ItemResult, job: JobRow, output: str | None, problem: str | None
) -> bytes:
    item, result = entry.item, entry.result
    line = {
        "name": item.item_name,
        "item_id": item.item_id,
        "status": item.status,
        "output": output,
        "error_message": item.error_message or problem,
        "skip_reason": item.skip_reason,
        "parameters_hash": result.parameters_hash if result else job.parameters_hash,
        "result_id": result.result_id if result else None,
    }
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


def _export_item(
    entry: ItemResult,
    read: Read,
    root: Path,
    job_type: JobType,
    duplicates: set[str],
    stats: ExportStats,
) -> tuple[str | None, str | None]:
    """Write one item's output file; ``(its path relative to root, a problem)``."""
    item = entry.item
    if item.status == ItemStatus.FAILED.value:
        stats.failed += 1
    if read is None:
        return None, None
    relative = output_relative_path(
        item.item_name, item.item_id, job_type, duplicate=item.item_name in duplicates
    )
    try:
        if isinstance(read, DocbatchError):
            raise read
        written = write_if_changed(root, relative, render_output(job_type, read))
    except (DocbatchError, OSError) as exc:
        stats.errors += 1
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, f"output not exported: {reason}"
    stats.files += 1
    if written:
        stats.written += 1
    else:
        stats.unchanged += 1
    return relative.as_posix(), None


def _export_window(
    window: list[ItemResult],
    outputs: list[Read],
    root: Path,
    job: JobRow,
    duplicates: set[str],
    stats: ExportStats,
    manifest: _Manifest | None,
) -> None:
    """Write a window's output files and manifest lines (in one thread hop)."""
    job_type = JobType(job.job_type)
    lines = []
    for entry, read in zip(window, outputs, strict=True):
        stats.items += 1
        output, problem = _export_item(entry, read, root, job_type, duplicates, stats)
        if manifest is not None:
            lines.append(_manifest_line(entry, job, output, problem))
    if manifest is not None:
        manifest.write(lines)


async def export_job(
    store: Store,
    blobs: BlobStore,
    job_id: str,
    out_dir: Path,
    *,
    since: datetime | None = None,
    project_id: str | None = None,
    page_size: int = PAGE_SIZE,
) -> ExportStats:
    """Write the outputs of a job's items to ``out_dir``, and the manifest.

    A full pass (``since`` None) covers every item and writes ``_docbatch.jsonl``; a
    pass with ``since`` covers the items that ended at or after it and writes no
    manifest (cheap enough to repeat while a job runs). The job may be running: what
    has ended is exported. ``NotFoundError`` if the job is absent (or in another
    project), ``ConfigError`` if ``out_dir`` cannot be written.
    """
    job = await store.jobs.get_job(job_id, project_id=project_id)
    root = await asyncio.to_thread(_prepare_root, out_dir)
    duplicates = (
        await store.items.duplicate_item_names(job_id) if job.directory_id is None else set()
    )
    stats = ExportStats(out_dir=root, job_id=job_id, job_status=job.status)
    manifest = await asyncio.to_thread(_Manifest, root) if since is None else None
    entries = iter_item_results(store, job_id, ended_since=since, page_size=page_size)
    try:
        async for window in windows(entries, READ_WINDOW):
            outputs = await read_outputs(blobs, window)
            await asyncio.to_thread(
                _export_window, window, outputs, root, job, duplicates, stats, manifest
            )
        if manifest is not None:
            await asyncio.to_thread(manifest.commit)
            stats.manifest = manifest.path
    except BaseException:
        if manifest is not None:
            await asyncio.to_thread(manifest.discard)
        raise
    return stats


class ExportFollower:
    """Exports a running job's outputs pass after pass, each covering what ended lately.

    A pass covers the items that ended since ``FOLLOW_OVERLAP`` before the previous
    pass began: an item's end time is taken when its transaction starts, so an item
    committed after a pass read the store may carry an earlier time than that pass saw.
    Files already identical are not rewritten, so the overlap costs reads only. The
    first pass covers everything that ended so far. Only a full pass (``export_job``
    without ``since``) writes the manifest.
    """

    def __init__(self, store: Store, blobs: BlobStore, job_id: str, out_dir: Path) -> None:
        self._store = store
        self._blobs = blobs
        self._job_id = job_id
        self._out_dir = out_dir
        self._since = _BEGINNING
        self.files = 0
        """Files written so far (over every pass)."""

    async def step(self) -> ExportStats:
        """One pass over the items that ended since shortly before the previous pass."""
        started = datetime.now(UTC)
        stats = await export_job(
            self._store, self._blobs, self._job_id, self._out_dir, since=self._since
        )
        self._since = started - FOLLOW_OVERLAP
        self.files += stats.written
        return stats


@contextlib.asynccontextmanager
async def following(
    store: Store,
    blobs: BlobStore,
    job_id: str,
    out_dir: Path,
    *,
    every: float = FOLLOW_EVERY_SECONDS,
) -> AsyncIterator[ExportFollower]:
    """Export what has ended every ``every`` seconds while the block runs.

    Leaving the block stops the passes (a file being written is still renamed into
    place or not at all) and raises the error a pass failed with, if one did.
    """
    follower = ExportFollower(store, blobs, job_id, out_dir)

    async def passes() -> None:
        while True:
            await follower.step()
            await asyncio.sleep(every)

    task = asyncio.create_task(passes())
    try:
        yield follower
    finally:
        if task.done():
            task.result()  # a pass failed: say why
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
