"""A real API server (uvicorn on loopback) over a real store, worker and Temporal server.

The client in these tests is the hosted service's official Python client,
``llama-cloud==2.13.0``, used unmodified: only ``base_url`` and ``api_key`` change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from llama_cloud import AsyncLlamaCloud

from docbatch.api import create_app
from docbatch.auth import create_api_key
from docbatch.engines.base import Engine
from docbatch.engines.registry import run_engine
from tests.conftest import Stack, StackFactory, free_port

PROJECT_A = "proj-alpha"
PROJECT_B = "proj-beta"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Api:
    """A running API with two projects' keys and clients."""

    base_url: str
    stack: Stack
    key_a: str
    key_b: str
    client: AsyncLlamaCloud
    other: AsyncLlamaCloud

    def client_for(self, key: str, **options: Any) -> AsyncLlamaCloud:
        """Another client against this server."""
        return AsyncLlamaCloud(api_key=key, base_url=self.base_url, **options)


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    async with serve_on(app, free_port()) as base_url:
        yield base_url


@contextlib.asynccontextmanager
async def serve_on(app: Any, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a given loopback port; yield its base URL."""
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


async def upload_folder(api: Api, directory_id: str, folder: Path) -> dict[str, str]:
    """Upload every file of ``folder`` with the official client; ``{file id: name}``."""
    names = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        with path.open("rb") as handle:
            uploaded = await api.client.beta.directories.files.upload(
                directory_id, upload_file=handle
            )
        names[uploaded.id] = uploaded.display_name
    return names


@pytest.fixture
def make_api(make_stack: StackFactory) -> ApiFactory:
    """Build an API (with a worker) using the given engine and settings overrides."""

    @contextlib.asynccontextmanager
    async def factory(engine: Engine = run_engine, **overrides: Any) -> AsyncIterator[Api]:
        async with make_stack(engine=engine, project_id=PROJECT_A, **overrides) as stack:
            _, key_a = await create_api_key(stack.store, project_id=PROJECT_A, name="a")
            _, key_b = await create_api_key(stack.store, project_id=PROJECT_B, name="b")
            app = create_app(stack.settings, client=stack.client)
            async with serve(app) as base_url:
                client = AsyncLlamaCloud(api_key=key_a, base_url=base_url)
                other = AsyncLlamaCloud(api_key=key_b, base_url=base_url)
                try:
                    yield Api(base_url, stack, key_a, key_b, client, other)
                finally:
                    await client.close()
                    await other.close()

    return factory


@pytest.fixture
async def api(make_api: ApiFactory) -> AsyncIterator[Api]:
    """An API with the real engines."""
    async with make_api() as built:
        yield built
