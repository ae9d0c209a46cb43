"""The store's operations. Every write an activity makes is idempotent.

Item status changes are *guarded transitions*: an ``UPDATE … WHERE status IN (…)``
whose row count decides, in the same transaction, whether the job's counter moves. A
retried activity therefore never counts an item twice, and a job's counters always
equal the sum of its items' statuses.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from docbatch.errors import NotFoundError
from docbatch.ids import DIRECTORY_PREFIX, FILE_PREFIX, new_id
from docbatch.models import (
    TERMINAL_JOB_STATUSES,
    ItemStatus,
    JobStatus,
    JobType,
    SkipReason,
)
from docbatch.skips import ListedFile, candidate_hashes, decide
from docbatch.store import db
from docbatch.store.tables import (
    ApiKeyRow,
    DirectoryRow,
    FileRow,
    IdempotencyKeyRow,
    JobItemRow,
    JobRow,
    ProcessingResultRow,
    WebhookEventRow,
)

_OPEN_ITEM_STATUSES = (ItemStatus.PENDING.value, ItemStatus.PROCESSING.value)
_TERMINAL_JOB_VALUES = tuple(s.value for s in TERMINAL_JOB_STATUSES)

_COUNTER_OF_STATUS = {
    ItemStatus.COMPLETED: JobRow.completed_items,
    ItemStatus.FAILED: JobRow.failed_items,
    ItemStatus.SKIPPED: JobRow.skipped_items,
    ItemStatus.CANCELLED: JobRow.cancelled_items,
}


ItemKey = tuple[str, str]
"""A job item: (job id, item id)."""


def _by_job(keys: Iterable[ItemKey]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for job_id, item_id in keys:
        grouped.setdefault(job_id, []).append(item_id)
    # Jobs in one order for every caller: two workers' group commits spanning the same
    # jobs then lock their rows in the same order (Postgres would report a deadlock).
    return dict(sorted(grouped.items()))


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file to register in a directory (from a local folder or an upload)."""

    path: str
    size: int
    content_hash: str
    storage_location: str
    mime_type: str | None = None
    mtime_ns: int | None = None
    display_name: str | None = None
    external_file_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ResultSpec:
    """The output of one processed item."""

    result_id: str
    job_type: JobType
    parameters_hash: str
    content_hash: str
    output_location: str
    output_metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobStart:
    """A job's shape as its first run starts it."""

    total: int
    page_size: int
    continue_as_new_threshold: int
    timeout_seconds: float
    already_terminal: JobStatus | None = None
    """Set when the job had already ended: nothing is started."""


