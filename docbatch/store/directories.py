"""The directories aggregate: directories and the files registered in them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update

from docbatch.errors import NotFoundError
from docbatch.ids import DIRECTORY_PREFIX, FILE_PREFIX, new_id
from docbatch.store.db import Repository
from docbatch.store.shared import TERMINAL_JOB_VALUES
from docbatch.store.tables import DirectoryRow, FileRow, JobRow
from docbatch.store.types import FileSpec, SyncStats, utcnow


class DirectoryRepository(Repository):
    """Directories (local folders, user and upload directories) and their files."""

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
                    JobRow.status.not_in(TERMINAL_JOB_VALUES),
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


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)
