"""What every benchmark shares: the dev server (persistent as ``make up`` runs it, or in
memory), a worker process, jobs over folders, process measurements and the report.

The benchmarks import docbatch (``docbatch.stack.dev_server_command``, ``worker.
build_worker``, ``docbatch.service``) rather than copy it, so they measure whatever
code is checked out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from docbatch import service
from docbatch.auth import generate_key
from docbatch.models import BatchCreateRequest, JobStatus
from docbatch.settings import Settings
from docbatch.stack import dev_server_command, wait_for_temporal
from docbatch.store import Store
from docbatch.store.tables import JobRow
from docbatch.temporal import ensure_search_attributes

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "documents"
RESULTS = ROOT / "bench" / "RESULTS.md"
PROJECT_ID = "proj-bench"
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SECTION_ORDER = (
    "real_documents",
    "orchestration",
    "dedup",
    "scale",
    "cancel",
    "status_latency",
    "results_jsonl",
    "parse_quality",
)


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


# ----------------------------------------------------------------- measurements


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and of the children it waited for; 0 if gone.

    Waited-for children count so that an engine's helper programs (``tesseract``) are
    charged to the engine process that ran them.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def status_mb(pid: int, key: str) -> float:
    """A ``/proc/<pid>/status`` memory figure (``VmRSS``, ``VmHWM``) in MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children_of(pid: int) -> list[int]:
    """The direct child processes of ``pid``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return sorted(set(found))


def command_of(pid: int) -> str:
    """A process's command line, shortened."""
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return raw.strip()[:120]
    return "?"


class CpuMeter:
    """CPU seconds used by named processes (or groups of processes) inside a ``with``."""

    def __init__(self, pids: Mapping[str, int | Sequence[int]]) -> None:
        self._pids = {
            name: [pid] if isinstance(pid, int) else list(pid) for name, pid in pids.items()
        }
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(map(cpu_seconds, pids)) for name, pids in self._pids.items()}

    def __enter__(self) -> CpuMeter:
        self._before = self._now()
        return self

    def __exit__(self, *_: object) -> None:
        self.used = {name: seconds - self._before[name] for name, seconds in self._now().items()}


def engine_processes_of(pid: int) -> list[int]:
    """The engine processes (spawned by multiprocessing) a process started."""
    return [
        child
        for child in children_of(pid)
        if "multiprocessing" in command_of(child) and "resource_tracker" not in command_of(child)
    ]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0-100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# ------------------------------------------------------------------------- jobs


def write_small_files(folder: Path, count: int, *, tag: str = "") -> None:
    """``count`` small text files with distinct content (so dedup does not apply)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name = f"doc-{index:06d}.txt"
        (folder / name).write_text(f"Document {tag}{index}\n\nBody of document {tag}{index}.\n")


async def register(store: Store, folder: Path) -> str:
    """Register a folder as a directory (as ``starter.py run`` does); return its id."""
    registered = await service.register_local_folder(store, folder, project_id=PROJECT_ID)
    return registered.directory.id


async def create_job(
    store: Store,
    client: Client,
    settings: Settings,
    directory_id: str,
    job_config: dict[str, Any] | None = None,
) -> JobRow:
    """Create a job over a directory through ``docbatch.service`` (starts its workflow)."""
    request = BatchCreateRequest.model_validate(
        {"job_config": job_config or {}, "directory_id": directory_id}
    )
    return await service.create_job(store, client, settings, request, project_id=PROJECT_ID)


@dataclass
class JobRun:
    """A finished job: its final row and the wall time from create to the workflow result."""

    job: JobRow
    wall: float

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.job.total_items / self.wall if self.wall > 0 else math.nan

    def counts(self) -> str:
        """The job's outcome counts in one line."""
        job = self.job
        return (
            f"{job.total_items} items: {job.completed_items} completed, {job.failed_items} "
            f"failed, {job.skipped_items} skipped, {job.cancelled_items} cancelled ({job.status})"
        )


async def run_job(
    store: Store,
    client: Client,
    settings: Settings,
    directory_id: str,
    job_config: dict[str, Any] | None = None,
) -> JobRun:
    """Create a job and wait for its parent workflow's result; time both.

    Gives up (``TimeoutError``) past ``deadline(total items)``: a broken checkout must
    fail the benchmark, not hang it.
    """
    started = time.perf_counter()
    job = await create_job(store, client, settings, directory_id, job_config)
    handle = client.get_workflow_handle(job.workflow_id)
    limit = deadline(
        (await store.jobs.get_job(job.id)).total_items
        or await store.directories.count_files(directory_id)
    )
    try:
        await asyncio.wait_for(handle.result(), limit)
    except TimeoutError:
        row = await store.jobs.get_job(job.id)
        raise TimeoutError(
            f"job {job.id} not finished after {limit:.0f} s ({row.status}, "
            f"{row.completed_items} of {row.total_items} completed): see the worker's log"
        ) from None
    wall = time.perf_counter() - started
    return JobRun(job=await store.jobs.get_job(job.id), wall=wall)


