"""Real documents: docbatch's wall time over N copies of the corpus ÷ the engine's alone.

    .venv/bin/python bench/real_documents.py [--copies 3] [--rounds 3] [--smoke]

N copies of ``../shared/corpus/documents`` (each copy's bytes made distinct so dedup
does not apply, the documents staying valid) are parsed

- **through docbatch**: registered as a directory and run as one parse job on the
  persistent, tuned dev server with a worker process (``worker.build_worker`` with the
  real ``run_engine``), timed from registering the folder to the job's result;
- **directly**: ``run_engine`` with the same job config in an ``EnginePool`` of the same
  number of processes, every document submitted at once, no orchestration.

Each round times direct → docbatch → direct (each round with copies of its own); a
round's figure is wall(docbatch) ÷ the mean of the two direct walls, and the report gives
the median over the rounds (target ≤ 1.25). Only documents that parse in an untimed
warm-up copy are copied, so both sides do the same successful work; the script checks
that every document succeeds on both sides with byte-identical outputs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import mimetypes
import os
import shutil
import statistics
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import harness
from bench.bench_worker import warm_up
from docbatch.blobs import BlobStore
from docbatch.engines.base import EngineRequest
from docbatch.engines.pool import EnginePool
from docbatch.engines.registry import run_engine
from docbatch.models import engine_config, load_job_config
from docbatch.settings import Settings
from docbatch.store import Store

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


async def run_direct(pool: EnginePool, root: Path) -> tuple[dict[str, Outcome], float]:
    """Parse every file under ``root`` with ``run_engine`` in ``pool``, all submitted at once."""
    config = engine_config(load_job_config(JOB_CONFIG))
    files = sorted(p for p in root.rglob("*") if p.is_file())

    async def one(path: Path) -> tuple[str, Outcome]:
        relative = path.relative_to(root).as_posix()
        request = EngineRequest(
            path=str(path),
            file_name=relative,
            job_type="parse",
            config=config,
            mime_type=mimetypes.guess_type(path.name)[0],
        )
        try:
            result = await pool.run(run_engine, request)
        except Exception as exc:
            return relative, Outcome(False, f"{type(exc).__name__}: {exc}"[:200])
        return relative, Outcome(True, hashlib.sha256(result.content.encode()).hexdigest())

    started = time.perf_counter()
    outcomes = dict(await asyncio.gather(*(one(path) for path in files)))
    return outcomes, time.perf_counter() - started


# --------------------------------------------------------------------- docbatch


async def docbatch_outcomes(store: Store, settings: Settings, job_id: str) -> dict[str, Outcome]:
    """Each item's outcome from the store, with the digest of its stored output."""
    blobs = BlobStore(settings.blob_dir)
    rows, _ = await store.list_items(job_id, limit=1_000_000)
    outcomes: dict[str, Outcome] = {}
    for row in rows:
        if row.status == "completed" and row.result_id:
            result = await store.get_result(row.result_id)
            content = await blobs.read_bytes(result.output_location)
            outcomes[row.item_name] = Outcome(True, hashlib.sha256(content).hexdigest())
        else:
            outcomes[row.item_name] = Outcome(False, f"{row.status}: {row.error_message}")
    return outcomes


@dataclass
class Round:
    """One docbatch run over its own copies, between two direct runs."""

    wall: float
    registering: float
    run: harness.JobRun
    outcomes: dict[str, Outcome]
    direct_before: float
    direct_after: float
    direct_outcomes: dict[str, Outcome]

    @property
    def ratio(self) -> float:
        """wall(docbatch) ÷ the mean of the direct runs around it."""
        return self.wall / ((self.direct_before + self.direct_after) / 2)


