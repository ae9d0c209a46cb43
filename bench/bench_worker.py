"""``python bench/bench_worker.py --engine noop --ready FILE``: ``worker.py`` for benchmarks.

The same resources and ``worker.build_worker`` as ``worker.py`` (settings from the
environment), with a benchmark engine, plus the baselines' worker on
``<task queue>-baseline``. Its own process, so its CPU, peak RSS and profile can be
measured. Every engine process is started before the ready file is written: spawning
them is start-up, not the first items' time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import worker as worker_module
from bench.baseline_workflows import baseline_worker
from bench.engines import ENGINES, noop_engine
from docbatch.engines.base import EngineRequest
from docbatch.engines.pool import EnginePool
from docbatch.logging import configure_logging
from docbatch.loop import run_main
from docbatch.settings import Settings
from docbatch.temporal import connect

BASELINE_SUFFIX = "-baseline"


async def warm_up(pool: EnginePool) -> None:
    """Start every engine process of the pool (each takes a slot until it has started)."""
    request = EngineRequest(path="", file_name="warm-up", job_type="parse")
    await asyncio.gather(*(pool.run(noop_engine, request) for _ in range(pool.processes)))


async def main(engine_name: str, ready: Path) -> None:
    """Run docbatch's worker and the baselines' worker until SIGINT or SIGTERM."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker_module.worker_resources(settings) as resources:
        await warm_up(resources.pool)
        docbatch = worker_module.build_worker(
            client, settings, resources, engine=ENGINES[engine_name]
        )
        baselines = baseline_worker(
            client,
            task_queue=settings.task_queue + BASELINE_SUFFIX,
            max_concurrent_activities=settings.max_concurrent_activities,
        )
        async with docbatch, baselines:
            await asyncio.to_thread(ready.write_text, str(os.getpid()))
            await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), default="noop")
    parser.add_argument("--ready", type=Path, required=True, help="written once polling")
    arguments = parser.parse_args()
    run_main(main(arguments.engine, arguments.ready))
