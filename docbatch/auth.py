"""API keys: created once and shown once, stored only as SHA-256 hashes, one project each."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from docbatch.ids import new_id
from docbatch.store import Store, utcnow
from docbatch.store.tables import ApiKeyRow

KEY_PREFIX = "dbk_"
DEFAULT_ORGANIZATION = "org-default"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the project (and organization) of its API key."""

    project_id: str
    organization_id: str
    key_id: str


def hash_key(key: str) -> str:
    """The stored form of a key. Keys are random, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(
    store: Store,
    *,
    project_id: str,
    organization_id: str = DEFAULT_ORGANIZATION,
    name: str | None = None,
    key: str | None = None,
) -> tuple[ApiKeyRow, str]:
    """Create a key for a project; returns the row and the key (shown only now)."""
    key = key or generate_key()
    row = ApiKeyRow(
        id=new_id("key"),
        key_hash=hash_key(key),
        prefix=key[:12],
        name=name,
        project_id=project_id,
        organization_id=organization_id,
        created_at=utcnow(),
    )
    await store.keys.add_api_key(row)
    return row, key


async def authenticate(store: Store, key: str) -> Principal | None:
    """The principal of a live key, or None."""
    row = await store.keys.find_api_key(hash_key(key))
    if row is None:
        return None
    return Principal(project_id=row.project_id, organization_id=row.organization_id, key_id=row.id)


async def ensure_key(
    store: Store, key: str, *, project_id: str, organization_id: str = DEFAULT_ORGANIZATION
) -> Principal:
    """Make ``key`` valid for the project (idempotent): the embedded stack's dev key."""
    principal = await authenticate(store, key)
    if principal is not None:
        return principal
    try:
        row, _ = await create_api_key(
            store,
            project_id=project_id,
            organization_id=organization_id,
            name="development",
            key=key,
        )
    except IntegrityError:
        # Another process (worker, API) created it at the same moment.
        principal = await authenticate(store, key)
        if principal is None:
            raise
        return principal
    return Principal(project_id=row.project_id, organization_id=row.organization_id, key_id=row.id)
