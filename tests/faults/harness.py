"""Real processes for fault injection: a restartable Temporal dev server, worker processes,
the API, a store lock, and an audit of a job's outcome straight from the store.

Every process is started in its own session (its own process group), so a test can
SIGKILL a worker *with* its engine pool processes, and clean-up can make sure nothing
is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import TimeoutType
from temporalio.client import Client
from temporalio.service import RPCError

import worker as worker_module
from docbatch import service
from docbatch.blobs import location_to_path
from docbatch.engines.base import Engine
from docbatch.ids import item_workflow_id
from docbatch.models import BatchCreateRequest
from docbatch.settings import Settings
from docbatch.stack import dev_server_command, wait_for_temporal
from docbatch.store import Store
from docbatch.store.tables import JobRow
from tests.conftest import REPO_ROOT, free_port
from tests.databases import asyncpg_dsn, fresh_postgres_database, postgres_rows
from tests.faults.engines import fault_engine

STOP_TIMEOUT = 30.0
READY_TIMEOUT = 60.0


async def eventually(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; return it.

    Raises ``TimeoutError`` naming ``what`` past ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:g}s")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------- processes


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid`` (Linux ``/proc``)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class ManagedProcess:
    """A child process in its own process group, with its output in a log file."""

    def __init__(
        self, name: str, argv: list[str], *, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start the process (again); its output is appended to the log."""
        assert self.process is None or self.process.poll() is not None, f"{self.name} runs"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n----- start {self.starts + 1} of {self.name}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process (the group leader) still runs."""
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        """Everything the process wrote so far (all starts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_log(self, text: str, *, occurrences: int = 1, timeout: float) -> None:
        """Wait until ``text`` appeared ``occurrences`` times in the log, or fail fast."""

        def seen() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.log_text()[-4000:]}")
            return self.log_text().count(text) >= occurrences

        await eventually(seen, timeout=timeout, what=f"{self.name} logs {text!r}")

    async def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group and wait until all of it is gone."""
        if self.process is None:
            return
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        await asyncio.to_thread(self.process.wait, STOP_TIMEOUT)
        if sig != signal.SIGKILL:
            return
        await eventually(
            lambda: not group_members(pgid),
            timeout=STOP_TIMEOUT,
            what=f"every process of {self.name}'s group ends",
        )

    async def stop(self, sig: int = signal.SIGTERM, *, timeout: float = STOP_TIMEOUT) -> int:
        """Ask the leader to stop with ``sig``; SIGKILL the group if it does not in time.

        Whatever the leader left behind in its group is killed too. Returns the exit
        status of the leader.
        """
        if self.process is None:
            return 0
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                await asyncio.to_thread(self.process.wait, timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await asyncio.to_thread(self.process.wait, STOP_TIMEOUT)
        code = self.process.returncode
        self.reap_group()
        return code

    def reap_group(self) -> None:
        """Synchronously SIGKILL whatever is left of the process group (for ``finally``)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)


class DevServer(ManagedProcess):
    """The Temporal dev server with a persistent database, restartable on the same port."""

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        # Explicit values: a DOCBATCH_*/TEMPORAL_* environment must not leak in.
        self.settings = Settings(
            data_dir=data_dir,
            temporal_address=f"127.0.0.1:{port or free_port()}",
            temporal_namespace="default",
            database_url=None,
        )
        super().__init__(
            "temporal",
            dev_server_command(self.settings, ui=False),
            env=os.environ,
            log_path=data_dir / "temporal-server.log",
        )

    @property
    def address(self) -> str:
        return self.settings.temporal_address

    async def start_and_connect(self) -> Client:
        """Start the server and return a client once it answers."""
        self.start()
        try:
            return await wait_for_temporal(self.settings, timeout=READY_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"Temporal did not start:\n{self.log_text()[-4000:]}") from None


