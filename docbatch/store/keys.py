"""The API keys aggregate: keys are stored as hashes, never as the keys themselves."""

from __future__ import annotations

from sqlalchemy import select

from docbatch.errors import NotFoundError
from docbatch.store.db import Repository
from docbatch.store.tables import ApiKeyRow
from docbatch.store.types import utcnow


class ApiKeyRepository(Repository):
    """API keys: added, found by hash, listed and revoked."""

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
