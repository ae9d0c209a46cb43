"""The job items aggregate: a job's items and their results, and the items' guarded
status transitions (started, completed, failed, cancelled) with the jobs' counters.

Item status changes are *guarded transitions*: an ``UPDATE … WHERE status IN (…)``
whose row count decides, in the same transaction, whether the job's counter moves. A
retried activity therefore never counts an item twice, and a job's counters always
equal the sum of its items' statuses. The items that end are reported to the store's
observer once their transaction has committed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docbatch.errors import NotFoundError
from docbatch.models import ItemStatus, JobType, SkipReason
from docbatch.store.shared import OPEN_ITEM_STATUSES, EndingRepository, bump
from docbatch.store.tables import FileRow, JobItemRow, JobRow, ProcessingResultRow
from docbatch.store.types import ItemKey, ResultSpec, utcnow

_COUNTER_OF_STATUS = {
    ItemStatus.COMPLETED: JobRow.completed_items,
    ItemStatus.FAILED: JobRow.failed_items,
    ItemStatus.SKIPPED: JobRow.skipped_items,
    ItemStatus.CANCELLED: JobRow.cancelled_items,
}


class ItemRepository(EndingRepository):
    """A job's items and results: reads, and the item state transitions."""

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
                JobItemRow.status.in_(OPEN_ITEM_STATUSES),
            )
            .values(**values)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            await bump(session, job.id, _COUNTER_OF_STATUS[to], 1)
            return True
        return False

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
                    or_(*(items.c.status == status for status in OPEN_ITEM_STATUSES)),
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
                await bump(session, j, JobRow.completed_items, count)
        self._ended(ItemStatus.COMPLETED, Counter(r.job_type.value for _, _, r in moving))
        return {(j, i) for j, i, _ in moving}

    async def fail_item(self, job_id: str, item_id: str, error_message: str) -> bool:
        """Mark the item failed with a readable message; False if it had already ended."""
        async with self._transaction() as session:
            job = await _job_or_not_found(session, job_id)
            moved = await self._transition(
                session, job, item_id, ItemStatus.FAILED, utcnow(), error_message=error_message
            )
        if moved:
            self._ended(ItemStatus.FAILED, {job.job_type: 1})
        return moved

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
                        JobItemRow.status.in_(OPEN_ITEM_STATUSES),
                    )
                    .values(status=ItemStatus.CANCELLED.value, updated_at=now, completed_at=now)
                )
                await bump(session, job_id, JobRow.cancelled_items, len(open_ids))
                moved.update((job_id, item_id) for item_id in open_ids)
            ended: Counter[str] = Counter()
            if moved and self._observer is not None:
                job_types = await _job_types(session, {job_id for job_id, _ in moved})
                ended.update(job_types[job_id] for job_id, _ in moved)
        self._ended(ItemStatus.CANCELLED, ended)
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
                .where(JobItemRow.job_id == job_id, JobItemRow.status.in_(OPEN_ITEM_STATUSES))
                .values(status=ItemStatus.CANCELLED.value, updated_at=now, completed_at=now)
            )
            cancelled = inserted + int(moved.rowcount or 0)  # type: ignore[attr-defined]
            await bump(session, job.id, JobRow.cancelled_items, cancelled)
            if reason is not None and job.cancel_reason is None:
                job.cancel_reason = reason
            job.updated_at = now
        self._ended(ItemStatus.CANCELLED, {job.job_type: cancelled})
        return cancelled


def _by_job(keys: Iterable[ItemKey]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for job_id, item_id in keys:
        grouped.setdefault(job_id, []).append(item_id)
    # Jobs in one order for every caller: two workers' group commits spanning the same
    # jobs then lock their rows in the same order (Postgres would report a deadlock).
    return dict(sorted(grouped.items()))


async def _job_or_not_found(session: AsyncSession, job_id: str) -> JobRow:
    job = await session.get(JobRow, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


async def _job_types(session: AsyncSession, job_ids: Iterable[str]) -> dict[str, str]:
    """Job id → job type, for the observer's report (read in the reporting transaction)."""
    rows = await session.execute(
        select(JobRow.id, JobRow.job_type).where(JobRow.id.in_(sorted(job_ids)))
    )
    return {job_id: job_type for job_id, job_type in rows.tuples()}


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
            JobItemRow.status.in_(OPEN_ITEM_STATUSES),
        )
        .with_for_update()
    )
    return [item_id for (item_id,) in rows]
