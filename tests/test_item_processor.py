"""``ItemProcessor`` without Temporal: a real SQLite store, real files and blobs, the
real engine in a real process pool (plus a slow engine to outgrow the quick budget)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from docbatch import service
from docbatch.blobs import BlobStore
from docbatch.core import processor as processor_module
from docbatch.core.plan import JobPlan
from docbatch.core.processor import ItemFailedError, ItemProcessor
from docbatch.engines.base import Engine, EngineRequest
from docbatch.engines.parse import parse_document
from docbatch.engines.pool import EnginePool
from docbatch.engines.registry import run_engine
from docbatch.models import ItemStatus, load_job_config
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.tables import JobRow
from tests.databases import fresh_store_url
from tests.engine_doubles import SLOW_ENGINE_DELAY_SECONDS, slow_engine

PROJECT = "proj-processor"


@dataclass
class Rig:
    store: Store
    blobs: BlobStore
    settings: Settings
    pool: EnginePool

    def processor(self, engine: Engine = run_engine) -> ItemProcessor:
        return ItemProcessor(self.store, self.blobs, self.pool, engine, self.settings)

    async def job(
        self, folder: Path, config: dict[str, object] | None = None
    ) -> tuple[str, dict[str, str]]:
        """A started job over the folder, its items listed: (job id, item id by name)."""
        registered = await service.register_local_folder(self.store, folder, project_id=PROJECT)
        job_config = load_job_config(config or {})
        job = service.new_job_row(
            JobPlan.build(job_config, self.settings),
            job_config,
            project_id=PROJECT,
            namespace="default",
            directory_id=registered.directory.id,
        )
        await self.store.jobs.create_job(job)
        job_id = job.id
        await self.store.jobs.start_job(job_id)
        page = await self.store.jobs.list_page(job_id, cursor=0, limit=100)
        return job_id, dict(zip(page.item_names, page.item_ids, strict=True))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = Settings(data_dir=tmp_path / "data")
    pool = EnginePool(1)
    async with fresh_store_url(tmp_path / "store.db") as url:
        store = await Store.open(url)
        try:
            yield Rig(store, BlobStore(settings.blob_dir), settings, pool)
        finally:
            await store.close()
            pool.shutdown()


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


async def test_a_document_is_parsed_stored_and_recorded(rig: Rig, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"note.txt": b"# Title\n\nSome words.\n"})
    job_id, items = await rig.job(folder)
    processor = rig.processor()

    assert await processor.process(job_id, items["note.txt"]) is ItemStatus.COMPLETED

    [result] = await rig.store.items.results_for_item(items["note.txt"])
    stored = rig.blobs.local_path(result.output_location).read_text()
    expected = parse_document(
        EngineRequest(
            path=str(folder / "note.txt"), file_name="note.txt", job_type="parse", config={}
        )
    )
    assert stored == expected.content
    job = await rig.store.jobs.get_job(job_id)
    assert (job.completed_items, job.failed_items) == (1, 0)
    # A retry after the result was recorded does nothing.
    assert await processor.process(job_id, items["note.txt"]) is ItemStatus.COMPLETED
    assert len(await rig.store.items.results_for_item(items["note.txt"])) == 1


async def test_a_broken_document_fails_its_item_with_a_readable_error(
    rig: Rig, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"broken.pdf": b"%PDF-1.7 not really", "fine.txt": b"fine"})
    job_id, items = await rig.job(folder)
    processor = rig.processor()

    with pytest.raises(ItemFailedError) as failed:
        await processor.process(job_id, items["broken.pdf"])
    item = await rig.store.items.get_item(job_id, items["broken.pdf"])
    assert item.status == ItemStatus.FAILED.value
    assert item.error_message == str(failed.value)
    assert "the PDF cannot be opened" in item.error_message
    assert await processor.process(job_id, items["fine.txt"]) is ItemStatus.COMPLETED


async def test_the_time_limit_of_the_plan_fails_a_slow_document(rig: Rig, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"slow.txt": b"slow"})
    job_id, items = await rig.job(
        folder, {"parameters": {"job_timeout_in_seconds": SLOW_ENGINE_DELAY_SECONDS / 5}}
    )
    with pytest.raises(ItemFailedError, match=r"timed out after 0\.1s \(job_timeout_in_seconds\)"):
        await rig.processor(slow_engine).process(job_id, items["slow.txt"])
    item = await rig.store.items.get_item(job_id, items["slow.txt"])
    assert item.status == ItemStatus.FAILED.value


async def test_the_quick_path_leaves_what_it_cannot_take_open(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "QUICK_MAX_BYTES", 10)
    folder = _folder(tmp_path, {"small.txt": b"small", "large.txt": b"large " * 10})
    job_id, items = await rig.job(folder)
    processor = rig.processor()

    assert await processor.process_quick(job_id, items["small.txt"]) is ItemStatus.COMPLETED
    assert await processor.process_quick(job_id, items["large.txt"]) is ItemStatus.PROCESSING
    assert (await rig.store.items.get_item(job_id, items["large.txt"])).status == "processing"
    assert await processor.process(job_id, items["large.txt"]) is ItemStatus.COMPLETED


async def test_a_quick_attempt_hands_its_engine_run_to_the_durable_one(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "QUICK_ENGINE_SECONDS", SLOW_ENGINE_DELAY_SECONDS / 10)
    folder = _folder(tmp_path, {"slow.txt": b"slow words"})
    job_id, items = await rig.job(folder)
    processor = rig.processor(slow_engine)
    runs: list[EngineRequest] = []
    run = rig.pool.run

    async def counted(engine: Engine, request: EngineRequest, **kwargs: object) -> object:
        runs.append(request)
        return await run(engine, request, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rig.pool, "run", counted)

    assert await processor.process_quick(job_id, items["slow.txt"]) is ItemStatus.PROCESSING
    assert await processor.process(job_id, items["slow.txt"]) is ItemStatus.COMPLETED
    assert len(runs) == 1  # the durable attempt adopted the quick attempt's run


async def test_failure_and_cancel_records_keep_what_already_ended(rig: Rig, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})
    job_id, items = await rig.job(folder)
    processor = rig.processor()
    assert await processor.process(job_id, items["a.txt"]) is ItemStatus.COMPLETED

    assert await processor.record_cancelled(job_id, items["a.txt"]) is ItemStatus.COMPLETED
    assert await processor.record_cancelled(job_id, items["b.txt"]) is ItemStatus.CANCELLED
    assert await processor.record_failure(job_id, items["c.txt"], "gave up") == (
        ItemStatus.FAILED,
        "gave up",
    )
    assert await processor.record_failure(job_id, items["a.txt"], "late") == (
        ItemStatus.COMPLETED,
        None,
    )


async def test_a_job_without_a_stored_plan_gets_one_from_its_config(rig: Rig) -> None:
    legacy = JobRow(
        plan_json=None,
        config_json='{"parameters": {"job_timeout_in_seconds": 7, "priority": "high"}}',
        parameters_hash="kept",
        page_size=5,
        continue_as_new_threshold=9,
    )
    plan = JobPlan.of_job(legacy, rig.settings)
    assert (plan.parameters_hash, plan.page_size, plan.continue_as_new_threshold) == ("kept", 5, 9)
    assert (plan.timeout_seconds, plan.priority) == (7, "high")
    stored = JobRow(plan_json=plan.model_dump_json(), config_json="{}", parameters_hash="other")
    assert JobPlan.of_job(stored, rig.settings) == plan


async def test_a_created_job_keeps_the_plan_of_its_creation(rig: Rig, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.txt": b"a"})
    job_id, _ = await rig.job(
        folder, {"parameters": {"job_timeout_extra_time_per_page_in_seconds": 2}}
    )
    job = await rig.store.jobs.get_job(job_id)
    plan = JobPlan.of_job(job, rig.settings.model_copy(update={"default_job_timeout_seconds": 1}))
    assert plan.timeout_seconds == rig.settings.default_job_timeout_seconds
    assert plan.time_limit(pages=3) == rig.settings.default_job_timeout_seconds + 6
    assert plan.attempt_timeout_seconds > plan.time_limit(pages=1000)
    assert (job.parameters_hash, job.page_size) == (plan.parameters_hash, plan.page_size)
