"""What the store's repositories share: item and job status groups, the jobs' counters,
and reporting the items a committed transaction ended to the store's observer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from docbatch.models import TERMINAL_JOB_STATUSES, ItemStatus
from docbatch.store.db import Database, Repository
from docbatch.store.tables import JobRow
from docbatch.store.types import ItemObserver

log = structlog.get_logger("docbatch.store")

OPEN_ITEM_STATUSES = (ItemStatus.PENDING.value, ItemStatus.PROCESSING.value)
TERMINAL_JOB_VALUES = tuple(s.value for s in TERMINAL_JOB_STATUSES)


async def bump(session: AsyncSession, job_id: str, counter: Any, by: int) -> None:
    """Add ``by`` to one of the job's item counters (``JobRow.completed_items``, …)."""
    # Increment in SQL, not in Python: concurrent activities on Postgres would otherwise
    # overwrite each other's counts.
    if by:
        await session.execute(
            update(JobRow).where(JobRow.id == job_id).values({counter: counter + by})
        )


class EndingRepository(Repository):
    """A repository whose transactions end items: it reports them to the observer.

    Call :meth:`_ended` after the transaction has committed, with the items that moved
    (the guarded transitions' own counts, the ones added to the jobs' counters).
    """

    def __init__(self, database: Database, *, observer: ItemObserver | None = None) -> None:
        super().__init__(database)
        self._observer = observer

    def _ended(self, status: ItemStatus, by_job_type: Mapping[str, int]) -> None:
        """Tell the observer how many items of each job type ended with ``status``."""
        if self._observer is None:
            return
        for job_type, count in by_job_type.items():
            if not count:
                continue
            try:
                self._observer(job_type, status, count)
            except Exception as exc:  # an observer must never fail the store call
                log.warning(
                    "item observer failed",
                    job_type=job_type,
                    status=status.value,
                    count=count,
                    error=str(exc),
                )
