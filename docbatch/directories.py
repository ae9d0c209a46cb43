"""Directory and file use cases shared by the HTTP API and the CLI."""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, ConflictError, NotFoundError
from docbatch.models import (
    Directory,
    DirectoryCreateRequest,
    DirectoryFile,
    DirectoryFileAddRequest,
    DirectoryFileUpdateRequest,
    DirectoryUpdateRequest,
    Page,
)
from docbatch.store import FileSpec, Store
from docbatch.store.tables import DirectoryRow, FileRow


def directory_model(row: DirectoryRow) -> Directory:
    """The client's directory shape for a row."""
    return Directory(
        id=row.id,
        name=row.name,
        project_id=row.project_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        description=row.description,
        system_metadata=json.loads(row.system_metadata_json) if row.system_metadata_json else None,
        type=row.type,
        connector_subscription_id=row.connector_subscription_id,
    )


def file_model(row: FileRow) -> DirectoryFile:
    """The client's directory-file shape for a row (its id is the batch item id)."""
    return DirectoryFile(
        id=row.id,
        directory_id=row.directory_id,
        display_name=row.display_name or row.path.rsplit("/", 1)[-1],
        project_id=row.project_id,
        unique_id=row.path,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.updated_at if row.deleted else None,
        file_id=row.id,
        metadata=json.loads(row.metadata_json) if row.metadata_json else None,
        size_bytes=row.size,
        content_hash=row.content_hash,
        mime_type=row.mime_type,
    )


