"""Real documents: docbatch's wall time over N copies of the corpus ÷ a plain process pool's.

    .venv/bin/python bench/real_documents.py [--copies 3] [--rounds 3] [--smoke]

N copies of ``../shared/corpus/documents`` (each copy's bytes made distinct so dedup
does not apply, the documents staying valid) are parsed

- **through docbatch, as users run it**: the persistent, tuned dev server, ``worker.py``
  as a process (warm: it has run an untimed job, so its engine processes have loaded
  every format), and ``starter.py run <folder> --json`` as a process, timed from its
  start to its exit (registering the folder, the job, waiting for its end);
- **by the baseline a user would write instead**: ``parse_document`` on every file in a
  plain ``concurrent.futures.ProcessPoolExecutor`` of the same number of processes,
  every document submitted at once, the outputs returned to the caller.

Each round times plain → docbatch → plain (each round with copies of its own); a
round's figure is wall(docbatch) ÷ the mean of the two plain walls, and the report gives
the median over the rounds (target ≤ 1.25). Only documents that parse in an untimed
warm-up copy are copied, so both sides do the same successful work; the script checks
that every document succeeds on both sides with byte-identical outputs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import mimetypes
import os
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from bench import harness
from docbatch.blobs import BlobStore
from docbatch.engines.base import EngineRequest
from docbatch.engines.parse import parse_document
from docbatch.models import ItemStatus, engine_config, load_job_config
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.tables import JobRow

TARGET_RATIO = 1.25
JOB_CONFIG: dict[str, object] = {}
"""The parse job config of both sides (defaults)."""
SMOKE_COPIES = 2
CALIBRATION_COPY = 999
"""Copy number of the untimed warm-up copy (its bytes differ from every timed copy)."""
SMOKE_DOCUMENTS = ("fake-text.txt", "fake-html.html", "fake-memo.pdf", "fake_table.docx")

_ZIP_SUFFIXES = {".docx", ".pptx", ".xlsx", ".odt", ".epub", ".zip"}
_TEXT_SUFFIXES = {".txt", ".md", ".csv", ".json", ".eml", ".rtf", ".html", ".htm", ".xml"}


# ----------------------------------------------------------------------- copies


def _encoding_of(data: bytes) -> str:
    # UTF-16 with or without a byte order mark (ASCII text then has a NUL in every pair).
    if data.startswith(b"\xfe\xff") or (data[:1] == b"\0" and data[1:2] != b"\0"):
        return "utf-16-be"
    if data.startswith(b"\xff\xfe") or (data[1:2] == b"\0" and data[:1] != b"\0"):
        return "utf-16-le"
    return "latin-1"  # ASCII markers encode alike in UTF-8 and single-byte encodings


def distinct_copy(source: Path, target: Path, copy: int) -> None:
    """Copy a document with bytes of its own, still a valid document of its format.

    Text formats get ``copy + 1`` trailing newlines in the file's own encoding (the same
    text); PDFs, images and legacy Office files bytes after their end (``%%EOF``, the
    image's end marker, the last sector), which readers ignore; zip-based formats a zip
    comment.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    marker = f"docbatch-bench copy {copy}"
    suffix = source.suffix.lower()
    data = source.read_bytes()
    if suffix in _ZIP_SUFFIXES:
        shutil.copyfile(source, target)
        try:
            with zipfile.ZipFile(target, "a") as archive:
                archive.comment = marker.encode()
            return
        except zipfile.BadZipFile:
            pass  # a malformed archive: fall back to trailing bytes
    if suffix in _TEXT_SUFFIXES:
        data += ("\n" * (copy + 1)).encode(_encoding_of(data))
    elif suffix == ".pdf":
        data += f"\n%{marker}\n".encode()
    else:
        data += marker.encode()
    target.write_bytes(data)


def make_copies(names: list[str], root: Path, copies: range) -> None:
    """Copies ``copies`` of the named corpus documents under ``root/copy-NNN/``."""
    for copy in copies:
        for name in names:
            distinct_copy(harness.CORPUS / name, root / f"copy-{copy:03d}" / name, copy)


# ----------------------------------------------------------------------- direct


@dataclass(frozen=True)
class Outcome:
    """A document's outcome: succeeded with this output's digest, or the error."""

    ok: bool
    detail: str


_CONFIG = engine_config(load_job_config(JOB_CONFIG))


def parse_one(path: str, file_name: str) -> str:
    """What a user's pool runs per file: ``parse_document``, its output returned."""
    request = EngineRequest(
        path=path,
        file_name=file_name,
        job_type="parse",
        config=_CONFIG,
        mime_type=mimetypes.guess_type(path)[0],
    )
    return parse_document(request).content


async def run_plain(pool: ProcessPoolExecutor, root: Path) -> tuple[dict[str, Outcome], float]:
    """Parse every file under ``root`` in the plain pool, all submitted at once."""
    loop = asyncio.get_running_loop()
    files = sorted(p for p in root.rglob("*") if p.is_file())

    async def one(path: Path) -> tuple[str, Outcome]:
        relative = path.relative_to(root).as_posix()
        try:
            content = await loop.run_in_executor(pool, parse_one, str(path), relative)
        except Exception as exc:
            return relative, Outcome(False, f"{type(exc).__name__}: {exc}"[:200])
        return relative, Outcome(True, hashlib.sha256(content.encode()).hexdigest())

    started = time.perf_counter()
    outcomes = dict(await asyncio.gather(*(one(path) for path in files)))
    return outcomes, time.perf_counter() - started


def pool_pids(pool: ProcessPoolExecutor) -> list[int]:
    """The pool's worker processes (started on first use)."""
    return [process.pid for process in pool._processes.values() if process.pid]


# --------------------------------------------------------------------- docbatch


async def docbatch_outcomes(store: Store, settings: Settings, job_id: str) -> dict[str, Outcome]:
    """Each item's outcome from the store, with the digest of its stored output."""
    blobs = BlobStore(settings.blob_dir)
    rows, _ = await store.items.list_items(job_id, limit=1_000_000)
    outcomes: dict[str, Outcome] = {}
    for row in rows:
        if row.status == "completed" and row.result_id:
            result = await store.items.get_result(row.result_id)
            content = await blobs.read_bytes(result.output_location)
            outcomes[row.item_name] = Outcome(True, hashlib.sha256(content).hexdigest())
        else:
            outcomes[row.item_name] = Outcome(False, f"{row.status}: {row.error_message}")
    return outcomes


@dataclass(frozen=True)
class StarterRun:
    """One ``starter.py run`` process: its job, wall time and CPU."""

    job_id: str
    wall: float
    cpu: float


@dataclass
class Paths:
    """How a job's items went: by the quick path (a local activity in the item's first
    workflow task) or the durable one (a regular activity), and their history events."""

    quick: int = 0
    durable: int = 0
    queued: int = 0
    """Of the durable ones, those whose quick attempt found every engine process busy."""
    quick_events: int = 0
    durable_events: int = 0

    def add(self, history: WorkflowHistory) -> None:
        events = history.events
        if not any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in events):
            self.quick += 1
            self.quick_events += len(events)
            return
        self.durable += 1
        self.durable_events += len(events)
        for event in events:  # the quick attempt's answer, recorded in its marker
            details = event.marker_recorded_event_attributes.details
            if "result" in details and details["result"].payloads:
                answer = json.loads(details["result"].payloads[0].data)
                self.queued += answer.get("status") == ItemStatus.PENDING.value
                break

    def describe(self) -> str:
        parts = []
        if self.quick:
            parts.append(f"{self.quick} quick ({self.quick_events / self.quick:.1f} events each)")
        if self.durable:
            parts.append(
                f"{self.durable} durable ({self.durable_events / self.durable:.1f} events each; "
                f"{self.queued} because every engine process was busy, the others too large "
                "or slow for the quick path's budget)"
            )
        return ", ".join(parts)