def process_env(server: DevServer, data_dir: Path, task_queue: str, **extra: str) -> dict[str, str]:
    """The environment of a docbatch process (worker or API) of one test's stack."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCBATCH_", "TEMPORAL_"))
    }
    env.update(
        {
            "TEMPORAL_ADDRESS": server.address,
            "TEMPORAL_NAMESPACE": server.settings.temporal_namespace,
            "DOCBATCH_DATA_DIR": str(data_dir),
            "DOCBATCH_TASK_QUEUE": task_queue,
            "DOCBATCH_ENGINE_PROCESSES": "1",
            "DOCBATCH_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class WorkerProcess(ManagedProcess):
    """``python worker.py`` (or another worker entry point) in its own process group."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        log_path: Path,
        *,
        module: str | None = None,
    ) -> None:
        argv = [sys.executable, "worker.py"] if module is None else [sys.executable, "-m", module]
        super().__init__(name, argv, env=env, log_path=log_path)

    async def start_ready(self) -> None:
        """Start and wait until it polls its task queue."""
        self.start()
        await self.wait_log('"worker started"', occurrences=self.starts, timeout=READY_TIMEOUT)

    def engine_processes(self) -> list[int]:
        """The worker's process group without the worker itself (engine pool, helpers)."""
        return [pid for pid in group_members(self.pid) if pid != self.pid]


# ------------------------------------------------------------------------ store

StoreRef = Path | str
"""The store a test audits: the SQLite file, or the URL of its Postgres database."""

POSTGRES_TABLES = (
    "directories",
    "files",
    "job_items",
    "jobs",
    "processing_results",
    "webhook_events",
    "api_keys",
    "idempotency_keys",
)
"""Every docbatch table, in the order item transitions take them (items, then the job's
counters, then the result), which makes a deadlock with a running write rarer."""
POSTGRES_LOCK_ATTEMPTS = 10


class StoreLock:
    """Hold an exclusive lock on the store from another connection, in a thread.

    SQLite: ``BEGIN EXCLUSIVE`` on a WAL database blocks every writer (readers go on);
    docbatch's writers wait on ``busy_timeout`` while it is held. Postgres: ``LOCK TABLE
    … IN EXCLUSIVE MODE`` on every docbatch table, the same fault: writes (and ``SELECT
    … FOR UPDATE``) wait, plain reads go on. (``ACCESS EXCLUSIVE`` would also stop the
    readers, unlike the SQLite fault, and the test could not watch the store meanwhile.)
    """

    def __init__(self, db_file: StoreRef) -> None:
        self.db_file = db_file
        self._acquired = threading.Event()
        self._release = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.held_seconds = 0.0

    @property
    def description(self) -> str:
        """The fault, for the report."""
        if isinstance(self.db_file, str):
            return "`LOCK TABLE … IN EXCLUSIVE MODE` on every table of the Postgres store"
        return "`BEGIN EXCLUSIVE` on the store's SQLite file"

    def _hold(self) -> None:
        if isinstance(self.db_file, str):
            self._hold_postgres(self.db_file)
            return
        try:
            connection = sqlite3.connect(self.db_file, timeout=60, isolation_level=None)
            try:
                connection.execute("BEGIN EXCLUSIVE")
                started = time.monotonic()
                self._acquired.set()
                self._release.wait()
                connection.execute("ROLLBACK")
                self.held_seconds = time.monotonic() - started
            finally:
                connection.close()
        except BaseException as exc:  # reported by release()
            self._error = exc
            self._acquired.set()

    def _hold_postgres(self, url: str) -> None:
        async def hold() -> None:
            connection = await asyncpg.connect(asyncpg_dsn(url))
            try:
                # The tables lock one after the other: a writer holding one of them and
                # waiting for another is a deadlock, which Postgres resolves by aborting
                # one side. When that is this lock, take it again.
                for attempt in range(1, POSTGRES_LOCK_ATTEMPTS + 1):
                    transaction = connection.transaction()
                    await transaction.start()
                    try:
                        await connection.execute(
                            f"LOCK TABLE {', '.join(POSTGRES_TABLES)} IN EXCLUSIVE MODE"
                        )
                        break
                    except asyncpg.DeadlockDetectedError:
                        await transaction.rollback()
                        if attempt == POSTGRES_LOCK_ATTEMPTS:
                            raise
                started = time.monotonic()
                self._acquired.set()
                await asyncio.to_thread(self._release.wait)
                await transaction.rollback()
                self.held_seconds = time.monotonic() - started
            finally:
                await connection.close()

        try:
            asyncio.run(hold())
        except BaseException as exc:  # reported by release()
            self._error = exc
            self._acquired.set()

    async def acquire(self) -> None:
        """Take the lock (waits for a running write transaction to end)."""
        self._thread = threading.Thread(target=self._hold, name="store-lock", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._acquired.wait, 60)
        if self._error is not None:
            raise self._error

    async def release(self) -> None:
        """Roll back and close the locking connection."""
        self._release.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 60)
        if self._error is not None:
            raise self._error


