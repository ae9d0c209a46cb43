"""Streaming ``GET /api/v1/beta/batch-processing/{job_id}/results.jsonl`` of a big job.

    .venv/bin/python bench/results_jsonl.py [--items 10000] [--smoke]

A completed job of N items is seeded straight into the store through its own writes,
as the worker makes them (no workflow, no engine: this measures the stream, not
processing): N small generated files registered as a directory, the job started and
listed page by page, each item's parse output (markdown, text and pages, as the parse
engine writes them) stored as a real blob and recorded with ``complete_items``, 1 % of
the items failed with ``fail_item``. Then the HTTP API in its own process (``python -m
docbatch.api``, uvicorn; an in-memory dev server answers its health check) streams the
job's JSON lines (``content=auto``: every output inline) to httpx while the API
process's RSS is sampled from ``/proc``. Figures: RSS growth over the stream from the
API's RSS after a warm-up request (target < 50 MB; a body built in memory would grow
with N), lines/s and MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx

from bench import harness
from docbatch import service
from docbatch.blobs import BlobStore
from docbatch.core.plan import JobPlan
from docbatch.ids import result_id_for
from docbatch.models import BatchCreateRequest, JobStatus, JobType
from docbatch.settings import Settings
from docbatch.store import ResultSpec, Store
from docbatch.store.tables import JobRow

TARGET_GROWTH_MB = 50.0
SMOKE_ITEMS = 300
FAIL_EVERY = 100
"""Every 100th item fails (1 %): failed lines carry an error and no content."""
SEED_PAGE = 1000
SAMPLE_EVERY = 0.02
BATCH = "/api/v1/beta/batch-processing"


# ------------------------------------------------------------------- seeding


def parse_document(text: str) -> str:
    """A parse output as the parse engine stores it, for a one-page text document."""
    markdown = text.strip()
    document = {
        "markdown": markdown,
        "text": markdown,
        "pages": [{"page": 1, "text": markdown, "markdown": markdown}],
        "page_count": 1,
        "ocr_pages": [],
    }
    return json.dumps(document, ensure_ascii=False)


def _new_job(settings: Settings, directory_id: str) -> JobRow:
    config = BatchCreateRequest.model_validate(
        {"job_config": {}, "directory_id": directory_id}
    ).job_config
    return service.new_job_row(
        JobPlan.build(config, settings),
        config,
        project_id=harness.PROJECT_ID,
        namespace=settings.temporal_namespace,
        directory_id=directory_id,
    )


async def seed_job(store: Store, blobs: BlobStore, settings: Settings, folder: Path) -> JobRow:
    """A completed parse job over ``folder``, written through the store's own writes."""
    directory_id = await harness.register(store, folder)
    files = {f.id: f for f in await store.directories.list_files(directory_id)}
    job = await store.jobs.create_job(_new_job(settings, directory_id))
    await store.jobs.start_job(job.id)
    cursor, ordinal = 0, 0
    while True:
        page = await store.jobs.list_page(job.id, cursor=cursor, limit=SEED_PAGE)
        completions = []
        for item_id in page.item_ids:
            ordinal += 1
            file = files[item_id]
            if ordinal % FAIL_EVERY == 0:
                await store.items.fail_item(job.id, item_id, f"seeded failure of {file.path}")
                continue
            text = (folder / file.path).read_text()
            key = f"results/{item_id}/{file.content_hash[:16]}-{job.parameters_hash[:16]}.json"
            location = await blobs.put_output(key, parse_document(text).encode(), destination=None)
            spec = ResultSpec(
                result_id=result_id_for(job.id, item_id),
                job_type=JobType.PARSE,
                parameters_hash=job.parameters_hash,
                content_hash=file.content_hash,
                output_location=location,
                output_metadata={"engine": "seeded", "characters": len(text)},
            )
            completions.append((job.id, item_id, spec))
        await store.items.complete_items(completions)
        cursor = page.next_cursor
        if page.exhausted:
            break
    await store.jobs.set_job_status(job.id, JobStatus.COMPLETED)
    return await store.jobs.get_job(job.id)


# ----------------------------------------------------------------- measuring


@dataclass
class Rss:
    """RSS samples (MB) of a process while a block runs."""

    pid: int
    samples: list[float] = field(default_factory=list)

    @property
    def peak(self) -> float:
        """The largest sample."""
        return max(self.samples, default=0.0)


@contextlib.asynccontextmanager
async def sampling(pid: int) -> AsyncIterator[Rss]:
    """Sample ``VmRSS`` of ``pid`` every ``SAMPLE_EVERY`` seconds while the block runs."""
    rss = Rss(pid)

    async def sample() -> None:
        while True:
            rss.samples.append(harness.status_mb(pid, "VmRSS"))
            await asyncio.sleep(SAMPLE_EVERY)

    task = asyncio.create_task(sample())
    try:
        yield rss
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        rss.samples.append(harness.status_mb(pid, "VmRSS"))


