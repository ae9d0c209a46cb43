"""Figures of the durable core on the embedded stack (persistent, tuned dev server).

    .venv/bin/python bench/batch_figures.py [--items 1000]

Runs (1) a parse batch over ../shared/corpus/documents and (2) a batch of N small
generated text files, then prints outcomes, wall time, throughput, and the parent
workflow's history length per run (the continue-as-new chain). Absolute times drift on a
shared machine; the history lengths do not.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docbatch import service
from docbatch.models import BatchCreateRequest
from docbatch.settings import Settings
from docbatch.stack import embedded_stack
from docbatch.store import Store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "documents"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _history_lengths(client: object, workflow_id: str) -> list[int]:
    lengths: list[int] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)  # type: ignore[attr-defined]
        history = await handle.fetch_history()
        lengths.append(len(history.events))
        previous = history.events[0].workflow_execution_started_event_attributes
        if not previous.continued_execution_run_id:
            return list(reversed(lengths))
        run_id = previous.continued_execution_run_id


async def _run(store: Store, client: object, settings: Settings, folder: Path) -> None:
    registered = await service.register_local_folder(store, folder, project_id="bench")
    request = BatchCreateRequest.model_validate(
        {"job_config": {}, "directory_id": registered.directory.id}
    )
    started = time.perf_counter()
    job = await service.create_job(store, client, settings, request, project_id="bench")  # type: ignore[arg-type]
    await client.get_workflow_handle(job.workflow_id).result()  # type: ignore[attr-defined]
    wall = time.perf_counter() - started
    row = await store.jobs.get_job(job.id)
    lengths = await _history_lengths(client, job.workflow_id)
    print(
        f"{folder.name}: {row.total_items} items — completed {row.completed_items}, failed "
        f"{row.failed_items}, skipped {row.skipped_items}, status {row.status}; wall {wall:.1f}s "
        f"({row.total_items / wall:.1f} items/s)"
    )
    print(f"  parent history per run: {lengths} (max {max(lengths)}, runs {len(lengths)})")


async def main(items: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(
            data_dir=data / "data",
            temporal_address=f"127.0.0.1:{_port()}",
            dev_ui_port=_port(),
        )
        generated = data / "generated"
        generated.mkdir()
        for index in range(items):
            (generated / f"doc-{index:05d}.txt").write_text(f"Document {index}\n\nBody {index}.\n")
        store = await Store.open(settings.effective_database_url)
        try:
            async with embedded_stack(settings, ui=False) as client:
                await _run(store, client, settings, CORPUS)
                await _run(store, client, settings, generated)
                await _run(store, client, settings, generated)  # the dedup re-run
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    asyncio.run(main(parser.parse_args().items))