def _encode_token(value: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{value}".encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> int:
    """The position an opaque ``page_token`` stands for (``ConfigError`` if forged)."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, _, value = raw.partition(":")
        if version != "v1":
            raise ValueError(version)
        position = int(value)
    except (ValueError, UnicodeDecodeError):
        raise ConfigError("invalid page_token", field="page_token") from None
    if not 0 <= position < 2**62:
        raise ConfigError("invalid page_token", field="page_token")
    return position


async def create_directory(
    store: Store, request: DirectoryCreateRequest, *, project_id: str
) -> Directory:
    """Create an empty directory in the project."""
    row = await store.directories.create_directory(
        project_id=project_id,
        name=request.name,
        description=request.description,
        type=request.type or "user",
        system_metadata=request.system_metadata,
        connector_subscription_id=request.connector_subscription_id,
    )
    return directory_model(row)


async def get_directory(store: Store, directory_id: str, *, project_id: str) -> Directory:
    """One directory of the project."""
    return directory_model(
        await store.directories.get_directory(directory_id, project_id=project_id)
    )


async def list_directories(
    store: Store,
    *,
    project_id: str,
    name: str | None = None,
    types: Sequence[str] | None = None,
    include_deleted: bool = False,
    page_size: int = 50,
    page_token: str | None = None,
) -> Page[Directory]:
    """A page of the project's directories with the token of the next page."""
    offset = decode_page_token(page_token)
    rows, total = await store.directories.list_directories(
        project_id=project_id,
        name=name,
        types=types or (),
        include_deleted=include_deleted,
        limit=page_size,
        offset=offset,
    )
    following = offset + len(rows)
    return Page[Directory](
        items=[directory_model(row) for row in rows],
        next_page_token=_encode_token(following) if following < total else None,
        total_size=total,
    )


async def update_directory(
    store: Store, directory_id: str, request: DirectoryUpdateRequest, *, project_id: str
) -> Directory:
    """Rename or describe a directory."""
    row = await store.directories.update_directory(
        directory_id, project_id=project_id, name=request.name, description=request.description
    )
    return directory_model(row)


async def delete_directory(store: Store, directory_id: str, *, project_id: str) -> None:
    """Delete a directory unless a job over it is still running."""
    await store.directories.get_directory(directory_id, project_id=project_id)
    running = await store.directories.count_open_jobs(directory_id)
    if running:
        raise ConflictError(
            f"directory {directory_id} has {running} running job(s): cancel them first"
        )
    await store.directories.delete_directory(directory_id, project_id=project_id)


async def upload_file(
    store: Store,
    blobs: BlobStore,
    directory_id: str,
    chunks: AsyncIterator[bytes],
    *,
    project_id: str,
    filename: str | None,
    content_type: str | None = None,
    display_name: str | None = None,
    external_file_id: str | None = None,
    unique_id: str | None = None,
    metadata: str | None = None,
    max_bytes: int | None = None,
) -> DirectoryFile:
    """Store uploaded bytes (content-addressed) and add them to a directory.

    A file with the same ``unique_id`` in the directory gets the new content, like a
    changed file in a local folder: dedup then works on the content hash for both.
    """
    await store.directories.get_directory(directory_id, project_id=project_id)
    parsed_metadata = _parse_metadata(metadata)
    key = unique_id or external_file_id or filename
    if not key:
        raise ConfigError(
            "a file name, unique_id or external_file_id is required", field="unique_id"
        )
    check_unique_id(key, field="unique_id" if unique_id or external_file_id else "upload_file")
    stored = await blobs.put_stream(chunks, max_bytes=max_bytes)
    row = await store.directories.put_file(
        directory_id=directory_id,
        project_id=project_id,
        spec=FileSpec(
            path=key,
            size=stored.size,
            content_hash=stored.sha256,
            storage_location=stored.location,
            mime_type=_mime_type(content_type, filename or key),
            display_name=display_name or (filename or key).rsplit("/", 1)[-1],
            external_file_id=external_file_id,
            metadata=parsed_metadata,
        ),
    )
    return file_model(row)


def check_unique_id(value: str, *, field: str = "unique_id") -> None:
    """Refuse names that could be read as paths out of a directory, or hold control bytes."""
    parts = value.replace("\\", "/").split("/")
    if (
        value.startswith(("/", "\\"))
        or ".." in parts
        or any(ord(char) < 32 for char in value)
        or len(value) > 1024
    ):
        raise ConfigError(
            f"{field}: {value[:80]!r} is not an allowed file name (no absolute paths, '..' "
            "segments or control characters; at most 1024 characters)",
            field=field,
        )


def _parse_metadata(metadata: str | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    try:
        value = json.loads(metadata)
    except json.JSONDecodeError:
        raise ConfigError("metadata must be a JSON object", field="metadata") from None
    if not isinstance(value, dict):
        raise ConfigError("metadata must be a JSON object", field="metadata")
    return value


def _mime_type(content_type: str | None, name: str) -> str | None:
    if content_type and content_type != "application/octet-stream":
        return content_type
    return mimetypes.guess_type(name)[0] or content_type


async def add_file(
    store: Store, directory_id: str, request: DirectoryFileAddRequest, *, project_id: str
) -> DirectoryFile:
    """Add an existing file of the project (by id) to a directory, sharing its bytes."""
    await store.directories.get_directory(directory_id, project_id=project_id)
    try:
        source = await store.directories.get_file(request.file_id)
    except NotFoundError:
        source = None
    if source is None or source.project_id != project_id:
        raise ConfigError(f"file {request.file_id} not found", field="file_id")
    if request.unique_id is not None:
        check_unique_id(request.unique_id)
    row = await store.directories.put_file(
        directory_id=directory_id,
        project_id=project_id,
        spec=FileSpec(
            path=request.unique_id or source.path,
            size=source.size,
            content_hash=source.content_hash,
            storage_location=source.storage_location,
            mime_type=source.mime_type,
            display_name=request.display_name or source.display_name,
            metadata=request.metadata,
        ),
    )
    return file_model(row)


async def list_files(
    store: Store,
    directory_id: str,
    *,
    project_id: str,
    page_size: int = 100,
    page_token: str | None = None,
    unique_id: str | None = None,
    display_name: str | None = None,
    display_name_contains: str | None = None,
    file_id: str | None = None,
    include_deleted: bool = False,
) -> Page[DirectoryFile]:
    """A page of a directory's files, keyset-paged so new uploads never shift pages."""
    await store.directories.get_directory(directory_id, project_id=project_id)
    after = decode_page_token(page_token)
    rows = await store.directories.list_directory_files(
        directory_id,
        after_seq=after,
        limit=page_size + 1,
        unique_id=unique_id,
        display_name=display_name,
        display_name_contains=display_name_contains,
        file_id=file_id,
        include_deleted=include_deleted,
    )
    more = len(rows) > page_size
    rows = rows[:page_size]
    return Page[DirectoryFile](
        items=[file_model(row) for row in rows],
        next_page_token=_encode_token(rows[-1].seq) if more and rows else None,
    )


async def get_file(
    store: Store, directory_id: str, file_id: str, *, project_id: str
) -> DirectoryFile:
    """One live file of a directory."""
    return file_model(await _live_file(store, directory_id, file_id, project_id=project_id))


async def _live_file(store: Store, directory_id: str, file_id: str, *, project_id: str) -> FileRow:
    await store.directories.get_directory(directory_id, project_id=project_id)
    try:
        row = await store.directories.get_file(file_id)
    except NotFoundError:
        row = None
    if row is None or row.directory_id != directory_id or row.deleted:
        raise NotFoundError(f"file {file_id} not found in directory {directory_id}")
    return row


async def update_file(
    store: Store,
    directory_id: str,
    file_id: str,
    request: DirectoryFileUpdateRequest,
    *,
    project_id: str,
) -> DirectoryFile:
    """Rename, re-key, re-describe or move a file."""
    await _live_file(store, directory_id, file_id, project_id=project_id)
    if request.unique_id is not None:
        check_unique_id(request.unique_id)
    if request.target_directory_id is not None:
        try:
            await store.directories.get_directory(
                request.target_directory_id, project_id=project_id
            )
        except NotFoundError:
            raise ConfigError(
                f"directory {request.target_directory_id} not found", field="target_directory_id"
            ) from None
    try:
        row = await store.directories.update_file(
            file_id,
            project_id=project_id,
            display_name=request.display_name,
            unique_id=request.unique_id,
            metadata=request.metadata,
            directory_id=request.target_directory_id,
        )
    except IntegrityError:
        raise ConflictError("a file with that unique_id already exists in the directory") from None
    return file_model(row)


async def delete_file(store: Store, directory_id: str, file_id: str, *, project_id: str) -> None:
    """Remove a file from a directory."""
    await _live_file(store, directory_id, file_id, project_id=project_id)
    await store.directories.delete_file(file_id, project_id=project_id)