@dataclass
class Stream:
    """What one stream of ``results.jsonl`` received."""

    lines: int = 0
    valid: int = 0
    bytes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    inline: int = 0
    first: dict[str, object] | None = None
    wall: float = 0.0
    status_code: int = 0


async def stream(http: httpx.AsyncClient, job_id: str, **params: str) -> Stream:
    """Read the job's JSON lines to the end, checking each line as it arrives."""
    seen = Stream()
    started = time.perf_counter()
    async with http.stream("GET", f"{BATCH}/{job_id}/results.jsonl", params=params) as response:
        seen.status_code = response.status_code
        async for line in response.aiter_lines():
            if not line:
                continue
            seen.lines += 1
            seen.bytes += len(line) + 1
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                seen.valid += 1
                seen.statuses[parsed["status"]] = seen.statuses.get(parsed["status"], 0) + 1
                seen.inline += parsed["content"] is not None
                if seen.first is None:
                    seen.first = parsed
    seen.wall = time.perf_counter() - started
    return seen


async def main(arguments: argparse.Namespace) -> int:
    """Seed the job, serve the API, stream the job while sampling the API's memory."""
    items = SMOKE_ITEMS if arguments.smoke else arguments.items
    with harness.workdir(arguments) as tmp:
        settings = harness.bench_settings(tmp / "data")
        folder = tmp / "files"
        harness.write_small_files(folder, items)
        store = await Store.open(settings.effective_database_url)
        blobs = BlobStore(settings.blob_dir)
        try:
            with harness.stopwatch() as seeding:
                job = await seed_job(store, blobs, settings, folder)
            print(
                f"seeded {job.total_items} items ({job.completed_items} completed, "
                f"{job.failed_items} failed) in {seeding[0]:.1f} s"
            )
            first_item, _ = await store.items.list_items(job.id, limit=1)
            first_text = (folder / first_item[0].item_name).read_text().strip()
        finally:
            await store.close()
        async with (
            harness.dev_server(settings, persistent=False),  # the API's /health asks it
            harness.api_process(settings) as api,
            httpx.AsyncClient(base_url=api.base_url, headers=api.headers, timeout=120) as http,
        ):
            warm_up = await stream(http, job.id, status="failed")  # code paths, connections
            baseline = harness.status_mb(api.pid, "VmRSS")
            async with sampling(api.pid) as rss:
                measured = await stream(http, job.id)
            again = await stream(http, job.id)  # a second stream: nothing kept from the first
            after_second = harness.status_mb(api.pid, "VmRSS")

    growth = rss.peak - baseline
    print(
        f"stream: {measured.lines} lines, {measured.bytes / 1e6:.1f} MB in {measured.wall:.2f} s;"
        f" API RSS {baseline:.1f} MB before, peak {rss.peak:.1f} MB ({len(rss.samples)} "
        f"samples), {after_second:.1f} MB after a second stream"
    )
    report = harness.Report(
        key="results_jsonl",
        title="7. Streaming results.jsonl of a big job",
        parameters={
            "items": items,
            "failed items": job.failed_items,
            "content": "auto (all inline)",
            "RSS samples": len(rss.samples),
        },
    )
    report.add(harness.at_most("API RSS growth while streaming", growth, TARGET_GROWTH_MB, "MB"))
    report.add(harness.Figure("lines/s", measured.lines / measured.wall, "lines/s"))
    report.add(harness.Figure("body", measured.bytes / 1e6, "MB"))
    report.add(harness.Figure("MB/s", measured.bytes / 1e6 / measured.wall, "MB/s"))
    report.add(harness.Figure("API RSS before the stream", baseline, "MB"))
    report.add(harness.Figure("API RSS peak while streaming", rss.peak, "MB"))
    report.add(harness.Figure("API RSS after a second stream", after_second, "MB"))
    report.check("every stream answered 200", {warm_up.status_code, measured.status_code,
                                               again.status_code} == {200})  # fmt: skip
    report.check(f"one line per item ({items})", measured.lines == items == again.lines)
    report.check("every line is JSON", measured.valid == measured.lines)
    report.check(
        "statuses as seeded",
        measured.statuses == {"completed": job.completed_items, "failed": job.failed_items},
    )
    report.check("every completed item's output inline", measured.inline == job.completed_items)
    first = measured.first or {}
    report.check(
        "first line is the first item with its markdown",
        first.get("item_id") == first_item[0].item_id and first.get("content") == first_text,
    )
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))