def query(db_file: StoreRef, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the store (stdlib sqlite3 or one asyncpg connection,
    no pool); ``?`` placeholders on both."""
    if isinstance(db_file, str):
        return [tuple(row) for row in postgres_rows(db_file, sql, *params)]
    connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=60)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


@dataclass
class Audit:
    """A job's outcome read from the store: what was done once, lost or duplicated."""

    job_id: str
    status: str
    files: int
    items: int
    by_status: dict[str, int]
    counters: dict[str, int]
    total_items: int
    results: int
    duplicated: list[str] = field(default_factory=list)
    """Items with more than one processing result in this job."""
    unfinished: list[str] = field(default_factory=list)
    """Items still ``pending`` or ``processing``."""
    unlisted: int = 0
    """Files of the job's directory without an item row."""
    completed_without_result: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)
    results_of_unfinished: list[str] = field(default_factory=list)
    """Result rows of items that did not complete (kept outputs of cancelled items)."""
    failed_without_message: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Items that never reached a terminal status, or files never made items."""
        return len(self.unfinished) + self.unlisted

    def count(self, status: str) -> int:
        return self.by_status.get(status, 0)

    def check(self) -> None:
        """Assert the invariants every fault must keep."""
        problems = []
        if self.lost:
            problems.append(f"lost items: {self.unfinished[:5]} (+{self.unlisted} unlisted)")
        if self.duplicated:
            problems.append(f"duplicated results: {self.duplicated[:5]}")
        if self.counters != {
            status: self.count(status) for status in ("completed", "failed", "skipped", "cancelled")
        }:
            problems.append(f"job counters {self.counters} != item statuses {self.by_status}")
        if self.total_items != self.items or self.items != self.files:
            problems.append(
                f"total_items {self.total_items}, item rows {self.items}, files {self.files}"
            )
        if self.completed_without_result:
            problems.append(f"completed without result: {self.completed_without_result[:5]}")
        if self.missing_blobs:
            problems.append(f"results without output blob: {self.missing_blobs[:5]}")
        if self.results_of_unfinished:
            problems.append(f"results of items not completed: {self.results_of_unfinished[:5]}")
        if self.failed_without_message:
            problems.append(f"failed without error message: {self.failed_without_message[:5]}")
        assert not problems, f"job {self.job_id} ({self.status}): " + "; ".join(problems)


def audit_job(db_file: StoreRef, job_id: str) -> Audit:
    """Read everything about a job's items and results from the store."""
    ((status, directory_id, total, completed, failed, skipped, cancelled),) = query(
        db_file,
        "SELECT status, directory_id, total_items, completed_items, failed_items,"
        " skipped_items, cancelled_items FROM jobs WHERE id = ?",
        job_id,
    )
    items = query(
        db_file,
        "SELECT item_id, status, result_id, error_message FROM job_items WHERE job_id = ?",
        job_id,
    )
    results = query(
        db_file,
        "SELECT item_id, result_id, output_location FROM processing_results WHERE job_id = ?",
        job_id,
    )
    files = len(items)
    unlisted = 0
    if directory_id is not None:
        (max_seq,) = query(db_file, "SELECT max_file_seq FROM jobs WHERE id = ?", job_id)[0]
        ((files,),) = query(
            db_file,
            "SELECT count(*) FROM files WHERE directory_id = ? AND NOT deleted AND seq <= ?",
            directory_id,
            max_seq or 0,
        )
        ((unlisted,),) = query(
            db_file,
            "SELECT count(*) FROM files f WHERE f.directory_id = ? AND NOT f.deleted"
            " AND f.seq <= ? AND NOT EXISTS (SELECT 1 FROM job_items i"
            " WHERE i.job_id = ? AND i.item_id = f.id)",
            directory_id,
            max_seq or 0,
            job_id,
        )
    by_status: dict[str, int] = {}
    for _, item_status, _, _ in items:
        by_status[item_status] = by_status.get(item_status, 0) + 1
    results_of: dict[str, list[tuple[str, str]]] = {}
    for item_id, result_id, location in results:
        results_of.setdefault(item_id, []).append((result_id, location))
    audit = Audit(
        job_id=job_id,
        status=status,
        files=files,
        items=len(items),
        by_status=by_status,
        counters={
            "completed": completed,
            "failed": failed,
            "skipped": skipped,
            "cancelled": cancelled,
        },
        total_items=total,
        results=len(results),
        unlisted=unlisted,
    )
    for item_id, item_status, result_id, error_message in items:
        mine = results_of.get(item_id, [])
        if len(mine) > 1:
            audit.duplicated.append(item_id)
        if item_status in ("pending", "processing"):
            audit.unfinished.append(item_id)
        if item_status == "completed" and (
            result_id is None or result_id not in {r for r, _ in mine}
        ):
            audit.completed_without_result.append(item_id)
        if item_status != "completed" and mine:
            audit.results_of_unfinished.append(item_id)
        if item_status == "failed" and not error_message:
            audit.failed_without_message.append(item_id)
        for _, location in mine:
            if location.startswith("file:") and not location_to_path(location).is_file():
                audit.missing_blobs.append(item_id)
    return audit


