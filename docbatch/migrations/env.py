"""Alembic environment: runs migrations on the async engine of the store URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from docbatch.store.tables import Base

target_metadata = Base.metadata

POSTGRES_MIGRATION_LOCK = 0x646F6362617463
"""Advisory lock key ("docbatc") held while migrating a Postgres database."""


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Every worker and API process migrates at startup. Started together on a fresh
        # database they would all create the same tables; one at a time, the later ones
        # find the schema at head. The lock ends with the migration's transaction.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK}
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
