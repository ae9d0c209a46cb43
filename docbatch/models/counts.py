"""The per-status item counts of a job, shared by the API, the store and the workflows."""

from __future__ import annotations

from docbatch.models.base import _Response


class JobCounts(_Response):
    """Per-status item counts of a job: the one counter type of the API, the store's
    snapshots and the workflows' messages (docbatch's own summary, not in the reference)."""

    total: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0

    @property
    def terminal(self) -> int:
        """Items that reached a final status."""
        return self.completed + self.failed + self.skipped + self.cancelled

    @property
    def percentage(self) -> float:
        """Share of items in a final status, 0–100."""
        if self.total <= 0:
            return 0.0
        return round(min(100.0, 100.0 * self.terminal / self.total), 2)

    def counts(self) -> JobCounts:
        """Just the counts (of a message that carries more)."""
        return JobCounts(
            total=self.total,
            completed=self.completed,
            failed=self.failed,
            skipped=self.skipped,
            cancelled=self.cancelled,
        )
