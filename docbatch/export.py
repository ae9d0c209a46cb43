"""Results out, in bulk: a job's outputs as files in a folder, or as JSON lines.

:func:`export_job` writes one file per item with an output, at the item's path in its
directory: ``a/b/report.pdf`` becomes ``a/b/report.pdf.md`` for a parse job (the
markdown of the output) and ``a/b/report.pdf.json`` for classify and extract (the JSON
result), beside ``_docbatch.jsonl``, a manifest with one line per item of the job::

    {"name": "a/b/report.pdf", "item_id": "dfl-…", "status": "completed",
     "output": "a/b/report.pdf.md", "error_message": null, "skip_reason": null,
     "parameters_hash": "…", "result_id": "res-…"}

Items skipped as already processed have the output they reuse; failed ones have their
error and no file. Exporting again writes the same files and the same manifest, and
leaves files that are already identical untouched (their modification times too).
Every write goes to a temporary file renamed into place. Names never leave the folder:
``..`` components, absolute paths and backslashes are neutralized.

:func:`result_lines` yields the same job as JSON lines with each output inline (or a
reference to it), for ``GET …/{job_id}/results.jsonl``. Both page through the job's
items in bounded batches and hold one output at a time: memory stays flat whatever the
job's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, DocbatchError, TooLargeError
from docbatch.models import ItemStatus, JobType
from docbatch.store import Store
from docbatch.store.tables import JobItemRow, JobRow, ProcessingResultRow

MANIFEST_NAME = "_docbatch.jsonl"
PAGE_SIZE = 500
"""Items read from the store per query."""
MAX_COMPONENT_BYTES = 200
"""A path component's longest encoding: NAME_MAX (255 bytes) leaves room for the suffix,
a duplicate's item id and a temporary file's affixes."""
INLINE_LIMIT_BYTES = 1 << 20
"""``content=auto`` inlines outputs up to this size and references larger ones."""
FOLLOW_EVERY_SECONDS = 2.0
FOLLOW_OVERLAP = timedelta(seconds=10)
"""How far before the previous pass began a following pass looks back (see ExportFollower)."""
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK_BYTES = 64 * 1024
READ_WINDOW = 16
"""Outputs read together (one thread hop for local blobs), and the most held at a time."""


# ------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item of a job and the result it points at (None: failed, pending, …)."""

    item: JobItemRow
    result: ProcessingResultRow | None


