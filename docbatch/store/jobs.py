"""The jobs aggregate: a job's row, its idempotency key, its status, and the writing of
its item pages (which skips the items that need no work: the job's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from docbatch.errors import NotFoundError
from docbatch.models import TERMINAL_JOB_STATUSES, ItemStatus, JobStatus, JobType, SkipReason
from docbatch.skips import ListedFile, candidate_hashes, decide
from docbatch.store.shared import TERMINAL_JOB_VALUES as _TERMINAL_JOB_VALUES  # start_job's name
from docbatch.store.shared import EndingRepository, bump
from docbatch.store.tables import (
    FileRow,
    IdempotencyKeyRow,
    JobItemRow,
    JobRow,
    ProcessingResultRow,
)
from docbatch.store.types import JobStart, ListedPage, utcnow


class JobRepository(EndingRepository):
    """Jobs: created, read, started, paged into items and moved between statuses.

    ``list_page`` skips items in the job's transaction; the skipped items are reported
    to the store's observer.
    """

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

    async def start_job(self, job_id: str) -> JobStart:
        """Mark the job running and fix what it covers (directory files registered so far)."""
        async with self._transaction() as session:
            # FOR UPDATE: read-then-write; a retried attempt racing the first must not
            # start the job twice (SQLite's BEGIN IMMEDIATE already serialises writers).
            job = await session.get(JobRow, job_id, with_for_update=True)
            if job is None:
                raise NotFoundError(f"job {job_id} not found")
            if job.status in _TERMINAL_JOB_VALUES:
                return JobStart(job=job, already_terminal=JobStatus(job.status))
            if job.status == JobStatus.PENDING.value:
                if job.directory_id is not None:
                    files = select(func.count(), func.max(FileRow.seq)).where(
                        FileRow.directory_id == job.directory_id, FileRow.deleted.is_(False)
                    )
                    count, max_seq = (await session.execute(files)).one()
                    job.total_items = int(count or 0)
                    job.max_file_seq = int(max_seq or 0)
                now = utcnow()
                job.status = JobStatus.RUNNING.value
                job.started_at = now
                job.updated_at = now
            return JobStart(job=job)

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
            listed = ListedPage(
                item_ids=[r.item_id for r in to_process],
                item_names=[r.item_name or r.item_id for r in to_process],
                skipped=sum(1 for s in status.values() if s == ItemStatus.SKIPPED.value),
                listed=len(page),
                next_cursor=page[-1].ordinal if page else cursor,
                exhausted=len(page) < limit,
            )
        # The items this call skipped (``listed.skipped`` also counts those skipped by an
        # earlier write of the page): a page written again is not counted twice.
        self._ended(ItemStatus.SKIPPED, {job.job_type: len(skips)})
        return listed

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
        await bump(session, job_id, JobRow.skipped_items, len(skips))

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
