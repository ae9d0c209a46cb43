"""``python -m tests.faults.logging_worker``: ``worker.py`` with ``logging_engine``.

A worker *process* whose engine records every invocation (see
``tests.faults.engines.logging_engine``), so a test running several workers can tell
which documents ran, how often, and where. Everything else is ``worker.py``'s: the same
resources, ``build_worker`` and environment settings (store URL included).
"""

from __future__ import annotations

import asyncio
import signal

import structlog

import worker as worker_module
from docbatch.logging import configure_logging
from docbatch.settings import Settings
from docbatch.temporal import connect, ensure_search_attributes
from tests.faults.engines import logging_engine

log = structlog.get_logger("docbatch.worker")


async def main() -> None:
    """Run until SIGINT or SIGTERM, like ``worker.main`` but with ``logging_engine``."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    client = await connect(settings)
    await ensure_search_attributes(client)
    async with worker_module.worker_resources(settings) as resources:
        worker = worker_module.build_worker(client, settings, resources, engine=logging_engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker started", task_queue=settings.task_queue, engine="logging_engine")
        async with worker:
            await stop.wait()
            log.info("worker stopping")
        log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