async def iter_item_results(
    store: Store,
    job_id: str,
    *,
    status: ItemStatus | None = None,
    ended_since: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[ItemResult]:
    """A job's items in listing order with their results, ``page_size`` per query."""
    after = 0
    while True:
        page = await store.item_results_page(
            job_id, after=after, limit=page_size, status=status, ended_since=ended_since
        )
        for item, result in page:
            yield ItemResult(item, result)
        if len(page) < page_size:
            return
        after = page[-1][0].ordinal


async def _windows(
    entries: AsyncIterator[ItemResult], size: int
) -> AsyncIterator[list[ItemResult]]:
    window: list[ItemResult] = []
    async for entry in entries:
        window.append(entry)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


Read = bytes | DocbatchError | None
"""An item's output as read: its bytes, why they could not be read, or None (no output)."""


async def read_outputs(
    blobs: BlobStore, window: list[ItemResult], *, max_bytes: int | None = None
) -> list[Read]:
    """The outputs of a window of items, read together (one thread hop for local blobs)."""
    wanted = [
        (index, entry.result.output_location)
        for index, entry in enumerate(window)
        if entry.result is not None
    ]
    read = await blobs.read_many([location for _, location in wanted], max_bytes=max_bytes)
    outputs: list[Read] = [None] * len(window)
    for (index, _), value in zip(wanted, read, strict=True):
        outputs[index] = value
    return outputs


def _parse_document(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def render_output(job_type: JobType, raw: bytes) -> bytes:
    """The file a stored output becomes: the markdown of a parse, else indented JSON.

    An output that is not what its job type produces is written as it is stored.
    """
    document = _parse_document(raw)
    if job_type == JobType.PARSE:
        if isinstance(document, dict) and isinstance(document.get("markdown"), str):
            return str(document["markdown"]).encode()
        return raw
    if document is None:
        return raw
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def inline_content(job_type: JobType, raw: bytes) -> Any:
    """A stored output as a JSON value: a parse's markdown, the JSON of the others.

    An output that is not what its job type produces is given as its text.
    """
    document = _parse_document(raw)
    if job_type == JobType.PARSE:
        if isinstance(document, dict) and isinstance(document.get("markdown"), str):
            return document["markdown"]
        return raw.decode(errors="replace")
    return document if document is not None else raw.decode(errors="replace")


def output_suffix(job_type: JobType) -> str:
    """The suffix an exported output file adds to its item's name."""
    return ".md" if job_type == JobType.PARSE else ".json"


# --------------------------------------------------------------------- names


def _component(part: str) -> str:
    part = part.replace("\0", "%00")
    if part == "..":
        return "%2E%2E"
    encoded = part.encode()
    if len(encoded) <= MAX_COMPONENT_BYTES:
        return part
    digest = hashlib.sha256(encoded).hexdigest()[:16]
    kept = encoded[: MAX_COMPONENT_BYTES - len(digest) - 1].decode(errors="ignore")
    return f"{kept}~{digest}"


def safe_relative_path(name: str) -> PurePosixPath | None:
    """``name`` as a relative path that stays inside any folder it is joined to.

    Backslashes separate like slashes; empty and ``.`` components (hence a leading
    ``/``) are dropped; ``..`` becomes ``%2E%2E``, so ``../x`` lands apart from ``x``;
    NUL becomes ``%00``; a component over ``MAX_COMPONENT_BYTES`` is cut and ends with
    a hash of the whole. None when nothing is left of the name.
    """
    parts = [_component(p) for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def output_relative_path(
    name: str, item_id: str, job_type: JobType, *, duplicate: bool = False
) -> PurePosixPath:
    """Where an item's output goes in an export folder, relative to it.

    ``duplicate``: other items of the job have the same name; the item id then tells
    their files apart (``report.pdf~dfl-….md``). A name with nothing left becomes the
    item id.
    """
    path = safe_relative_path(name)
    if path is None:
        path, duplicate = PurePosixPath(_component(item_id)), False
    stem = f"{path.name}~{_component(item_id)}" if duplicate else path.name
    return path.with_name(stem + output_suffix(job_type))


# -------------------------------------------------------------------- writing


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
    job = await store.get_job(job_id, project_id=project_id)
    root = await asyncio.to_thread(_prepare_root, out_dir)
    duplicates = await store.duplicate_item_names(job_id) if job.directory_id is None else set()
    stats = ExportStats(out_dir=root, job_id=job_id, job_status=job.status)
    manifest = await asyncio.to_thread(_Manifest, root) if since is None else None
    entries = iter_item_results(store, job_id, ended_since=since, page_size=page_size)
    try:
        async for window in _windows(entries, READ_WINDOW):
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


# ---------------------------------------------------------------- JSON lines


class ContentMode(StrEnum):
    """How ``results.jsonl`` gives each output."""

    AUTO = "auto"
    """Inline up to ``INLINE_LIMIT_BYTES``, a reference beyond."""
    INLINE = "inline"
    REFERENCE = "reference"


def processing_results_path(item_id: str) -> str:
    """The API path of an item's processing results."""
    return f"/api/v1/beta/batch-processing/items/{item_id}/processing-results"


def _content(job_type: JobType, read: Read) -> tuple[Any, str | None]:
    """``(the inline content or None, why it is not inline when it was wanted)``."""
    if read is None:
        return None, None
    if isinstance(read, TooLargeError):
        return None, f"not inline: {read} (content=auto); read it from output_s3_path"
    if isinstance(read, DocbatchError):
        return None, f"output not readable: {read}"
    return inline_content(job_type, read), None


def result_line(entry: ItemResult, job: JobRow, read: Read) -> dict[str, Any]:
    """One item's line of ``results.jsonl``; ``read``: its output's bytes (or why not)."""
    item, result = entry.item, entry.result
    content, content_error = _content(JobType(job.job_type), read)
    return {
        "item_id": item.item_id,
        "item_name": item.item_name,
        "status": item.status,
        "error_message": item.error_message,
        "skip_reason": item.skip_reason,
        "parameters_hash": result.parameters_hash if result else job.parameters_hash,
        "result_id": result.result_id if result else None,
        "output_s3_path": result.output_location if result else None,
        "processing_results_path": processing_results_path(item.item_id) if result else None,
        "content": content,
        "content_error": content_error,
    }


async def result_lines(
    store: Store,
    blobs: BlobStore,
    job: JobRow,
    *,
    mode: ContentMode = ContentMode.AUTO,
    status: ItemStatus | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[bytes]:
    """The job's items as JSON lines, in chunks of about 64 KiB (never the whole body).

    The outputs of ``READ_WINDOW`` items are read together (one thread hop for local
    blobs), so at most that many outputs are held at a time.
    """
    chunk: list[bytes] = []
    size = 0
    entries = iter_item_results(store, job.id, status=status, page_size=page_size)
    async for window in _windows(entries, READ_WINDOW):
        outputs: list[Read] = [None] * len(window)
        if mode != ContentMode.REFERENCE:
            limit = INLINE_LIMIT_BYTES if mode == ContentMode.AUTO else None
            outputs = await read_outputs(blobs, window, max_bytes=limit)
        for entry, read in zip(window, outputs, strict=True):
            line = json.dumps(result_line(entry, job, read), ensure_ascii=False)
            encoded = line.encode() + b"\n"
            chunk.append(encoded)
            size += len(encoded)
        if size >= _CHUNK_BYTES:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)