def deadline(items: int) -> float:
    """How long a job of ``items`` may take before a benchmark gives up (≥ 5 items/s)."""
    return 120.0 + items / 5


def job_completed(run: JobRun, *, completed: int, skipped: int = 0) -> bool:
    """The job ended ``completed`` with exactly these counts and nothing else."""
    job = run.job
    return (
        job.status == JobStatus.COMPLETED.value
        and job.total_items == completed + skipped
        and job.completed_items == completed
        and job.skipped_items == skipped
        and job.failed_items == 0
        and job.cancelled_items == 0
    )


async def run_chain(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The histories of every run of a workflow's continue-as-new chain, first run first."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return list(reversed(histories))
        run_id = started.continued_execution_run_id


def children_started(histories: Sequence[WorkflowHistory]) -> int:
    """How many child workflows (any type) a chain of runs started."""
    initiated = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    return sum(1 for h in histories for event in h.events if event.event_type == initiated)


# ----------------------------------------------------------------------- report


_OUTPUT_OPTIONS = ("--results", "--json", "--workdir", "--profile-dir")
"""Options that say where output goes, not what is measured: left out of the shown command."""


def invocation() -> str:
    """The command line that ran this benchmark, as run from the repository root."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    shown: list[str] = []
    arguments = iter(sys.argv[1:])
    for argument in arguments:
        if argument in _OUTPUT_OPTIONS:
            next(arguments, None)
        elif not argument.startswith(tuple(f"{o}=" for o in _OUTPUT_OPTIONS)):
            shown.append(argument)
    return shlex.join([".venv/bin/python", str(script), *shown])


def load_average() -> str:
    """The machine's 1-minute load average (other work on the shared cores)."""
    return f"{os.getloadavg()[0]:.1f}"


_LOAD_AT_START = load_average()
"""The load average when the benchmark started (this module is imported first thing)."""


def git_commit() -> str:
    """The checked-out commit, marked when the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + uncommitted changes" if dirty else commit


def cores() -> str:
    """The machine's core count, and how many this process may use."""
    usable = len(os.sched_getaffinity(0))
    return f"{os.cpu_count()} cores ({usable} usable)"


@dataclass
class Figure:
    """One reported figure, its target and whether it is met (None: no target)."""

    name: str
    value: float | int | str
    unit: str = ""
    target: str = ""
    met: bool | None = None

    def shown(self) -> str:
        """The value with its unit, rounded for reading."""
        value = self.value
        if isinstance(value, float):
            text = f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
        else:
            text = str(value)
        return f"{text} {self.unit}".strip()


def at_most(name: str, value: float, target: float, unit: str = "") -> Figure:
    """A figure whose target is an upper bound."""
    return Figure(name, value, unit, f"≤ {target:g} {unit}".strip(), value <= target)


def at_least(name: str, value: float, target: float, unit: str = "") -> Figure:
    """A figure whose target is a lower bound."""
    return Figure(name, value, unit, f"≥ {target:g} {unit}".strip(), value >= target)


@dataclass
class Report:
    """A benchmark's figures, invariants and notes, as Markdown and JSON."""

    key: str
    title: str
    parameters: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    invariants: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    command: str = field(default_factory=invocation)
    date: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    commit: str = field(default_factory=git_commit)
    load_at_start: str = field(default_factory=lambda: _LOAD_AT_START)

    def add(self, figure: Figure) -> Figure:
        """Add a figure; return it."""
        self.figures.append(figure)
        return figure

    def check(self, name: str, holds: bool) -> bool:
        """Record an invariant (a correctness check, never a timing)."""
        self.invariants[name] = bool(holds)
        return bool(holds)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return all(self.invariants.values())

    def markdown(self) -> str:
        """The report as a Markdown section."""
        parameters = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        lines = [
            f"## {self.title}",
            "",
            f"`{self.command}` — {self.date}, commit {self.commit}, {cores()}, load average "
            f"{self.load_at_start} at start and {load_average()} at the end",
            "",
            f"Parameters: {parameters}",
            "",
            "| figure | value | target | met? |",
            "|---|---|---|---|",
        ]
        for figure in self.figures:
            met = {True: "yes", False: "**no**", None: ""}[figure.met]
            lines.append(f"| {figure.name} | {figure.shown()} | {figure.target} | {met} |")
        checks = ", ".join(
            f"{name}: {'ok' if held else 'FAILED'}" for name, held in self.invariants.items()
        )
        lines += ["", f"Checks: {checks}"]
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        """The report as plain data (what the smoke tests read)."""
        return {
            "key": self.key,
            "parameters": self.parameters,
            "figures": {
                f.name: {"value": f.value, "unit": f.unit, "target": f.target, "met": f.met}
                for f in self.figures
            },
            "invariants": self.invariants,
            "notes": self.notes,
            "commit": self.commit,
            "date": self.date,
        }


def write_section(path: Path, report: Report) -> None:
    """Replace (or add) this benchmark's section of ``RESULTS.md``.

    Everything else in the file stays as it was: the other benchmarks' sections and the
    prose written around them (the summary of where each target stands). A section not
    yet in the file goes before the first section that follows it in ``SECTION_ORDER``,
    else at the end.
    """
    text = path.read_text() if path.exists() else RESULTS_HEADER
    begin, end = f"<!-- bench:{report.key} -->", f"<!-- /bench:{report.key} -->"
    body = report.markdown().strip("\n")
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        start, stop = text.index(begin), text.index(end) + len(end)
        path.write_text(text[:start] + block + text[stop:])
        return
    later = SECTION_ORDER[SECTION_ORDER.index(report.key) + 1 :]
    for key in later:
        marker = f"<!-- bench:{key} -->"
        if marker in text:
            at = text.index(marker)
            path.write_text(text[:at] + block + "\n\n" + text[at:])
            return
    path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")


RESULTS_HEADER = """# Benchmark results

Written by the scripts in `bench/` (issue 6): each replaces its own section below;
`make bench` (`bench/run_all.py`) runs them all with their defaults. Every figure is a
ratio or a rate against a baseline measured in the same run, because the machine is
shared and noisy (each section gives the load average); compare ratios, not seconds.
Each script has `--smoke` (tiny N; `tests/test_bench_smoke.py` runs it) and `--help`.

| # | command | default N | target |
|---|---|---|---|
| 1 | `bench/real_documents.py` | 3 copies of the corpus | wall(docbatch) ÷ wall(direct) ≤ 1.25 |
| 2 | `bench/orchestration.py --profile` | 1,000 no-op items | docbatch ≥ 0.8 × bare child |
| 3 | `bench/dedup.py` | 2,000 items | re-run ≥ 1,000 items/s, no child |
| 4 | `bench/scale.py` | 10,000 and 100,000 items | history ≤ 4,000/run, RSS ≤ 300 MB, ≤ 11× |
| 5 | `bench/cancel.py` | 100 in flight, 5 trials/method | ≤ 2 s to `cancelled` |
| 6 | `bench/status_latency.py` | 10,000 items | p99 ≤ 50 ms |
| 7 | `bench/results_jsonl.py` | 10,000 items | API RSS growth < 50 MB |
"""


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--smoke``, ``--results`` and ``--json``, shared by every benchmark."""
    parser.add_argument(
        "--smoke", action="store_true", help="tiny N, to check the benchmark still runs"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"Markdown file to update (default {RESULTS.relative_to(ROOT)}; none with --smoke)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep data, logs and files here (default: a temporary directory, removed)",
    )


def smoke_overrides(arguments: argparse.Namespace) -> dict[str, Any]:
    """Settings of a smoke run: one engine process (starting engines is most of its time)."""
    return {"engine_processes": 1} if arguments.smoke else {}


@contextlib.contextmanager
def workdir(arguments: argparse.Namespace) -> Iterator[Path]:
    """The benchmark's working directory: ``--workdir`` (kept) or a temporary one."""
    if arguments.workdir is not None:
        arguments.workdir.mkdir(parents=True, exist_ok=True)
        yield arguments.workdir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="docbatch-bench-") as tmp:
        yield Path(tmp)


def run_main(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``, with SIGTERM cancelling it like Ctrl-C does.

    Cancelling runs every ``finally``, so the dev server, worker and API processes a
    benchmark started (each in its own session) are stopped, not left behind.
    """

    async def cancellable() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        return asyncio.run(cancellable())
    except asyncio.CancelledError:
        print("stopped", file=sys.stderr)
        return 128 + signal.SIGTERM


def finish(report: Report, arguments: argparse.Namespace) -> int:
    """Print the report, write it where asked; exit status 1 if an invariant failed."""
    print()
    print(report.markdown())
    results = arguments.results or (None if arguments.smoke else RESULTS)
    if results is not None:
        write_section(results, report)
        print(f"written to {results}")
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(report.as_json(), indent=2))
    return 0 if report.ok else 1


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as elapsed: …`` then ``elapsed[0]`` is the wall time in seconds."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)