@dataclass(frozen=True, slots=True)
class ListedPage:
    """A page of a job's items: those needing work, and what the page skipped."""

    item_ids: list[str]
    item_names: list[str]
    """Names of ``item_ids`` (same order)."""
    skipped: int
    listed: int
    next_cursor: int
    exhausted: bool


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A job event recorded for delivery."""

    event_id: str
    job_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SyncStats:
    """What a directory sync changed."""

    added: int
    changed: int
    unchanged: int
    removed: int


class Store:
    """Async access to the SQL store (SQLite by default, Postgres by URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._reader, self._writer = db.create_engines(url)
        self._read = async_sessionmaker(self._reader, expire_on_commit=False)
        self._write = async_sessionmaker(self._writer, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the store at ``url``, applying pending migrations first."""
        if migrate:
            await db.upgrade(url)
        return cls(url)

    async def close(self) -> None:
        """Release every pooled connection."""
        await self._reader.dispose()
        if self._writer is not self._reader:
            await self._writer.dispose()

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self._read() as session:
            await session.execute(text("SELECT 1"))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._write() as session, session.begin():
            yield session

    def reading(self) -> AsyncSession:
        """A read session, for the repositories of other aggregates (``async with``)."""
        return self._read()

    def writing(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """A write transaction, for the repositories of other aggregates (``async with``)."""
        return self._transaction()

    def _insert(self, table: Any) -> Any:
        if self._writer.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # ------------------------------------------------------------ directories

    async def get_or_create_directory(
        self, *, project_id: str, name: str, source_path: str | None
    ) -> DirectoryRow:
        """The directory of a local folder (or a new one), created once per project."""
        async with self._transaction() as session:
            if source_path is not None:
                # Insert-if-absent in one statement: two processes registering the same
                # folder on Postgres would otherwise both miss it and both insert it.
                now = utcnow()
                await session.execute(
                    self._insert(DirectoryRow)
                    .values(
                        id=new_id(DIRECTORY_PREFIX),
                        project_id=project_id,
                        name=name,
                        source_path=source_path,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["project_id", "source_path"])
                )
                found = await session.scalar(
                    select(DirectoryRow).where(
                        DirectoryRow.project_id == project_id,
                        DirectoryRow.source_path == source_path,
                    )
                )
                assert found is not None
                if found.deleted_at is not None:
                    found.deleted_at = None
                    found.updated_at = now
                return found
            now = utcnow()
            row = DirectoryRow(
                id=new_id(DIRECTORY_PREFIX),
                project_id=project_id,
                name=name,
                source_path=source_path,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            return row

    async def create_directory(
        self,
        *,
        project_id: str,
        name: str,
        description: str | None = None,
        type: str = "user",
        system_metadata: dict[str, Any] | None = None,
        connector_subscription_id: str | None = None,
    ) -> DirectoryRow:
        """A new, empty directory."""
        now = utcnow()
        row = DirectoryRow(
            id=new_id(DIRECTORY_PREFIX),
            project_id=project_id,
            name=name,
            description=description,
            type=type,
            system_metadata_json=_json_or_none(system_metadata),
            connector_subscription_id=connector_subscription_id,
            created_at=now,
            updated_at=now,
        )
        async with self._transaction() as session:
            session.add(row)
        return row

    async def get_directory(
        self, directory_id: str, *, project_id: str | None = None
    ) -> DirectoryRow:
        """A live directory by id; ``NotFoundError`` if absent, deleted or in another project."""
        async with self._read() as session:
            row = await session.get(DirectoryRow, directory_id)
        if (
            row is None
            or row.deleted_at is not None
            or (project_id is not None and row.project_id != project_id)
        ):
            raise NotFoundError(f"directory {directory_id} not found")
        return row

    async def file_fingerprints(self, directory_id: str) -> dict[str, tuple[int, int | None, str]]:
        """``path → (size, mtime_ns, content_hash)`` of a directory's live files."""
        async with self._read() as session:
            rows = await session.execute(
                select(FileRow.path, FileRow.size, FileRow.mtime_ns, FileRow.content_hash).where(
                    FileRow.directory_id == directory_id, FileRow.deleted.is_(False)
                )
            )
            return {r.path: (r.size, r.mtime_ns, r.content_hash) for r in rows}

    async def sync_files(
        self,
        *,
        directory_id: str,
        project_id: str,
        files: Sequence[FileSpec],
        remove_missing: bool,
    ) -> SyncStats:
        """Upsert files by path; a changed content hash updates the row in place."""
        now = utcnow()
        added = changed = unchanged = removed = 0
        async with self._transaction() as session:
            # Two syncs of one directory at once would both insert its new paths; on
            # Postgres the second waits here (SQLite serialises every writer anyway).
            await session.execute(
                select(DirectoryRow.id).where(DirectoryRow.id == directory_id).with_for_update()
            )
            existing = {
                r.path: r
                for r in (
                    await session.scalars(
                        select(FileRow).where(FileRow.directory_id == directory_id)
                    )
                )
            }
            for spec in files:
                row = existing.get(spec.path)
                if row is None:
                    session.add(
                        FileRow(
                            id=new_id(FILE_PREFIX),
                            directory_id=directory_id,
                            project_id=project_id,
                            path=spec.path,
                            size=spec.size,
                            content_hash=spec.content_hash,
                            mime_type=spec.mime_type,
                            storage_location=spec.storage_location,
                            mtime_ns=spec.mtime_ns,
                            display_name=spec.display_name,
                            external_file_id=spec.external_file_id,
                            metadata_json=_json_or_none(spec.metadata),
                            deleted=False,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    added += 1
                    continue
                if row.content_hash != spec.content_hash or row.deleted:
                    changed += 1
                    row.updated_at = now
                else:
                    unchanged += 1
                row.size = spec.size
                row.content_hash = spec.content_hash
                row.mime_type = spec.mime_type
                row.storage_location = spec.storage_location
                row.mtime_ns = spec.mtime_ns
                row.deleted = False
                if spec.display_name is not None:
                    row.display_name = spec.display_name
                if spec.external_file_id is not None:
                    row.external_file_id = spec.external_file_id
                if spec.metadata is not None:
                    row.metadata_json = _json_or_none(spec.metadata)
            if remove_missing:
                present = {spec.path for spec in files}
                for path, row in existing.items():
                    if path not in present and not row.deleted:
                        row.deleted = True
                        row.updated_at = now
                        removed += 1
        return SyncStats(added=added, changed=changed, unchanged=unchanged, removed=removed)

    async def count_files(self, directory_id: str) -> int:
        """How many live files a directory holds."""
        async with self._read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(FileRow)
                .where(FileRow.directory_id == directory_id, FileRow.deleted.is_(False))
            )
            return int(count or 0)

    async def list_files(self, directory_id: str) -> list[FileRow]:
        """The live files of a directory in registration order."""
        async with self._read() as session:
            rows = await session.scalars(
                select(FileRow)
                .where(FileRow.directory_id == directory_id, FileRow.deleted.is_(False))
                .order_by(FileRow.seq)
            )
            return list(rows)

    async def get_file(self, file_id: str) -> FileRow:
        """A file by id; ``NotFoundError`` if absent."""
        async with self._read() as session:
            row = await session.scalar(select(FileRow).where(FileRow.id == file_id))
        if row is None:
            raise NotFoundError(f"file {file_id} not found")
        return row

    async def get_files(self, file_ids: Iterable[str], *, project_id: str) -> list[FileRow]:
        """The live files among ``file_ids`` that belong to the project."""
        ids = list(dict.fromkeys(file_ids))
        found: list[FileRow] = []
        async with self._read() as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                found.extend(
                    await session.scalars(
                        select(FileRow).where(
                            FileRow.id.in_(chunk),
                            FileRow.project_id == project_id,
                            FileRow.deleted.is_(False),
                        )
                    )
                )
        return found

    async def list_directories(
        self,
        *,
        project_id: str,
        name: str | None = None,
        types: Sequence[str] = (),
        include_deleted: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[DirectoryRow], int]:
        """A project's directories, oldest first, with the total count."""
        conditions = [DirectoryRow.project_id == project_id]
        if name is not None:
            conditions.append(DirectoryRow.name == name)
        if types:
            conditions.append(DirectoryRow.type.in_(list(types)))
        if not include_deleted:
            conditions.append(DirectoryRow.deleted_at.is_(None))
        async with self._read() as session:
            total = await session.scalar(
                select(func.count()).select_from(DirectoryRow).where(*conditions)
            )
            rows = await session.scalars(
                select(DirectoryRow)
                .where(*conditions)
                .order_by(DirectoryRow.created_at, DirectoryRow.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows), int(total or 0)

    async def update_directory(
        self,
        directory_id: str,
        *,
        project_id: str,
        name: str | None = None,
        description: str | None = None,
    ) -> DirectoryRow:
        """Rename or describe a directory."""
        async with self._transaction() as session:
            row = await session.get(DirectoryRow, directory_id)
            if row is None or row.project_id != project_id or row.deleted_at is not None:
                raise NotFoundError(f"directory {directory_id} not found")
            if name is not None:
                row.name = name
            if description is not None:
                row.description = description
            row.updated_at = utcnow()
            return row

    async def delete_directory(self, directory_id: str, *, project_id: str) -> None:
        """Delete a directory and its files; jobs and results over them stay readable."""
        async with self._transaction() as session:
            row = await session.get(DirectoryRow, directory_id)
            if row is None or row.project_id != project_id or row.deleted_at is not None:
                raise NotFoundError(f"directory {directory_id} not found")
            now = utcnow()
            row.deleted_at = now
            row.updated_at = now
            await session.execute(
                update(FileRow)
                .where(FileRow.directory_id == directory_id, FileRow.deleted.is_(False))
                .values(deleted=True, updated_at=now)
            )

    async def count_open_jobs(self, directory_id: str) -> int:
        """Jobs over a directory that have not ended."""
        async with self._read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(
                    JobRow.directory_id == directory_id,
                    JobRow.status.not_in(_TERMINAL_JOB_VALUES),
                )
            )
            return int(count or 0)

    async def list_directory_files(
        self,
        directory_id: str,
        *,
        after_seq: int = 0,
        limit: int = 50,
        unique_id: str | None = None,
        display_name: str | None = None,
        display_name_contains: str | None = None,
        file_id: str | None = None,
        include_deleted: bool = False,
    ) -> list[FileRow]:
        """A directory's files in registration order, after a keyset cursor (``seq``)."""
        conditions = [FileRow.directory_id == directory_id, FileRow.seq > after_seq]
        if not include_deleted:
            conditions.append(FileRow.deleted.is_(False))
        if unique_id is not None:
            conditions.append(FileRow.path == unique_id)
        if file_id is not None:
            conditions.append(FileRow.id == file_id)
        if display_name is not None:
            conditions.append(func.coalesce(FileRow.display_name, FileRow.path) == display_name)
        if display_name_contains is not None:
            conditions.append(
                # SQLite's LIKE ignores ASCII case, Postgres's does not: ILIKE on both.
                func.coalesce(FileRow.display_name, FileRow.path).icontains(
                    display_name_contains, autoescape=True
                )
            )
        async with self._read() as session:
            rows = await session.scalars(
                select(FileRow).where(*conditions).order_by(FileRow.seq).limit(limit)
            )
            return list(rows)

    async def update_file(
        self,
        file_id: str,
        *,
        project_id: str,
        display_name: str | None = None,
        unique_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        directory_id: str | None = None,
    ) -> FileRow:
        """Rename, re-key, re-describe or move a file."""
        async with self._transaction() as session:
            row = await session.scalar(select(FileRow).where(FileRow.id == file_id))
            if row is None or row.project_id != project_id or row.deleted:
                raise NotFoundError(f"file {file_id} not found")
            if display_name is not None:
                row.display_name = display_name
            if unique_id is not None:
                row.path = unique_id
            if metadata is not None:
                row.metadata_json = json.dumps(metadata)
            if directory_id is not None:
                row.directory_id = directory_id
            row.updated_at = utcnow()
            return row

    async def put_file(self, *, directory_id: str, project_id: str, spec: FileSpec) -> FileRow:
        """Add a file to a directory, or replace the content of the file at that path."""
        await self.sync_files(
            directory_id=directory_id, project_id=project_id, files=[spec], remove_missing=False
        )
        async with self._read() as session:
            row = await session.scalar(
                select(FileRow).where(
                    FileRow.directory_id == directory_id, FileRow.path == spec.path
                )
            )
        assert row is not None
        return row

    async def delete_file(self, file_id: str, *, project_id: str) -> FileRow:
        """Remove a file from its directory (kept as a tombstone for earlier jobs)."""
        async with self._transaction() as session:
            row = await session.scalar(select(FileRow).where(FileRow.id == file_id))
            if row is None or row.project_id != project_id or row.deleted:
                raise NotFoundError(f"file {file_id} not found")
            row.deleted = True
            row.updated_at = utcnow()
            return row

    # ---------------------------------------------------------------- webhooks

    async def record_webhook_event(
        self, *, event_id: str, job_id: str, event_type: str, payload: dict[str, Any]
    ) -> None:
        """Store an event once (a retried activity keeps the first snapshot)."""
        async with self._transaction() as session:
            await session.execute(
                self._insert(WebhookEventRow)
                .values(
                    event_id=event_id,
                    job_id=job_id,
                    event_type=event_type,
                    payload_json=json.dumps(payload),
                    created_at=utcnow(),
                    delivered_targets=0,
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
            )

    async def get_webhook_event(self, event_id: str) -> WebhookEvent:
        """A recorded event."""
        async with self._read() as session:
            row = await session.get(WebhookEventRow, event_id)
        if row is None:
            raise NotFoundError(f"webhook event {event_id} not found")
        return WebhookEvent(
            event_id=row.event_id,
            job_id=row.job_id,
            event_type=row.event_type,
            payload=json.loads(row.payload_json),
        )

    # ---------------------------------------------------------------- api keys

    async def add_api_key(self, row: ApiKeyRow) -> ApiKeyRow:
        """Store a new API key (its hash, never the key)."""
        async with self._transaction() as session:
            session.add(row)
        return row

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        """The live (not revoked) key with this hash."""
        async with self._read() as session:
            return await session.scalar(
                select(ApiKeyRow).where(
                    ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None)
                )
            )

    async def list_api_keys(self) -> list[ApiKeyRow]:
        """Every key, newest first."""
        async with self._read() as session:
            rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc()))
            return list(rows)

    async def revoke_api_key(self, key_id: str) -> ApiKeyRow:
        """Revoke a key; requests with it then answer 401."""
        async with self._transaction() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"api key {key_id} not found")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return row

    # ------------------------------------------------------------------- jobs

    async def create_job(
        self,
        job: JobRow,
        items: Sequence[FileRow] = (),
        *,
        idempotency: IdempotencyKeyRow | None = None,
    ) -> JobRow:
        """Insert a job (``pending``) and, in item mode, its items in the given order.

        With ``idempotency``, the key is recorded in the same transaction: a concurrent
        create with the same key fails with ``IntegrityError`` and nothing is written.
        """
        async with self._transaction() as session:
            session.add(job)
            if idempotency is not None:
                session.add(idempotency)
            await session.flush()
            if items:
                now = utcnow()
                await session.execute(
                    insert(JobItemRow),
                    [
                        {
                            "job_id": job.id,
                            "item_id": f.id,
                            "ordinal": index + 1,
                            "item_name": f.path,
                            "status": ItemStatus.PENDING.value,
                            "updated_at": now,
                        }
                        for index, f in enumerate(items)
                    ],
                )
        return job

    async def delete_job(self, job_id: str) -> None:
        """Remove a job that never started (its workflow could not be started)."""
        async with self._transaction() as session:
            job = await session.get(JobRow, job_id)
            if job is not None:
                await session.delete(job)
            await session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.job_id == job_id)
            )

    async def find_idempotency_key(self, project_id: str, key: str) -> IdempotencyKeyRow | None:
        """The recorded create request for an ``Idempotency-Key``, if any."""
        async with self._read() as session:
            return await session.get(IdempotencyKeyRow, (project_id, key))

    async def item_ids_with_status(self, job_id: str, status: ItemStatus) -> list[str]:
        """Ids of a job's items in one status, in listing order."""
        async with self._read() as session:
            rows = await session.scalars(
                select(JobItemRow.item_id)
                .where(JobItemRow.job_id == job_id, JobItemRow.status == status.value)
                .order_by(JobItemRow.ordinal)
            )
            return list(rows)

    async def count_items_processed_since(self, job_id: str, since: datetime) -> int:
        """How many of a job's items ended completed or failed at ``since`` or later."""
        async with self._read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(JobItemRow)
                .where(
                    JobItemRow.job_id == job_id,
                    JobItemRow.status.in_([ItemStatus.COMPLETED.value, ItemStatus.FAILED.value]),
                    JobItemRow.completed_at >= since,
                )
            )
        return int(count or 0)

    async def get_job(self, job_id: str, *, project_id: str | None = None) -> JobRow:
        """A job by id; ``NotFoundError`` if absent or in another project."""
        async with self._read() as session:
            row = await session.get(JobRow, job_id)
        if row is None or (project_id is not None and row.project_id != project_id):
            raise NotFoundError(f"job {job_id} not found")
        return row

    async def list_jobs(
        self,
        *,
        project_id: str | None = None,
        status: JobStatus | None = None,
        job_type: JobType | None = None,
        directory_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[JobRow], int]:
        """Jobs, newest first, with the total count before paging."""
        conditions = []
        if project_id is not None:
            conditions.append(JobRow.project_id == project_id)
        if status is not None:
            conditions.append(JobRow.status == status.value)
        if job_type is not None:
            conditions.append(JobRow.job_type == job_type.value)
        if directory_id is not None:
            conditions.append(JobRow.directory_id == directory_id)
        query = select(JobRow).where(and_(True, *conditions))
        async with self._read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(
                query.order_by(JobRow.created_at.desc(), JobRow.id).limit(limit).offset(offset)
            )
            return list(rows), int(total or 0)

    async def list_items(
        self,
        job_id: str,
        *,
        status: ItemStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[JobItemRow], int]:
        """A job's items in listing order, with the total count before paging."""
        conditions = [JobItemRow.job_id == job_id]
        if status is not None:
            conditions.append(JobItemRow.status == status.value)
        async with self._read() as session:
            total = await session.scalar(
                select(func.count()).select_from(JobItemRow).where(*conditions)
            )
            rows = await session.scalars(
                select(JobItemRow)
                .where(*conditions)
                .order_by(JobItemRow.ordinal)
                .limit(limit)
                .offset(offset)
            )
            return list(rows), int(total or 0)

    async def item_results_page(
        self,
        job_id: str,
        *,
        after: int = 0,
        limit: int = 500,
        status: ItemStatus | None = None,
        ended_since: datetime | None = None,
    ) -> list[tuple[JobItemRow, ProcessingResultRow | None]]:
        """The job's next items after ordinal ``after`` (keyset paging), each with its result.

        The result is the one the item points at: its own, or for an item skipped as
        already processed, the earlier result it reuses. One query per page and a
        constant cost per page whatever the job's size (offset paging and a count per
        page grow with it). ``ended_since`` keeps items that ended at or after it.
        """
        conditions = [JobItemRow.job_id == job_id, JobItemRow.ordinal > after]
        if status is not None:
            conditions.append(JobItemRow.status == status.value)
        if ended_since is not None:
            conditions.append(JobItemRow.completed_at >= ended_since)
        query = (
            select(JobItemRow, ProcessingResultRow)
            .join(
                ProcessingResultRow,
                ProcessingResultRow.result_id == JobItemRow.result_id,
                isouter=True,
            )
            .where(*conditions)
            .order_by(JobItemRow.ordinal)
            .limit(limit)
        )
        async with self._read() as session:
            rows = await session.execute(query)
            return [(item, result) for item, result in rows.tuples()]

    async def duplicate_item_names(self, job_id: str) -> set[str]:
        """Item names that more than one item of the job has (item-mode jobs may)."""
        async with self._read() as session:
            names = await session.scalars(
                select(JobItemRow.item_name)
                .where(JobItemRow.job_id == job_id)
                .group_by(JobItemRow.item_name)
                .having(func.count() > 1)
            )
            return set(names)

    async def get_item(self, job_id: str, item_id: str) -> JobItemRow:
        """One job item; ``NotFoundError`` if absent."""
        async with self._read() as session:
            row = await session.get(JobItemRow, (job_id, item_id))
        if row is None:
            raise NotFoundError(f"item {item_id} of job {job_id} not found")
        return row

    async def results_for_item(
        self, item_id: str, *, job_type: JobType | None = None
    ) -> list[ProcessingResultRow]:
        """Every processing result of an item (a file), oldest first."""
        conditions = [ProcessingResultRow.item_id == item_id]
        if job_type is not None:
            conditions.append(ProcessingResultRow.job_type == job_type.value)
        async with self._read() as session:
            rows = await session.scalars(
                select(ProcessingResultRow)
                .where(*conditions)
                .order_by(ProcessingResultRow.processed_at)
            )
            return list(rows)

    async def get_result(self, result_id: str) -> ProcessingResultRow:
        """A processing result by id."""
        async with self._read() as session:
            row = await session.get(ProcessingResultRow, result_id)
        if row is None:
            raise NotFoundError(f"result {result_id} not found")
        return row

    # ------------------------------------------------- writes made by activities

    async def start_job(self, job_id: str, *, default_timeout_seconds: float) -> JobStart:
        """Mark the job running and fix what it covers (directory files registered so far)."""
        async with self._transaction() as session:
            # FOR UPDATE: read-then-write; a retried attempt racing the first must not
            # start the job twice (SQLite's BEGIN IMMEDIATE already serialises writers).
            job = await session.get(JobRow, job_id, with_for_update=True)
            if job is None:
                raise NotFoundError(f"job {job_id} not found")
            timeout = _timeout_seconds(job, default_timeout_seconds)
            if job.status in _TERMINAL_JOB_VALUES:
                return JobStart(
                    total=job.total_items,
                    page_size=job.page_size,
                    continue_as_new_threshold=job.continue_as_new_threshold,
                    timeout_seconds=timeout,
                    already_terminal=JobStatus(job.status),
                )
            now = utcnow()
            if job.status == JobStatus.PENDING.value:
                if job.directory_id is not None:
                    files = select(func.count(), func.max(FileRow.seq)).where(
                        FileRow.directory_id == job.directory_id, FileRow.deleted.is_(False)
                    )
                    count, max_seq = (await session.execute(files)).one()
                    job.total_items = int(count or 0)
                    job.max_file_seq = int(max_seq or 0)
                job.status = JobStatus.RUNNING.value
                job.started_at = now
                job.updated_at = now
            return JobStart(
                total=job.total_items,
                page_size=job.page_size,
                continue_as_new_threshold=job.continue_as_new_threshold,
                timeout_seconds=timeout,
            )

    async def list_page(self, job_id: str, *, cursor: int, limit: int) -> ListedPage:
        """Write the next page of items and skip those that need no work, in one step.

        Skips as ``docbatch.skips`` decides: files over the job's size limit and files
        whose content was already processed with the same parameters (unless the job
        invalidates the cache). Returns only the items that need a child workflow. Safe to
        repeat: rows are inserted once and status transitions are guarded.
        """
        async with self._transaction() as session:
            job = await session.get(JobRow, job_id)
            if job is None:
                raise NotFoundError(f"job {job_id} not found")
            now = utcnow()
            if job.directory_id is not None:
                await self._insert_directory_page(session, job, cursor=cursor, limit=limit, now=now)
            page = (
                await session.execute(
                    select(
                        JobItemRow.item_id,
                        JobItemRow.item_name,
                        JobItemRow.ordinal,
                        JobItemRow.status,
                        FileRow.size,
                        FileRow.content_hash,
                    )
                    .join(FileRow, FileRow.id == JobItemRow.item_id, isouter=True)
                    .where(JobItemRow.job_id == job_id, JobItemRow.ordinal > cursor)
                    .order_by(JobItemRow.ordinal)
                    .limit(limit)
                    # Postgres: lock the page's items for the skips below (SQLite's
                    # BEGIN IMMEDIATE already holds the write lock).
                    .with_for_update(of=JobItemRow)
                )
            ).all()
            status = {r.item_id: r.status for r in page}
            files = [ListedFile(r.item_id, r.status, r.size, r.content_hash) for r in page]
            size_limit, fresh = job.max_file_size_bytes, job.invalidate_cache
            wanted = candidate_hashes(files, max_file_size_bytes=size_limit, invalidate_cache=fresh)
            processed = await self._processed_hashes(session, job, wanted)
            skips = decide(
                files, max_file_size_bytes=size_limit, invalidate_cache=fresh, processed=processed
            )
            await self._skip_items(session, job_id, skips, now)
            for item_id in skips:
                status[item_id] = ItemStatus.SKIPPED.value

            job.updated_at = now
            to_process = [r for r in page if status[r.item_id] == ItemStatus.PENDING.value]
            return ListedPage(
                item_ids=[r.item_id for r in to_process],
                item_names=[r.item_name or r.item_id for r in to_process],
                skipped=sum(1 for s in status.values() if s == ItemStatus.SKIPPED.value),
                listed=len(page),
                next_cursor=page[-1].ordinal if page else cursor,
                exhausted=len(page) < limit,
            )

    async def _skip_items(
        self,
        session: AsyncSession,
        job_id: str,
        skips: dict[str, tuple[SkipReason, str | None]],
        now: datetime,
    ) -> None:
        """Skip pending items of a page (locked by the caller): one statement, one count.

        A re-run over a directory already processed skips whole pages: a statement per
        item would make skipping cost as much as dispatching.
        """
        if not skips:
            return
        items = cast(Table, JobItemRow.__table__)
        await session.execute(
            update(items)
            .where(
                items.c.job_id == bindparam("key_job"),
                items.c.item_id == bindparam("key_item"),
                items.c.status == ItemStatus.PENDING.value,
            )
            .values(
                status=ItemStatus.SKIPPED.value,
                updated_at=now,
                completed_at=now,
                skip_reason=bindparam("new_reason"),
                result_id=bindparam("new_result"),
            ),
            [
                {"key_job": job_id, "key_item": item_id, "new_reason": reason.value,
                 "new_result": result_id}
                for item_id, (reason, result_id) in skips.items()
            ],
        )  # fmt: skip
        await _bump(session, job_id, JobRow.skipped_items, len(skips))

    async def _insert_directory_page(
        self, session: AsyncSession, job: JobRow, *, cursor: int, limit: int, now: datetime
    ) -> None:
        files = select(
            literal(job.id),
            FileRow.id,
            FileRow.seq,
            FileRow.path,
            literal(ItemStatus.PENDING.value),
            literal(now, type_=JobItemRow.__table__.c.updated_at.type),
        ).where(
            FileRow.directory_id == job.directory_id,
            FileRow.deleted.is_(False),
            FileRow.seq > cursor,
            FileRow.seq <= (job.max_file_seq or 0),
            ~exists().where(JobItemRow.job_id == job.id, JobItemRow.item_id == FileRow.id),
        )
        files = files.order_by(FileRow.seq).limit(limit)
        await session.execute(
            insert(JobItemRow).from_select(
                ["job_id", "item_id", "ordinal", "item_name", "status", "updated_at"], files
            )
        )

    async def _processed_hashes(
        self, session: AsyncSession, job: JobRow, hashes: set[str]
    ) -> dict[str, str]:
        if not hashes:
            return {}
        rows = await session.execute(
            select(ProcessingResultRow.content_hash, func.min(ProcessingResultRow.result_id))
            .where(
                ProcessingResultRow.job_type == job.job_type,
                ProcessingResultRow.parameters_hash == job.parameters_hash,
                ProcessingResultRow.content_hash.in_(hashes),
            )
            .group_by(ProcessingResultRow.content_hash)
        )
        return {content_hash: result_id for content_hash, result_id in rows}

    async def _transition(
        self,
        session: AsyncSession,
        job: JobRow,
        item_id: str,
        to: ItemStatus,
        now: datetime,
        *,
        skip_reason: SkipReason | None = None,
        error_message: str | None = None,
        result_id: str | None = None,
    ) -> bool:
        """Move an open item to a terminal status; count it on the job only if it moved."""
        values: dict[str, Any] = {"status": to.value, "updated_at": now, "completed_at": now}
        if skip_reason is not None:
            values["skip_reason"] = skip_reason.value
        if error_message is not None:
            values["error_message"] = error_message
        if result_id is not None:
            values["result_id"] = result_id
        moved = await session.execute(
            update(JobItemRow)
            .where(
                JobItemRow.job_id == job.id,
                JobItemRow.item_id == item_id,
                JobItemRow.status.in_(_OPEN_ITEM_STATUSES),
            )
            .values(**values)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            await _bump(session, job.id, _COUNTER_OF_STATUS[to], 1)
            return True
        return False

    async def set_job_status(
        self, job_id: str, status: JobStatus, *, error_message: str | None = None
    ) -> JobStatus:
        """Move a job to ``status`` unless it already ended; returns the resulting status.

        Reaching a terminal status also fixes ``total_items`` to the items the job has.
        """
        async with self._transaction() as session:
            # FOR UPDATE: a cancel and the end of the job racing on Postgres must not
            # both see it open and both write a terminal status.
            job = await session.get(JobRow, job_id, with_for_update=True)
            if job is None:
                raise NotFoundError(f"job {job_id} not found")
            if job.status in _TERMINAL_JOB_VALUES:
                return JobStatus(job.status)
            now = utcnow()
            job.status = status.value
            job.updated_at = now
            if error_message is not None:
                job.error_message = error_message
            if status in TERMINAL_JOB_STATUSES:
                job.completed_at = now
                job.total_items = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(JobItemRow)
                        .where(JobItemRow.job_id == job_id)
                    )
                    or 0
                )
            return status

    async def set_job_paused(self, job_id: str, paused: bool) -> JobRow:
        """Record that a job is paused (or no longer); a job that ended stays as it is."""
        async with self._transaction() as session:
            job = await session.get(JobRow, job_id, with_for_update=True)
            if job is None:
                raise NotFoundError(f"job {job_id} not found")
            if job.status not in _TERMINAL_JOB_VALUES and job.paused != paused:
                job.paused = paused
                job.updated_at = utcnow()
            return job

    async def start_item(self, job_id: str, item_id: str) -> tuple[ItemStatus, FileRow | None]:
        """Mark a pending item ``processing``; return its status afterwards and its file."""
        started = await self.start_items([(job_id, item_id)])
        if (job_id, item_id) not in started:
            raise NotFoundError(f"item {item_id} of job {job_id} not found")
        return started[(job_id, item_id)]

    async def start_items(
        self, keys: Sequence[ItemKey]
    ) -> dict[ItemKey, tuple[ItemStatus, FileRow | None]]:
        """Mark the pending items among ``keys`` ``processing``, in one transaction.

        Returns each item's status afterwards and its file; unknown items are left out.
        Statements per call do not grow with the number of items (group commit).
        """
        async with self._transaction() as session:
            now = utcnow()
            found: dict[ItemKey, tuple[ItemStatus, FileRow | None]] = {}
            for job_id, item_ids in _by_job(keys).items():
                await session.execute(
                    update(JobItemRow)
                    .where(
                        JobItemRow.job_id == job_id,
                        JobItemRow.item_id.in_(item_ids),
                        JobItemRow.status == ItemStatus.PENDING.value,
                    )
                    .values(status=ItemStatus.PROCESSING.value, started_at=now, updated_at=now)
                )
                rows = await session.execute(
                    select(JobItemRow.item_id, JobItemRow.status, FileRow)
                    .join(FileRow, FileRow.id == JobItemRow.item_id, isouter=True)
                    .where(JobItemRow.job_id == job_id, JobItemRow.item_id.in_(item_ids))
                )
                for row in rows:
                    found[(job_id, row.item_id)] = (ItemStatus(row.status), row.FileRow)
            return found

    async def complete_item(self, job_id: str, item_id: str, result: ResultSpec) -> bool:
        """Mark the item completed and record its result, once; False if it had ended.

        An item that ended meanwhile (cancelled while its engine ran) gets no result: the
        output stays in blob storage but no job claims it.
        """
        return (job_id, item_id) in await self.complete_items([(job_id, item_id, result)])

    async def complete_items(
        self, completions: Sequence[tuple[str, str, ResultSpec]]
    ) -> set[ItemKey]:
        """Complete many items and record their results in one transaction (group commit).

        Only items still open move (and get a result row and a count on their job); the
        others are left as they are. Returns the keys of the items that moved. A constant
        number of statements per call, whatever the number of items.
        """
        if not completions:
            return set()
        items = cast(Table, JobItemRow.__table__)
        async with self._transaction() as session:
            now = utcnow()
            open_now: set[ItemKey] = set()
            for job_id, item_ids in _by_job([(j, i) for j, i, _ in completions]).items():
                open_ids = await _lock_open_items(session, job_id, item_ids)
                open_now.update((job_id, item_id) for item_id in open_ids)
            moving = [(j, i, r) for j, i, r in completions if (j, i) in open_now]
            moving = list({(j, i): (j, i, r) for j, i, r in moving}.values())
            if not moving:
                return set()
            await session.execute(
                update(items)
                .where(
                    items.c.job_id == bindparam("key_job"),
                    items.c.item_id == bindparam("key_item"),
                    # Not IN (…): expanding parameters cannot be used with executemany.
                    or_(*(items.c.status == status for status in _OPEN_ITEM_STATUSES)),
                )
                .values(
                    status=ItemStatus.COMPLETED.value,
                    updated_at=now,
                    completed_at=now,
                    result_id=bindparam("new_result"),
                ),
                [{"key_job": j, "key_item": i, "new_result": r.result_id} for j, i, r in moving],
            )
            await session.execute(
                self._insert(ProcessingResultRow.__table__).on_conflict_do_nothing(
                    index_elements=["result_id"]
                ),
                [
                    {
                        "result_id": r.result_id,
                        "item_id": i,
                        "job_id": j,
                        "job_type": r.job_type.value,
                        "parameters_hash": r.parameters_hash,
                        "content_hash": r.content_hash,
                        "output_location": r.output_location,
                        "output_metadata_json": json.dumps(r.output_metadata),
                        "processed_at": now,
                    }
                    for j, i, r in moving
                ],
            )
            per_job: dict[str, int] = {}
            for j, _, _ in moving:
                per_job[j] = per_job.get(j, 0) + 1
            for j, count in sorted(per_job.items()):  # one lock order, as in _by_job
                await _bump(session, j, JobRow.completed_items, count)
            return {(j, i) for j, i, _ in moving}

    async def fail_item(self, job_id: str, item_id: str, error_message: str) -> bool:
        """Mark the item failed with a readable message; False if it had already ended."""
        async with self._transaction() as session:
            job = await _job_or_not_found(session, job_id)
            return await self._transition(
                session, job, item_id, ItemStatus.FAILED, utcnow(), error_message=error_message
            )

    async def cancel_item(self, job_id: str, item_id: str) -> bool:
        """Mark one open item cancelled; False if it had already ended."""
        return (job_id, item_id) in await self.cancel_items([(job_id, item_id)])

    async def cancel_items(self, keys: Sequence[ItemKey]) -> set[ItemKey]:
        """Cancel the open items among ``keys`` in one transaction; the keys that moved.

        A cancelled job's children all record their cancellation at once: one
        transaction for all of them keeps the store free for the job's own bookkeeping.
        """
        async with self._transaction() as session:
            now = utcnow()
            moved: set[ItemKey] = set()
            for job_id, item_ids in _by_job(keys).items():
                open_ids = await _lock_open_items(session, job_id, item_ids)
                if not open_ids:
                    continue
                await session.execute(
                    update(JobItemRow)
                    .where(
                        JobItemRow.job_id == job_id,
                        JobItemRow.item_id.in_(open_ids),
                        JobItemRow.status.in_(_OPEN_ITEM_STATUSES),
                    )
                    .values(status=ItemStatus.CANCELLED.value, updated_at=now, completed_at=now)
                )
                await _bump(session, job_id, JobRow.cancelled_items, len(open_ids))
                moved.update((job_id, item_id) for item_id in open_ids)
            return moved

    async def cancel_open_items(self, job_id: str, *, reason: str | None) -> int:
        """Cancel every item of the job that is not terminal, listed or not yet listed."""
        async with self._transaction() as session:
            job = await _job_or_not_found(session, job_id)
            now = utcnow()
            inserted = 0
            if job.directory_id is not None and job.max_file_seq is not None:
                unlisted = select(
                    literal(job.id),
                    FileRow.id,
                    FileRow.seq,
                    FileRow.path,
                    literal(ItemStatus.CANCELLED.value),
                    literal(now, type_=JobItemRow.__table__.c.updated_at.type),
                    literal(now, type_=JobItemRow.__table__.c.completed_at.type),
                ).where(
                    FileRow.directory_id == job.directory_id,
                    FileRow.deleted.is_(False),
                    FileRow.seq <= job.max_file_seq,
                    ~exists().where(JobItemRow.job_id == job.id, JobItemRow.item_id == FileRow.id),
                )
                result = await session.execute(
                    insert(JobItemRow).from_select(
                        [
                            "job_id", "item_id", "ordinal", "item_name",
                            "status", "updated_at", "completed_at",
                        ],
                        unlisted,
                    )
                )  # fmt: skip
                inserted = int(result.rowcount or 0)  # type: ignore[attr-defined]
            moved = await session.execute(
                update(JobItemRow)
                .where(JobItemRow.job_id == job_id, JobItemRow.status.in_(_OPEN_ITEM_STATUSES))
                .values(status=ItemStatus.CANCELLED.value, updated_at=now, completed_at=now)
            )
            cancelled = inserted + int(moved.rowcount or 0)  # type: ignore[attr-defined]
            await _bump(session, job.id, JobRow.cancelled_items, cancelled)
            if reason is not None and job.cancel_reason is None:
                job.cancel_reason = reason
            job.updated_at = now
            return cancelled


