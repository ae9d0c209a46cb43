"""The store: one database and a repository per aggregate over it.

``store.directories`` (directories and files), ``store.keys`` (API keys),
``store.webhooks`` (webhook events), ``store.jobs`` (jobs, their status and item pages)
and ``store.items`` (job items, results and the items' state transitions). Every write
an activity makes is idempotent: see ``docbatch.store.items`` for the guarded
transitions that keep a job's counters equal to its items' statuses.
"""

from __future__ import annotations

from typing import Self

from docbatch.store.db import Database
from docbatch.store.directories import DirectoryRepository
from docbatch.store.items import ItemRepository
from docbatch.store.jobs import JobRepository
from docbatch.store.keys import ApiKeyRepository
from docbatch.store.types import ItemObserver
from docbatch.store.webhooks import WebhookEventRepository


class Store:
    """Async access to the SQL store (SQLite by default, Postgres by URL).

    ``observer`` is told of every item a committed transaction ended (see
    :class:`~docbatch.store.types.ItemObserver`): the worker counts them in its metrics.
    """

    def __init__(self, database: Database, *, observer: ItemObserver | None = None) -> None:
        self.database = database
        self.directories = DirectoryRepository(database)
        self.keys = ApiKeyRepository(database)
        self.webhooks = WebhookEventRepository(database)
        self.jobs = JobRepository(database, observer=observer)
        self.items = ItemRepository(database, observer=observer)

    @classmethod
    async def open(
        cls, url: str, *, migrate: bool = True, observer: ItemObserver | None = None
    ) -> Self:
        """Open the store at ``url``, applying pending migrations first."""
        return cls(await Database.open(url, migrate=migrate), observer=observer)

    @property
    def url(self) -> str:
        """The database URL the store was opened with."""
        return self.database.url

    async def close(self) -> None:
        """Release every pooled connection."""
        await self.database.close()

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        await self.database.ping()
