"""The FastAPI application: assembled here, with its resources owned by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from temporalio.client import Client

from docbatch import __version__
from docbatch.api.deps import AppState
from docbatch.api.errors import install_error_handlers
from docbatch.api.metrics import HttpMetricsMiddleware
from docbatch.api.metrics import router as metrics_router
from docbatch.api.routes import batch, batches_v2, configurations, directories, health, product_jobs
from docbatch.api.temporal_clients import TemporalClients
from docbatch.auth import ensure_key
from docbatch.blobs import BlobStore
from docbatch.metrics import TemporalSdkMetrics, endpoint_registry
from docbatch.settings import Settings
from docbatch.store import Store

log = structlog.get_logger("docbatch.api")


def create_app(settings: Settings | None = None, *, client: Client | None = None) -> FastAPI:
    """The docbatch API; ``client`` lets tests and the embedded stack share a connection.

    Without ``client`` the API connects its own, whose Temporal SDK metrics ``/metrics``
    serves beside docbatch's.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sdk_metrics = TemporalSdkMetrics() if client is None else None
        store = await Store.open(settings.effective_database_url)
        try:
            if settings.api_key is not None:
                await ensure_key(
                    store,
                    settings.api_key.get_secret_value(),
                    project_id=settings.project_id,
                    organization_id=settings.organization_id,
                )
            app.state.docbatch = AppState(
                settings=settings,
                store=store,
                blobs=BlobStore(settings.blob_dir, s3_endpoint_url=settings.s3_endpoint_url),
                temporal=TemporalClients(
                    settings, client, runtime=sdk_metrics.runtime if sdk_metrics else None
                ),
                metrics=endpoint_registry(sdk_metrics),
            )
            log.info("api ready", temporal=settings.temporal_address)
            async with AsyncExitStack() as stack:
                if sdk_metrics is not None:
                    await stack.enter_async_context(sdk_metrics.draining())
                yield
        finally:
            await store.close()

    app = FastAPI(
        title="docbatch",
        version=__version__,
        summary="Durable batch document processing on Temporal; the beta batch API.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(HttpMetricsMiddleware)
    app.include_router(health.router)
    app.include_router(metrics_router)
    app.include_router(batch.router)
    app.include_router(directories.router)
    app.include_router(configurations.router)
    app.include_router(batches_v2.router)
    app.include_router(product_jobs.router)
    return app