async def main(arguments: argparse.Namespace) -> int:
    """Warm both sides up, then time direct → docbatch → direct per round, and report."""
    copies = SMOKE_COPIES if arguments.smoke else arguments.copies
    rounds = 1 if arguments.smoke else arguments.rounds
    corpus = sorted(p.name for p in harness.CORPUS.iterdir() if p.is_file())
    if arguments.smoke:
        corpus = [name for name in corpus if name in SMOKE_DOCUMENTS]
    results: list[Round] = []
    with harness.workdir(arguments) as root:
        settings = harness.bench_settings(root / "data", **harness.smoke_overrides(arguments))
        calibration_folder = root / "calibration"
        folders = [root / f"round-{r}" for r in range(rounds)]
        pool = EnginePool(settings.engine_processes)
        try:
            await warm_up(pool)
            make_copies(corpus, calibration_folder, range(CALIBRATION_COPY, CALIBRATION_COPY + 1))
            async with harness.dev_server(settings) as server:
                client = server.client
                store = await Store.open(settings.effective_database_url)
                try:
                    async with harness.worker_process(settings, "real") as worker:
                        # Both sides parse one (distinct) copy untimed first: each engine
                        # process has then loaded what every format needs.
                        calibration, _ = await run_direct(pool, calibration_folder)
                        warm_up_directory = await harness.register(store, calibration_folder)
                        warm = await harness.run_job(
                            store, client, settings, warm_up_directory, JOB_CONFIG
                        )
                        parsed = sorted(n.split("/", 1)[1] for n, o in calibration.items() if o.ok)
                        refused = {
                            n.split("/", 1)[1]: o.detail for n, o in calibration.items() if not o.ok
                        }
                        print(f"calibration: {len(parsed)} of {len(corpus)} documents parse")
                        for name, detail in refused.items():
                            print(f"  left out {name}: {detail}")
                        print(f"docbatch warm-up job: {warm.counts()}")
                        for r, folder in enumerate(folders):  # distinct bytes in every round
                            make_copies(parsed, folder, range(r * copies, (r + 1) * copies))
                        total = len(parsed) * copies
                        print(f"{rounds} rounds of {copies} copies × {len(parsed)} documents")

                        pids: dict[str, int | list[int]] = {
                            "server": server.pid,
                            "worker": worker.pid,
                            "docbatch engines": worker.engine_pids(),
                            "direct engines": harness.engine_processes_of(os.getpid()),
                        }
                        direct_outcomes, direct_wall = await run_direct(pool, folders[0])
                        with harness.CpuMeter(pids) as cpu:
                            for r, folder in enumerate(folders):
                                started = time.perf_counter()
                                directory_id = await harness.register(store, folder)
                                registering = time.perf_counter() - started
                                run = await harness.run_job(
                                    store, client, settings, directory_id, JOB_CONFIG
                                )
                                wall = time.perf_counter() - started
                                ours = await docbatch_outcomes(store, settings, run.job.id)
                                after = folders[min(r + 1, rounds - 1)]
                                next_outcomes, next_wall = await run_direct(pool, after)
                                results.append(
                                    Round(
                                        wall=wall,
                                        registering=registering,
                                        run=run,
                                        outcomes=ours,
                                        direct_before=direct_wall,
                                        direct_after=next_wall,
                                        direct_outcomes=direct_outcomes,
                                    )
                                )
                                print(
                                    f"round {r}: direct {direct_wall:.1f} s, docbatch {wall:.1f} s "
                                    f"({run.counts()}), direct {next_wall:.1f} s: ratio "
                                    f"{results[-1].ratio:.3f}"
                                )
                                direct_outcomes, direct_wall = next_outcomes, next_wall
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
        harness.at_most("wall(docbatch) ÷ wall(direct), median", statistics.median(ratios), 1.25)
    )
    report.add(harness.Figure("… per round", " / ".join(f"{x:.2f}" for x in ratios)))
    docbatch_wall = sum(r.wall for r in results)
    direct_wall = sum((r.direct_before + r.direct_after) / 2 for r in results)
    report.add(harness.Figure("docbatch", total * rounds / docbatch_wall, "documents/s"))
    report.add(harness.Figure("direct (around each round)", total * rounds / direct_wall, "docs/s"))
    report.add(
        harness.Figure(
            "direct runs, slowest ÷ fastest (the machine's drift)",
            max(max(r.direct_before, r.direct_after) for r in results)
            / min(min(r.direct_before, r.direct_after) for r in results),
        )
    )
    report.add(
        harness.Figure(
            "registering the folders ÷ docbatch wall",
            sum(r.registering for r in results) / docbatch_wall,
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
                print(f"  round {r} differs: {name}: docbatch {mine}, direct {theirs}")
    report.check(
        f"docbatch completed all {total} documents of every round",
        all(harness.job_completed(r.run, completed=total) for r in results),
    )
    report.check(
        "docbatch and direct refuse the same number of documents (warm-up copy)",
        warm.job.failed_items == len(refused) and warm.job.completed_items == len(parsed),
    )
    report.check("every document succeeds in both", both == total * rounds)
    report.check("outputs identical in both", all(r.outcomes == r.direct_outcomes for r in results))
    used = cpu.used
    # Inside the meter each round has one docbatch run and one direct run (the one after).
    direct_engines = used["direct engines"] / rounds
    docbatch_engines = used["docbatch engines"] / rounds
    orchestration = (used["server"] + used["worker"]) / rounds
    report.add(
        harness.Figure("engine CPU per round, docbatch ÷ direct", docbatch_engines / direct_engines)
    )
    report.add(
        harness.Figure(
            "orchestration CPU (server + worker) ÷ engine CPU, docbatch",
            orchestration / docbatch_engines,
        )
    )
    shown = ", ".join(f"{k} {v:.1f} s" for k, v in used.items())
    report.notes += [
        f"Corpus documents left out because the engine refuses them: "
        f"{', '.join(refused) or 'none'}; docbatch refused the same "
        f"({warm.job.failed_items} of {warm.job.total_items} failed in its warm-up job).",
        f"CPU used while the rounds ran: {shown}. On 2 busy cores the orchestration's CPU "
        "is taken from the engines: the wall ratio cannot go much below 1 + (orchestration "
        "CPU ÷ engine CPU) plus the job's fixed start and finish.",
        "Each round: direct, then docbatch over its own distinct copies, then direct again "
        "(the next round's copies); a round's ratio divides by the mean of the two. "
        "docbatch's wall includes registering the folder (hashing every file). Both sides "
        "start their engine processes and parse one distinct copy of the corpus untimed "
        "first, so every engine process has loaded what each format needs.",
    ]
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of the corpus per round")
    parser.add_argument("--rounds", type=int, default=3, help="docbatch runs, each timed")
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))
