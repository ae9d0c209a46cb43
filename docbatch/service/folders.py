"""Local folders as directories: scanned recursively, hashed by content (a file left
unchanged keeps its hash) and synced with the store."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from docbatch.blobs import path_to_location
from docbatch.errors import ConfigError
from docbatch.store import FileSpec, Store, SyncStats
from docbatch.store.tables import DirectoryRow

_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RegisteredFolder:
    """A local folder registered as a directory, and what the sync changed."""

    directory: DirectoryRow
    stats: SyncStats
    files: int


async def register_local_folder(store: Store, folder: Path, *, project_id: str) -> RegisteredFolder:
    """Register a local folder (recursively) as a directory, reusing it on later runs.

    Files are referenced in place, not copied. A file whose size and modification time
    are unchanged keeps its content hash; others are hashed again, so new and changed
    files are picked up by content. Hidden files and folders are ignored.
    """
    root = await asyncio.to_thread(lambda: folder.expanduser().resolve())
    if not await asyncio.to_thread(root.is_dir):
        raise ConfigError(f"not a directory: {folder}", field="path")
    directory = await store.directories.get_or_create_directory(
        project_id=project_id, name=root.name or str(root), source_path=str(root)
    )
    known = await store.directories.file_fingerprints(directory.id)
    specs = await asyncio.to_thread(_scan_folder, root, known)
    stats = await store.directories.sync_files(
        directory_id=directory.id, project_id=project_id, files=specs, remove_missing=True
    )
    return RegisteredFolder(directory=directory, stats=stats, files=len(specs))


def _scan_folder(root: Path, known: dict[str, tuple[int, int | None, str]]) -> list[FileSpec]:
    specs: list[FileSpec] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            relative = path.relative_to(root).as_posix()
            previous = known.get(relative)
            if (
                previous is not None
                and previous[0] == stat.st_size
                and previous[1] == stat.st_mtime_ns
            ):
                content_hash = previous[2]
            else:
                content_hash = _sha256(path)
            specs.append(
                FileSpec(
                    path=relative,
                    size=stat.st_size,
                    content_hash=content_hash,
                    storage_location=path_to_location(path),
                    mime_type=mimetypes.guess_type(name)[0],
                    mtime_ns=stat.st_mtime_ns,
                )
            )
    return specs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
