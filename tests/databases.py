"""Where the tests' stores live: a SQLite file by default; a fresh Postgres database per
stack when ``DOCBATCH_TEST_DATABASE_URL`` names a Postgres server (the CI's second pass,
set up by ``scripts/install-postgres.sh``).

Each stack gets a database of its own (``CREATE DATABASE`` through the URL's database,
``DROP … WITH (FORCE)`` afterwards), so tests stay as independent as with one SQLite
file each.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

TEST_DATABASE_URL_VARIABLE = "DOCBATCH_TEST_DATABASE_URL"

T = TypeVar("T")


def postgres_server_url() -> str | None:
    """The Postgres URL the tests run against, or None to use SQLite."""
    return os.environ.get(TEST_DATABASE_URL_VARIABLE) or None


def is_postgres(url: str) -> bool:
    """Whether a store URL names a Postgres database."""
    return make_url(url).get_backend_name() == "postgresql"


requires_postgres = pytest.mark.skipif(
    postgres_server_url() is None,
    reason=f"needs a Postgres server: set {TEST_DATABASE_URL_VARIABLE} "
    "(bash scripts/install-postgres.sh prints one); CI's Postgres pass sets it",
)
sqlite_only = pytest.mark.skipif(
    postgres_server_url() is not None,
    reason=f"checks the SQLite file itself; {TEST_DATABASE_URL_VARIABLE} selects Postgres",
)


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+asyncpg://`` URL as a DSN asyncpg itself accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str | None]:
    """A new, empty Postgres database's URL, dropped afterwards; None without a server.

    None means "SQLite as before": callers keep their default store URL.
    """
    server = postgres_server_url()
    if server is None:
        yield None
        return
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(server))
        try:
            # FORCE: a killed worker process may leave a connection the server has not
            # noticed yet.
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except asyncpg.InsufficientPrivilegeError:
            # FORCE also terminates an autovacuum worker, which needs pg_signal_backend
            # (scripts/install-postgres.sh grants it); a plain DROP stops autovacuum itself.
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def fresh_store_url(sqlite_file: Path) -> AsyncIterator[str]:
    """A URL for a new, empty store: ``sqlite_file``, or a fresh Postgres database."""
    async with fresh_postgres_database() as url:
        yield url or f"sqlite+aiosqlite:///{sqlite_file}"


def run_blocking(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end from synchronous code, even inside a running loop.

    The harness's audit helpers are synchronous (they poll inside ``eventually``
    predicates, like the stdlib ``sqlite3`` calls they stand beside), so a Postgres
    query runs on its own loop in a helper thread.
    """

    async def main() -> T:
        return await work()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, main()).result()


def postgres_rows(url: str, sql: str, *params: Any) -> list[asyncpg.Record]:
    """Rows of one query on a Postgres store; ``?`` placeholders as in sqlite3."""
    numbered = iter(range(1, sql.count("?") + 1))
    statement = re.sub(r"\?", lambda _: f"${next(numbered)}", sql)

    async def fetch() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return list(await connection.fetch(statement, *params))
        finally:
            await connection.close()

    return run_blocking(fetch)