async def item_paths(client: Client, job_ids: list[str]) -> Paths:
    """Read the item workflows' histories (after the timing) to count the paths taken."""
    paths = Paths()
    for job_id in job_ids:
        query = f'DocbatchJobId="{job_id}" AND WorkflowType="BatchItemWorkflow"'
        async for execution in client.list_workflows(query):
            paths.add(await client.get_workflow_handle(execution.id).fetch_history())
    return paths


async def run_starter(settings: Settings, folder: Path, log_dir: Path) -> StarterRun:
    """``starter.py run <folder> --json`` as a user runs it, timed from start to exit."""
    output = log_dir / f"starter-{folder.name}.json"
    with output.open("wb") as stdout, (log_dir / "starter.log").open("ab") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "starter.py", "run", str(folder), "--json"],
            cwd=harness.ROOT,
            env={**os.environ, **harness.settings_env(settings)},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = await asyncio.to_thread(os.wait4, process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = (log_dir / "starter.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"starter.py run {folder} exited {process.returncode}:\n{tail}")
    shown = json.loads(output.read_text())
    return StarterRun(job_id=shown["job"]["id"], wall=wall, cpu=usage.ru_utime + usage.ru_stime)


@dataclass
class Round:
    """One docbatch run over its own copies, between two plain-pool runs."""

    run: StarterRun
    job: JobRow
    outcomes: dict[str, Outcome]
    direct_before: float
    direct_after: float
    direct_outcomes: dict[str, Outcome]

    @property
    def wall(self) -> float:
        return self.run.wall

    @property
    def ratio(self) -> float:
        """wall(docbatch) ÷ the mean of the plain runs around it."""
        return self.wall / ((self.direct_before + self.direct_after) / 2)


async def main(arguments: argparse.Namespace) -> int:
    """Warm both sides up, then time plain → docbatch → plain per round, and report."""
    copies = SMOKE_COPIES if arguments.smoke else arguments.copies
    rounds = 1 if arguments.smoke else arguments.rounds
    corpus = sorted(p.name for p in harness.CORPUS.iterdir() if p.is_file())
    if arguments.smoke:
        corpus = [name for name in corpus if name in SMOKE_DOCUMENTS]
    results: list[Round] = []
    with harness.workdir(arguments) as root:
        settings = harness.bench_settings(root / "data", **harness.smoke_overrides(arguments))
        logs = settings.data_dir
        calibration_folder = root / "calibration"
        folders = [root / f"round-{r}" for r in range(rounds)]
        pool = ProcessPoolExecutor(max_workers=settings.engine_processes)
        try:
            make_copies(corpus, calibration_folder, range(CALIBRATION_COPY, CALIBRATION_COPY + 1))
            async with (
                harness.dev_server(settings) as server,
                harness.user_worker_process(settings) as worker,
            ):
                store = await Store.open(settings.effective_database_url)
                try:
                    # Both sides parse one (distinct) copy untimed first: each engine
                    # process has then loaded what every format needs.
                    calibration, _ = await run_plain(pool, calibration_folder)
                    warm = await run_starter(settings, calibration_folder, logs)
                    warm_job = await store.jobs.get_job(warm.job_id)
                    parsed = sorted(n.split("/", 1)[1] for n, o in calibration.items() if o.ok)
                    refused = {
                        n.split("/", 1)[1]: o.detail for n, o in calibration.items() if not o.ok
                    }
                    print(f"calibration: {len(parsed)} of {len(corpus)} documents parse")
                    for name, detail in refused.items():
                        print(f"  left out {name}: {detail}")
                    print(f"docbatch warm-up job: {harness.JobRun(warm_job, warm.wall).counts()}")
                    for r, folder in enumerate(folders):  # distinct bytes in every round
                        make_copies(parsed, folder, range(r * copies, (r + 1) * copies))
                    total = len(parsed) * copies
                    print(f"{rounds} rounds of {copies} copies × {len(parsed)} documents")

                    pids: dict[str, int | list[int]] = {
                        "server": server.pid,
                        "worker": worker.pid,
                        "docbatch engines": worker.engine_pids(),
                        "plain pool": pool_pids(pool),
                    }
                    direct_outcomes, direct_wall = await run_plain(pool, folders[0])
                    starter_cpu = 0.0
                    with harness.CpuMeter(pids) as cpu:
                        for r, folder in enumerate(folders):
                            run = await run_starter(settings, folder, logs)
                            starter_cpu += run.cpu
                            ours = await docbatch_outcomes(store, settings, run.job_id)
                            after = folders[min(r + 1, rounds - 1)]
                            next_outcomes, next_wall = await run_plain(pool, after)
                            results.append(
                                Round(
                                    run=run,
                                    job=await store.jobs.get_job(run.job_id),
                                    outcomes=ours,
                                    direct_before=direct_wall,
                                    direct_after=next_wall,
                                    direct_outcomes=direct_outcomes,
                                )
                            )
                            print(
                                f"round {r}: plain {direct_wall:.1f} s, docbatch {run.wall:.1f} s "
                                f"({harness.JobRun(results[-1].job, run.wall).counts()}), plain "
                                f"{next_wall:.1f} s: ratio {results[-1].ratio:.3f}"
                            )
                            direct_outcomes, direct_wall = next_outcomes, next_wall
                    paths = await item_paths(server.client, [r.run.job_id for r in results])
                finally:
                    await store.close()
        finally:
            pool.shutdown()

    report = harness.Report(
        key="real_documents",
        title="1. Real documents (parse, real engine)",
        parameters={
            "copies per round": copies,
            "documents per round": total,
            "rounds": rounds,
            "engine_processes": settings.engine_processes,
        },
    )
    ratios = sorted(r.ratio for r in results)
    report.add(
        harness.at_most(
            "wall(docbatch) ÷ wall(plain pool), median", statistics.median(ratios), TARGET_RATIO
        )
    )
    report.add(harness.Figure("… per round", " / ".join(f"{x:.2f}" for x in ratios)))
    docbatch_wall = sum(r.wall for r in results)
    direct_wall = sum((r.direct_before + r.direct_after) / 2 for r in results)
    report.add(harness.Figure("docbatch", total * rounds / docbatch_wall, "documents/s"))
    report.add(harness.Figure("plain pool (around each round)", total * rounds / direct_wall,
                              "documents/s"))  # fmt: skip
    report.add(
        harness.Figure(
            "plain runs, slowest ÷ fastest (the machine's drift)",
            max(max(r.direct_before, r.direct_after) for r in results)
            / min(min(r.direct_before, r.direct_after) for r in results),
        )
    )
    both = sum(
        1 for r in results for n, o in r.outcomes.items() if o.ok and r.direct_outcomes[n].ok
    )
    report.add(harness.Figure("documents that succeed in both", both))
    for r, result in enumerate(results):
        for name in sorted(set(result.outcomes) | set(result.direct_outcomes)):
            mine, theirs = result.outcomes.get(name), result.direct_outcomes.get(name)
            if mine != theirs:
                print(f"  round {r} differs: {name}: docbatch {mine}, plain {theirs}")
    report.check(
        f"docbatch completed all {total} documents of every round",
        all(harness.job_completed(harness.JobRun(r.job, r.wall), completed=total) for r in results),
    )
    report.check(
        "docbatch and the plain pool refuse the same documents (warm-up copy)",
        warm_job.failed_items == len(refused) and warm_job.completed_items == len(parsed),
    )
    report.check("every document succeeds in both", both == total * rounds)
    report.check(
        "every item workflow's history read", paths.quick + paths.durable == total * rounds
    )
    report.check("outputs identical in both", all(r.outcomes == r.direct_outcomes for r in results))
    used = cpu.used
    # Inside the meter each round has one docbatch run and one plain run (the one after).
    plain_engines = used["plain pool"] / rounds
    docbatch_engines = used["docbatch engines"] / rounds
    orchestration = (used["server"] + used["worker"] + starter_cpu) / rounds
    report.add(
        harness.Figure(
            "engine CPU per round, docbatch ÷ plain pool", docbatch_engines / plain_engines
        )
    )
    report.add(
        harness.Figure(
            "orchestration CPU (server + worker + starter) ÷ engine CPU, docbatch",
            orchestration / docbatch_engines,
        )
    )
    per_item = {k: 1000 * used[k] / (total * rounds) for k in ("server", "worker")}
    report.add(harness.Figure("items by the durable path (a regular activity)",
                              f"{paths.durable} of {paths.quick + paths.durable}"))  # fmt: skip
    shown = ", ".join(f"{k} {v:.1f} s" for k, v in used.items())
    report.notes += [
        f"Corpus documents left out because the engine refuses them: "
        f"{', '.join(refused) or 'none'}; docbatch refused the same "
        f"({warm_job.failed_items} of {warm_job.total_items} failed in its warm-up job).",
        f"CPU used while the rounds ran: {shown}, starter.py {starter_cpu:.1f} s. On 2 busy "
        "cores the orchestration's CPU is taken from the engines: the wall ratio cannot go "
        "much below 1 + (orchestration CPU ÷ engine CPU) plus the job's fixed start and "
        "finish.",
        f"Per item: server {per_item['server']:.1f} ms CPU, worker "
        f"{per_item['worker']:.1f} ms, starter.py {1000 * starter_cpu / (total * rounds):.1f} "
        f"ms; the items' paths: {paths.describe()}. An item whose quick attempt finds every "
        "engine process busy queues for the durable path (its regular activity adds "
        "history events, a task-queue round trip and a second workflow task) and narrows "
        "the job's adaptive window of children; one too large or slow for the quick "
        "budget hands its running engine over to it.",
        "Each round: the plain pool, then starter.py over its own distinct copies, then the "
        "plain pool again (the next round's copies); a round's ratio divides by the mean of "
        "the two. docbatch's wall is starter.py's lifetime: its start-up, registering the "
        "folder (hashing every file), the job and its end. Both sides parse one distinct "
        "copy of the corpus untimed first, so every engine process has loaded what each "
        "format needs.",
    ]
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of the corpus per round")
    parser.add_argument("--rounds", type=int, default=3, help="docbatch runs, each timed")
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))