async def _job_or_not_found(session: AsyncSession, job_id: str) -> JobRow:
    job = await session.get(JobRow, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


async def _lock_open_items(
    session: AsyncSession, job_id: str, item_ids: Sequence[str]
) -> list[str]:
    """Those of the job's ``item_ids`` still open, locked for this transaction.

    ``FOR UPDATE`` locks the rows on Postgres; on SQLite the transaction's ``BEGIN
    IMMEDIATE`` already holds the database's write lock.
    """
    rows = await session.execute(
        select(JobItemRow.item_id)
        .where(
            JobItemRow.job_id == job_id,
            JobItemRow.item_id.in_(item_ids),
            JobItemRow.status.in_(_OPEN_ITEM_STATUSES),
        )
        .with_for_update()
    )
    return [item_id for (item_id,) in rows]


async def _bump(session: AsyncSession, job_id: str, counter: Any, by: int) -> None:
    # Increment in SQL, not in Python: concurrent activities on Postgres would otherwise
    # overwrite each other's counts.
    if by:
        await session.execute(
            update(JobRow).where(JobRow.id == job_id).values({counter: counter + by})
        )


MAX_PAGES_FOR_TIMEOUT = 2000
TIMEOUT_MARGIN_SECONDS = 60.0
MAX_ACTIVITY_SECONDS = 24 * 3600.0


def _timeout_seconds(job: JobRow, default: float) -> float:
    """Temporal's per-attempt bound: the activity enforces the exact per-document limit
    (base + extra per page) itself, so this only has to be above it."""
    config = json.loads(job.config_json)
    parameters = config.get("parameters") or {}
    base = float(parameters.get("job_timeout_in_seconds") or default)
    per_page = float(parameters.get("job_timeout_extra_time_per_page_in_seconds") or 0)
    bound = base + per_page * MAX_PAGES_FOR_TIMEOUT + TIMEOUT_MARGIN_SECONDS
    return min(bound, MAX_ACTIVITY_SECONDS)
