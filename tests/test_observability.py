"""Observability as an operator sees it: ``/metrics``, JSON logs, throughput and ETA.

Real processes against the session's Temporal dev server: ``worker.py`` with
``DOCBATCH_METRICS_PORT`` and JSON logs, ``python -m docbatch.api``, ``starter.py status``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_cloud import AsyncLlamaCloud
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from docbatch import service
from docbatch.api import create_app
from docbatch.auth import create_api_key
from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.registry import run_engine
from docbatch.ids import item_workflow_id, parent_workflow_id
from docbatch.models import BatchCreateRequest, ItemStatus, JobStatus
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.tables import JobRow
from tests.api.conftest import serve
from tests.conftest import REPO_ROOT, StackFactory, free_port
from tests.databases import fresh_postgres_database
from tests.workflows.helpers import wait_until, write_text_files

PROCESS_TIMEOUT = 120
GOOD_DOCS = 4
ENGINE_ACTIVITIES = ("process_item_now", "process_item")
"""The item's engine activities: the quick attempt (local), then the durable one."""
BROKEN_DOCS = 2

Samples = dict[str, list[tuple[dict[str, str], float]]]


def _samples(text: str) -> Samples:
    """Prometheus text → sample name → [(labels, value)]."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        found.setdefault(family.name, [])
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        value
        for sample_labels, value in samples.get(name, [])
        if all(sample_labels.get(key) == wanted for key, wanted in labels.items())
    )


def _env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    database = {"DOCBATCH_DATABASE_URL": database_url} if database_url else {}
    return {
        **os.environ,
        "DOCBATCH_DATA_DIR": str(data_dir),
        "DOCBATCH_ENGINE_PROCESSES": "1",
        "DOCBATCH_LOG_FORMAT": "json",
        **database,
        **extra,
    }


async def _get_when_up(url: str, **options: Any) -> httpx.Response:
    """GET ``url`` once its server answers."""
    async with httpx.AsyncClient() as http:
        answer: list[httpx.Response] = []

        async def answered() -> bool:
            try:
                answer.append(await http.get(url, **options))
            except httpx.TransportError:
                return False
            return True

        await wait_until(answered, timeout=PROCESS_TIMEOUT, interval=0.2)
        return answer[-1]


async def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, PROCESS_TIMEOUT)


# ------------------------------------------------- a worker process with /metrics


@dataclass
class WorkerRun:
    """Two jobs over one folder run by ``worker.py``: what it served and logged."""

    jobs: list[JobRow]
    item_statuses: dict[str, dict[str, ItemStatus]]
    """Per job id: item id → final status."""
    good_bytes: int
    task_queue: str
    metrics: Samples
    logs: list[dict[str, Any]]
    other_lines: list[str]
    """What the worker wrote that is not a JSON line."""


@pytest.fixture(scope="module")
async def worker_run(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> WorkerRun:
    """Run a worker process with a metrics port and JSON debug logs through two jobs.

    The first job completes the good documents and fails the broken ones; the second,
    over the same folder, skips the good ones (already processed) and fails the
    broken ones again.
    """
    async with fresh_postgres_database() as database_url:
        return await _run_two_jobs(temporal_env, tmp_path_factory.mktemp("observed"), database_url)


async def _run_two_jobs(
    temporal_env: WorkflowEnvironment, data_dir: Path, database_url: str | None
) -> WorkerRun:
    task_queue = f"obs-{uuid.uuid4()}"
    address = temporal_env.client.service_client.config.target_host
    port = free_port()
    env = _env(
        data_dir,
        database_url,
        TEMPORAL_ADDRESS=address,
        DOCBATCH_TASK_QUEUE=task_queue,
        DOCBATCH_METRICS_PORT=str(port),
        DOCBATCH_LOG_LEVEL="DEBUG",
    )
    log_path = data_dir / "worker.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    settings = Settings(
        data_dir=data_dir,
        task_queue=task_queue,
        temporal_address=address,
        database_url=database_url,
    )
    store = await Store.open(settings.effective_database_url)
    try:
        folder = data_dir / "docs"
        good = write_text_files(folder, GOOD_DOCS)
        for index in range(BROKEN_DOCS):
            (folder / f"broken-{index}.png").write_text("not an image at all")
        jobs = []
        for _ in range(2):
            registered = await service.register_local_folder(
                store, folder, project_id=settings.project_id
            )
            request = BatchCreateRequest.model_validate(
                {"job_config": {}, "directory_id": registered.directory.id}
            )
            job = await service.create_job(
                store, temporal_env.client, settings, request, project_id=settings.project_id
            )
            handle = temporal_env.client.get_workflow_handle(job.workflow_id)
            await asyncio.wait_for(handle.result(), PROCESS_TIMEOUT)
            jobs.append(await store.jobs.get_job(job.id))
        statuses = {}
        for job in jobs:
            items, _ = await store.items.list_items(job.id, limit=100)
            statuses[job.id] = {item.item_id: ItemStatus(item.status) for item in items}
        scraped = await _get_when_up(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        metrics = _samples(scraped.text)
    finally:
        code = await _stop(process)
        log.close()
        await store.close()
    output = log_path.read_text()
    assert code == 0, output[-5000:]
    logs, other_lines = [], []
    for line in output.splitlines():
        try:
            logs.append(json.loads(line))
        except json.JSONDecodeError:
            other_lines.append(line)
    return WorkerRun(
        jobs=jobs,
        item_statuses=statuses,
        good_bytes=sum(path.stat().st_size for path in good),
        task_queue=task_queue,
        metrics=metrics,
        logs=logs,
        other_lines=other_lines,
    )


def test_worker_metrics_serve_the_temporal_sdk_metrics(worker_run: WorkerRun) -> None:
    metrics, queue = worker_run.metrics, worker_run.task_queue
    # Two parents, one child per processed item (the second job's good files are skipped).
    children = sum(
        1
        for statuses in worker_run.item_statuses.values()
        for status in statuses.values()
        if status != ItemStatus.SKIPPED
    )
    assert children == GOOD_DOCS + 2 * BROKEN_DOCS
    ended = sum(
        _value(metrics, f"temporal_workflow_{end}_total", task_queue=queue)
        for end in ("completed", "failed")
    )
    assert ended == 2 + children
    assert (
        _value(metrics, "temporal_workflow_completed_total", workflow_type="BatchParentWorkflow")
        == 2
    )
    # Each item's engine runs as a local activity (the quick attempt), then, if that does
    # not settle it, as a regular one.
    executions = sum(
        _value(metrics, f"temporal_{kind}_execution_latency_count", task_queue=queue)
        for kind in ("activity", "local_activity")
    )
    assert executions >= children
    assert _value(metrics, "temporal_local_activity_execution_latency_bucket", le="+Inf") == (
        _value(metrics, "temporal_local_activity_execution_latency_count")
    )
    assert _value(metrics, "temporal_request_total", operation="RespondWorkflowTaskCompleted") > 0


def test_worker_metrics_count_items_by_outcome_as_the_store_does(worker_run: WorkerRun) -> None:
    metrics, jobs = worker_run.metrics, worker_run.jobs
    assert [job.status for job in jobs] == [JobStatus.COMPLETED.value] * 2
    for outcome, in_store in (
        ("completed", sum(job.completed_items for job in jobs)),
        ("failed", sum(job.failed_items for job in jobs)),
        ("skipped", sum(job.skipped_items for job in jobs)),
    ):
        counted = _value(metrics, "docbatch_items_total", job_type="parse", outcome=outcome)
        assert counted == in_store, outcome
    assert (
        sum(job.completed_items for job in jobs),
        sum(job.failed_items for job in jobs),
        sum(job.skipped_items for job in jobs),
    ) == (GOOD_DOCS, 2 * BROKEN_DOCS, GOOD_DOCS)
    assert _value(metrics, "docbatch_items_total", outcome="cancelled") == 0
    # The engines ran on the good documents (the broken ones fail inside the engine).
    assert _value(metrics, "docbatch_engine_seconds_count", job_type="parse") == GOOD_DOCS
    assert _value(metrics, "docbatch_processed_bytes_total", job_type="parse") == (
        worker_run.good_bytes
    )
    processed = GOOD_DOCS + 2 * BROKEN_DOCS
    lag = sum(
        _value(metrics, "docbatch_activity_queue_lag_seconds_count", activity_type=name)
        for name in ENGINE_ACTIVITIES
    )
    assert lag >= processed
    assert _value(metrics, "docbatch_activities_in_progress") == 0
    # docbatch's registry includes the process collector.
    assert _value(metrics, "process_resident_memory_bytes") > 0


def test_worker_logs_only_json_lines_when_not_on_a_terminal(worker_run: WorkerRun) -> None:
    assert worker_run.other_lines == []
    assert all(isinstance(record, dict) and record.get("event") for record in worker_run.logs)
    # stdlib loggers (the SDK's too; its Rust core's lines are forwarded to one) and
    # structlog's render alike.
    loggers = {record["logger"] for record in worker_run.logs}
    assert {"docbatch.worker", "docbatch.interceptors", "temporalio.activity"} <= loggers


def test_activity_log_lines_carry_job_item_workflow_and_attempt(worker_run: WorkerRun) -> None:
    first = worker_run.jobs[0]
    by_item = {
        record["item_id"]: record
        for record in worker_run.logs
        if record.get("logger") == "docbatch.interceptors"
        and record.get("activity_type") in ENGINE_ACTIVITIES
        and record.get("job_id") == first.id
    }
    # structlog lines: one per processed item, with the activity's full context.
    assert set(by_item) == set(worker_run.item_statuses[first.id])
    for item_id, record in by_item.items():
        assert record["workflow_id"] == item_workflow_id(first.id, item_id)
        assert record["attempt"] == 1
        assert record["run_id"]
        assert record["level"] == "debug"
        assert record["timestamp"]
    # stdlib lines through activity.logger carry the same context.
    listed = [
        record
        for record in worker_run.logs
        if record.get("logger") == "temporalio.activity"
        and str(record.get("event", "")).startswith("listed ")
        and record.get("job_id") == first.id
    ]
    assert listed
    assert all(record["workflow_id"] == parent_workflow_id(first.id) for record in listed)
    assert all(record["attempt"] == 1 and record["run_id"] for record in listed)
    # The SDK's own line about a failed activity, logged once the activity has returned,
    # still names its workflow and attempt.
    failed = [
        record
        for record in worker_run.logs
        if record.get("event") == "Completing activity as failed"
        and str(record.get("workflow_id", "")).startswith(parent_workflow_id(first.id))
    ]
    assert len(failed) == BROKEN_DOCS
    assert all(record["attempt"] == 1 for record in failed)
    # Context ends with the activity: the worker's own lines carry none of it.
    stopped = [record for record in worker_run.logs if record.get("event") == "worker stopped"]
    assert stopped
    assert all("job_id" not in record and "item_id" not in record for record in stopped)


# ----------------------------------------------------------------- the API's /metrics


async def test_api_process_serves_http_docbatch_and_sdk_metrics(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = free_port()
    key = "metrics-test-key"
    env = _env(
        tmp_path,
        None,  # the store is not what this test is about: SQLite in the data dir
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        DOCBATCH_API_PORT=str(port),
        DOCBATCH_API_KEY=key,
    )
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "docbatch.api"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = await _get_when_up(f"{base}/health")  # connects the API's Temporal client
        assert health.status_code == 200, health.text
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=auth) as http:
            assert (await http.get("/api/v1/beta/batch-processing")).status_code == 200
            for job_id in ("bjb-missing-1", "bjb-missing-2"):
                missing = await http.get(f"/api/v1/beta/batch-processing/{job_id}")
                assert missing.status_code == 404
            spec = (await http.get("/openapi.json")).json()
        async with httpx.AsyncClient(base_url=base) as anonymous:
            scraped = await anonymous.get("/metrics")  # no key needed
    finally:
        code = await _stop(process)
        log.close()
    assert code in (0, -signal.SIGTERM), (tmp_path / "api.log").read_text()[-5000:]
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "/metrics" not in spec["paths"]
    metrics = _samples(scraped.text)
    requests = "docbatch_http_requests_total"
    assert _value(metrics, requests, route="/api/v1/beta/batch-processing", status="200") == 1
    # Labelled by route template, not by path: the two unknown ids share one series.
    assert _value(metrics, requests, route="/api/v1/beta/batch-processing/{job_id}") == 2
    assert not any("bjb-missing" in str(labels) for labels, _ in metrics[requests])
    assert _value(metrics, "docbatch_http_request_duration_seconds_count", route="/health") == 1
    for family in (
        "docbatch_items",
        "docbatch_engine_seconds",
        "docbatch_activity_queue_lag_seconds",
    ):
        assert family in metrics
    # The API's own Temporal client reports through the SDK's metrics too.
    assert _value(metrics, "temporal_request_total") > 0


# ------------------------------------------------------------ throughput and ETA

HOLD_PREFIX = "HOLD UNTIL "


def held_engine(request: EngineRequest) -> EngineResult:
    """The real engine; a document reading ``HOLD UNTIL <path>`` waits for that file."""
    text = Path(request.path).read_text(errors="replace")
    if text.startswith(HOLD_PREFIX):
        gate = Path(text.removeprefix(HOLD_PREFIX).strip())
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return run_engine(request)


def _starter_status(job_id: str, settings: Settings) -> str:
    result = subprocess.run(
        [sys.executable, "starter.py", "status", job_id],
        cwd=REPO_ROOT,
        env=_env(settings.data_dir, settings.database_url),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_running_job_shows_throughput_and_eta_in_api_and_starter(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    gate = tmp_path / "release"
    folder = tmp_path / "docs"
    write_text_files(folder, 5)
    (folder / "held.txt").write_text(f"{HOLD_PREFIX}{gate}\n")
    async with make_stack(engine=held_engine) as stack:
        _, key = await create_api_key(stack.store, project_id=stack.settings.project_id)
        auth = {"Authorization": f"Bearer {key}"}
        app = create_app(stack.settings, client=stack.client)
        async with serve(app) as base_url:
            directory = await service.register_local_folder(
                stack.store, folder, project_id=stack.settings.project_id
            )
            request = BatchCreateRequest.model_validate(
                {"job_config": {}, "directory_id": directory.directory.id}
            )
            job = await service.create_job(
                stack.store,
                stack.client,
                stack.settings,
                request,
                project_id=stack.settings.project_id,
            )
            url = f"{base_url}/api/v1/beta/batch-processing/{job.id}"
            try:

                async def all_but_the_held_one_done() -> bool:
                    return (await stack.store.jobs.get_job(job.id)).completed_items == 5

                await wait_until(all_but_the_held_one_done, timeout=PROCESS_TIMEOUT)
                async with httpx.AsyncClient() as http:
                    running = (await http.get(url, headers=auth)).json()
                official = AsyncLlamaCloud(api_key=key, base_url=base_url)
                try:
                    official_status = await official.beta.batch.get_status(job.id)
                finally:
                    await official.close()
                mid_run = await asyncio.to_thread(_starter_status, job.id, stack.settings)
            finally:
                gate.touch()
            handle = stack.client.get_workflow_handle(job.workflow_id)
            await asyncio.wait_for(handle.result(), PROCESS_TIMEOUT)
            async with httpx.AsyncClient() as http:
                ended = (await http.get(url, headers=auth)).json()
            after = await asyncio.to_thread(_starter_status, job.id, stack.settings)

    assert running["job"]["status"] in ("running", "dispatched")
    assert running["throughput_items_per_second"] > 0
    # One item left, at the rate the others went.
    rate = running["throughput_items_per_second"]
    assert running["eta_seconds"] == pytest.approx(1 / rate, abs=0.1)
    assert official_status.progress_percentage == running["progress_percentage"] < 100
    assert "items/s, ETA " in mid_run

    assert ended["job"]["status"] == "completed"
    assert ended["throughput_items_per_second"] > 0
    assert ended["eta_seconds"] == 0
    assert "items/s" in after
    assert "ETA" not in after