def result_blobs(blob_dir: Path) -> dict[str, int]:
    """How many output files each item has under the local blob storage."""
    root = blob_dir / "results"
    if not root.is_dir():
        return {}
    return {item.name: sum(1 for _ in item.iterdir()) for item in root.iterdir()}


def job_row(db_file: StoreRef, job_id: str) -> dict[str, Any]:
    """The job's status and counters as a dict (cheap enough to poll)."""
    if isinstance(db_file, str):
        (row,) = postgres_rows(db_file, "SELECT * FROM jobs WHERE id = ?", job_id)
        return dict(row)
    connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=60)
    connection.row_factory = sqlite3.Row
    try:
        row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row)
    finally:
        connection.close()


def item_statuses(db_file: StoreRef, job_id: str) -> dict[str, int]:
    """Counts of the job's item rows by status."""
    return dict(
        query(
            db_file,
            "SELECT status, count(*) FROM job_items WHERE job_id = ? GROUP BY status",
            job_id,
        )
    )


def items_named(db_file: StoreRef, job_id: str, fragment: str) -> list[tuple[str, str, str | None]]:
    """``(item_name, status, error_message)`` of the job's items whose name has ``fragment``."""
    return [
        (name, status, error)
        for name, status, error in query(
            db_file,
            "SELECT item_name, status, error_message FROM job_items"
            " WHERE job_id = ? AND item_name LIKE ? ORDER BY ordinal",
            job_id,
            f"%{fragment}%",
        )
    ]


# ---------------------------------------------------------------------- temporal


async def engine_attempts(client: Client, job_id: str, item_ids: list[str]) -> dict[str, int]:
    """How many times each item's engine ran, as far as its history shows (1: once).

    Temporal records only the last attempt's ``ActivityTaskStarted`` event of the durable
    path, with its attempt number. A quick attempt runs inside a workflow task and leaves
    no event until it ends: one cut off (its worker killed) shows as a workflow task that
    started and timed out, and counts as one more run. Items whose child workflow never
    started are left out (0).
    """
    limit = asyncio.Semaphore(16)

    async def attempt_of(item_id: str) -> tuple[str, int]:
        async with limit:
            handle = client.get_workflow_handle(item_workflow_id(job_id, item_id))
            try:
                history = await handle.fetch_history()
            except RPCError:
                return item_id, 0
        durable = max(
            (
                event.activity_task_started_event_attributes.attempt
                for event in history.events
                if event.HasField("activity_task_started_event_attributes")
            ),
            default=1,
        )
        quick_cut_off = sum(
            1
            for event in history.events
            if event.HasField("workflow_task_timed_out_event_attributes")
            and event.workflow_task_timed_out_event_attributes.timeout_type
            == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
        )
        return item_id, durable + quick_cut_off

    return dict(await asyncio.gather(*(attempt_of(item_id) for item_id in item_ids)))


# ----------------------------------------------------------------------- cluster


