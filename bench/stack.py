"""A benchmark's own stack: settings (data dir, ports, task queue), the dev server
(persistent as ``make up`` runs it, or in memory), a worker (``bench/bench_worker.py`` or
``worker.py``) and the HTTP API, each a process in its own session, stopped on the way
out (``bench.harness``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.client import Client

from bench.measurements import engine_processes_of
from docbatch.auth import generate_key
from docbatch.settings import Settings
from docbatch.stack import dev_server_command, wait_for_temporal
from docbatch.temporal import ensure_search_attributes

ROOT = Path(__file__).resolve().parents[1]
PROJECT_ID = "proj-bench"
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0

# --------------------------------------------------------------------- settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for one benchmark stack: its own data dir, ports and task queue."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "temporal_address": f"127.0.0.1:{free_port()}",
        "dev_ui_port": free_port(),
        "task_queue": f"bench-{uuid.uuid4().hex[:8]}",
        "project_id": PROJECT_ID,
        "log_level": "WARNING",
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``Settings()`` in another process equal ``settings``."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        variable = name.upper() if name.startswith("temporal_") else f"DOCBATCH_{name.upper()}"
        env[variable] = str(value)
    return env


# ----------------------------------------------------------------------- server


def in_memory_command(command: Sequence[str]) -> list[str]:
    """The dev server's command without its database file and pragmas: state in memory."""
    kept: list[str] = []
    arguments = iter(command)
    for argument in arguments:
        if argument in ("--db-filename", "--sqlite-pragma"):
            next(arguments, None)
            continue
        kept.append(argument)
    return kept


@dataclass
class Server:
    """A running Temporal dev server and a client to it."""

    client: Client
    pid: int
    persistent: bool

    @property
    def kind(self) -> str:
        """How the server keeps its state, as the reports name it."""
        return "persistent (WAL)" if self.persistent else "in-memory"


@contextlib.asynccontextmanager
async def dev_server(settings: Settings, *, persistent: bool = True) -> AsyncIterator[Server]:
    """Start the dev server ``make up`` starts (``persistent``) or its in-memory variant."""
    command = dev_server_command(settings, ui=False)
    if not persistent:
        command = in_memory_command(command)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "temporal-server.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        client = await wait_for_temporal(settings)
        await ensure_search_attributes(client)
        yield Server(client=client, pid=process.pid, persistent=persistent)
    finally:
        await _stop(process)


async def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        await asyncio.to_thread(process.wait, STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)


# ----------------------------------------------------------------------- worker


@dataclass
class WorkerProcess:
    """A benchmark worker process (``bench/bench_worker.py``)."""

    pid: int
    log_path: Path

    def engine_pids(self) -> list[int]:
        """The worker's engine processes."""
        return engine_processes_of(self.pid)


@contextlib.asynccontextmanager
async def worker_process(
    settings: Settings, engine: str, *, env: dict[str, str] | None = None
) -> AsyncIterator[WorkerProcess]:
    """Run ``bench/bench_worker.py`` with ``engine``; yield once it polls, engines started."""
    tag = uuid.uuid4().hex[:8]
    ready = settings.data_dir / f"worker-{tag}.ready"
    log_path = settings.data_dir / f"worker-{tag}.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "bench_worker.py"),
                "--engine",
                engine,
                "--ready",
                str(ready),
            ],
            cwd=ROOT,
            env={**os.environ, **settings_env(settings), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the benchmark worker did not start:\n{tail}")
            await asyncio.sleep(0.05)
        yield WorkerProcess(pid=process.pid, log_path=log_path)
    finally:
        await _stop(process)


@contextlib.asynccontextmanager
async def user_worker_process(settings: Settings) -> AsyncIterator[WorkerProcess]:
    """Run ``worker.py`` as users do (the real engines), against ``settings``' server.

    Yields once it runs; the first job it is given waits for it to poll.
    """
    log_path = settings.data_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env={**os.environ, **settings_env(settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        if process.poll() is not None:
            raise RuntimeError(f"worker.py exited at once:\n{log_path.read_text()[-3000:]}")
        yield WorkerProcess(pid=process.pid, log_path=log_path)
    finally:
        await _stop(process)


@dataclass
class ApiProcess:
    """The HTTP API (``python -m docbatch.api``, uvicorn) in its own process."""

    pid: int
    base_url: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """The authorization header of the development key."""
        return {"Authorization": f"Bearer {self.key}"}


@contextlib.asynccontextmanager
async def api_process(settings: Settings) -> AsyncIterator[ApiProcess]:
    """Serve the API as ``make up`` configures it; yield once ``GET /health`` answers 200."""
    key = generate_key()
    port = free_port()
    log_path = settings.data_dir / f"api-{port}.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "docbatch.api"],
            cwd=ROOT,
            env={
                **os.environ,
                **settings_env(settings),
                "DOCBATCH_API_KEY": key,
                "DOCBATCH_API_PORT": str(port),
                "DOCBATCH_API_HOST": "127.0.0.1",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health")).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the API did not start:\n{tail}")
                await asyncio.sleep(0.1)
        yield ApiProcess(pid=process.pid, base_url=base_url, key=key)
    finally:
        await _stop(process)
