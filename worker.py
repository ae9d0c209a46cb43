"""The docbatch worker: registers the workflows and activities and runs until signalled."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.batch_activities import BatchActivities
from activities.item_activities import ItemActivities
from activities.webhook_activities import WebhookActivities
from docbatch.blobs import BlobStore
from docbatch.core.processor import ItemProcessor
from docbatch.engines.base import Engine
from docbatch.engines.pool import EnginePool
from docbatch.engines.registry import run_engine
from docbatch.interceptors import ObservabilityInterceptor
from docbatch.logging import configure_logging
from docbatch.loop import run_main
from docbatch.metrics import TemporalSdkMetrics, item_ended, serve_metrics
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.temporal import connect, ensure_search_attributes
from workflows.batch_item import BatchItemWorkflow
from workflows.batch_parent import BatchParentWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

log = structlog.get_logger("docbatch.worker")

WORKFLOWS = [BatchParentWorkflow, BatchItemWorkflow, WebhookDeliveryWorkflow]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox the workflows run in (the worker's, and the replay tests')."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "docbatch", "activities", "pydantic", "sqlalchemy"
        )
    )


@dataclass
class WorkerResources:
    """What a worker owns and must close: store, engine pool, the webhooks' HTTP client."""

    store: Store
    blobs: BlobStore
    pool: EnginePool
    http: httpx.AsyncClient


@asynccontextmanager
async def worker_resources(settings: Settings) -> AsyncIterator[WorkerResources]:
    """Open the store (migrated), the blob store and the engine pool; close them after."""
    store = await Store.open(settings.effective_database_url, observer=item_ended)
    pool = EnginePool(settings.engine_processes)
    http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
    try:
        blobs = BlobStore(settings.blob_dir, s3_endpoint_url=settings.s3_endpoint_url)
        swept = await asyncio.to_thread(blobs.sweep_staging)
        if swept:
            log.info("removed staged blob writes left by a killed process", files=swept)
        yield WorkerResources(store=store, blobs=blobs, pool=pool, http=http)
    finally:
        await http.aclose()
        # The Temporal worker has already had its graceful shutdown: an engine still
        # running now is stuck or abandoned, so stop it rather than wait for it.
        pool.kill()
        await store.close()


def build_worker(
    client: Client,
    settings: Settings,
    resources: WorkerResources,
    *,
    task_queue: str | None = None,
    engine: Engine = run_engine,
) -> Worker:
    """A worker for docbatch's workflows and activities on the settings' task queue."""
    batch = BatchActivities(resources.store, settings)
    items = ItemActivities(
        ItemProcessor(resources.store, resources.blobs, resources.pool, engine, settings)
    )
    hooks = WebhookActivities(resources.store, settings, resources.http)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            batch.start_job,
            batch.list_page,
            batch.set_job_status,
            batch.set_job_paused,
            batch.cancel_job_items,
            items.process_item,
            items.process_item_now,
            items.record_item_failure,
            items.record_item_cancelled,
            hooks.record_event,
            hooks.deliver_webhook,
        ],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        interceptors=[ObservabilityInterceptor()],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def main(
    client: Client | None = None, settings: Settings | None = None, engine: Engine = run_engine
) -> None:
    """Run a worker until SIGINT or SIGTERM, then shut down gracefully.

    With ``metrics_port`` set it serves Prometheus ``/metrics``: docbatch's metrics and,
    on the client it connects itself, the Temporal SDK's.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    sdk_metrics = None
    if client is None:
        sdk_metrics = TemporalSdkMetrics() if settings.metrics_port else None
        client = await connect(settings, runtime=sdk_metrics.runtime if sdk_metrics else None)
    added = await ensure_search_attributes(client)
    if added:
        log.info("registered search attributes", names=added)
    async with worker_resources(settings) as resources, serve_metrics(settings, sdk_metrics):
        worker = build_worker(client, settings, resources, engine=engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            namespace=client.namespace,
            address=settings.temporal_address,
        )
        async with worker:
            await stop.wait()
            log.info("worker stopping")
        log.info("worker stopped")


if __name__ == "__main__":
    run_main(main())