@dataclass
class Cluster:
    """One test's stack: a dev server subprocess, a store, workers, a task queue."""

    root: Path
    server: DevServer
    client: Client
    task_queue: str
    store: Store
    processes: list[ManagedProcess] = field(default_factory=list)
    database_url: str | None = None
    """The stack's Postgres database (``tests.databases``); None: the SQLite file."""

    @property
    def data_dir(self) -> Path:
        return self.server.settings.data_dir

    @property
    def db_file(self) -> StoreRef:
        """The store to audit: the SQLite file, or the Postgres database's URL."""
        return self.database_url or self.data_dir / "docbatch.db"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def settings(self, **overrides: Any) -> Settings:
        """Settings of this stack (the test's side, or an in-process worker's)."""
        values: dict[str, Any] = {
            "data_dir": self.data_dir,
            "task_queue": self.task_queue,
            "temporal_address": self.server.address,
            "temporal_namespace": self.server.settings.temporal_namespace,
            "database_url": self.database_url,
            **overrides,
        }
        return Settings(**values)

    def env(self, **extra: str) -> dict[str, str]:
        if self.database_url is not None:
            extra = {"DOCBATCH_DATABASE_URL": self.database_url, **extra}
        return process_env(self.server, self.data_dir, self.task_queue, **extra)

    def worker(self, name: str, *, module: str | None = None, **env: str) -> WorkerProcess:
        """A worker process of this stack (not started), cleaned up with the stack."""
        process = WorkerProcess(
            name, self.env(**env), self.root / "logs" / f"{name}.log", module=module
        )
        self.processes.append(process)
        return process

    def api(self, port: int, key: str) -> ManagedProcess:
        """``python -m docbatch.api`` of this stack (not started)."""
        process = ManagedProcess(
            "api",
            [sys.executable, "-m", "docbatch.api"],
            env=self.env(DOCBATCH_API_PORT=str(port), DOCBATCH_API_KEY=key),
            log_path=self.root / "logs" / "api.log",
        )
        self.processes.append(process)
        return process

    async def folder_job(
        self, folder: Path, config: dict[str, Any] | None = None, **extra: Any
    ) -> JobRow:
        """Register ``folder`` and create a job over it, as the CLI does."""
        settings = self.settings(**extra.pop("settings", {}))
        registered = await service.register_local_folder(
            self.store, folder, project_id=settings.project_id
        )
        request = BatchCreateRequest.model_validate(
            {"job_config": config or {}, "directory_id": registered.directory.id, **extra}
        )
        return await service.create_job(
            self.store, self.client, settings, request, project_id=settings.project_id
        )

    async def finished(self, job: JobRow, *, timeout: float) -> dict[str, Any]:
        """Wait for the parent workflow chain to close; its result."""
        handle = self.client.get_workflow_handle(job.workflow_id)
        result: dict[str, Any] = await asyncio.wait_for(handle.result(), timeout)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        return job_row(self.db_file, job_id)

    async def no_open_workflows(self, job_id: str) -> None:
        """Every workflow of the job closed (visibility may lag a little)."""
        query_text = f'DocbatchJobId = "{job_id}" AND ExecutionStatus = "Running"'

        async def none_open() -> bool:
            return (await self.client.count_workflows(query_text)).count == 0

        await eventually(none_open, timeout=30, what=f"workflows of {job_id} closed")

    async def close(self) -> None:
        """Stop every process of the stack (SIGKILL whatever does not stop)."""
        try:
            for process in self.processes:
                await process.kill_group()
        finally:
            for process in self.processes:
                process.reap_group()
            await self.store.close()
            await self.server.stop()
            self.server.reap_group()


@contextlib.asynccontextmanager
async def cluster(root: Path) -> AsyncIterator[Cluster]:
    """A dev server subprocess on a persistent database under ``root``, and a store
    (the SQLite file in the data dir, or a fresh Postgres database, see ``tests.databases``)."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    async with fresh_postgres_database() as database_url:
        server = DevServer(data_dir)
        try:
            client = await server.start_and_connect()
            store = await Store.open(database_url or server.settings.effective_database_url)
        except BaseException:
            server.reap_group()
            raise
        stack = Cluster(
            root=root,
            server=server,
            client=client,
            task_queue=f"faults-{uuid.uuid4().hex[:8]}",
            store=store,
            database_url=database_url,
        )
        try:
            yield stack
        finally:
            await stack.close()


@contextlib.asynccontextmanager
async def in_process_worker(
    stack: Cluster, *, engine: Engine = fault_engine, **overrides: Any
) -> AsyncIterator[worker_module.WorkerResources]:
    """``worker.build_worker`` in this process with a test engine, against the stack.

    On the way out the engine processes are killed before the worker stops, so that its
    graceful shutdown does not wait for an engine the test left hanging.
    """
    settings = stack.settings(**overrides)
    async with worker_module.worker_resources(settings) as resources:
        worker = worker_module.build_worker(stack.client, settings, resources, engine=engine)
        async with worker:
            try:
                yield resources
            finally:
                resources.pool.kill()
