"""The SQL store on a real SQLite file (or a real Postgres database, see
``tests.databases``): migrations, idempotent writes, dedup paging."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from docbatch import service
from docbatch.core.plan import JobPlan
from docbatch.errors import ConfigError, NotFoundError
from docbatch.ids import result_id_for
from docbatch.models import ItemStatus, JobStatus, JobType, SkipReason, load_job_config
from docbatch.products.jobs import parse_product_job_id, product_job_id
from docbatch.products.parameters import ProductType
from docbatch.settings import Settings
from docbatch.store import ResultSpec, Store
from docbatch.store.db import Database
from docbatch.store.products import BatchFilter, ProductJobFilter, ProductStore
from docbatch.store.tables import JobRow
from tests.databases import asyncpg_dsn, fresh_postgres_database, fresh_store_url, requires_postgres
from tests.workflows.helpers import write_text_files

PROJECT = "proj-test"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store_url(tmp_path / "store.db") as url:
        opened = await Store.open(url)
        yield opened
        await opened.close()


def _job(directory_id: str | None, *, max_size: int = 10_000, parameters_hash: str = "h") -> JobRow:
    config = load_job_config({})
    plan = JobPlan.build(config, Settings(), page_size=3).model_copy(
        update={"parameters_hash": parameters_hash, "max_file_size_bytes": max_size}
    )
    return service.new_job_row(
        plan, config, project_id=PROJECT, namespace="default", directory_id=directory_id
    )


async def _directory_job(store: Store, folder: Path, **kwargs: object) -> JobRow:
    registered = await service.register_local_folder(store, folder, project_id=PROJECT)
    job = await store.jobs.create_job(_job(registered.directory.id, **kwargs))  # type: ignore[arg-type]
    await store.jobs.start_job(job.id)
    return job


async def test_migrations_create_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    await store.ping()
    await store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
        mode = db.execute("pragma journal_mode").fetchone()[0]
        version = db.execute("select version_num from alembic_version").fetchone()[0]
    assert {"directories", "files", "jobs", "job_items", "processing_results"} <= tables
    assert mode == "wal"
    assert version == "0007"
    # Opening again is a no-op migration.
    await (await Store.open(f"sqlite+aiosqlite:///{path}")).close()


@requires_postgres
async def test_processes_migrating_one_fresh_postgres_database_together_all_succeed() -> None:
    """Workers started together each migrate at startup: the second waits for the first."""
    migrate = "import sys; from docbatch.store.db import upgrade_sync; upgrade_sync(sys.argv[1])"
    async with fresh_postgres_database() as url:
        assert url is not None
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", migrate, url, stderr=asyncio.subprocess.PIPE
            )
            for _ in range(3)
        ]
        errors = [(await process.communicate())[1].decode() for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], errors
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            tables = {
                row["tablename"]
                for row in await connection.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
            versions = await connection.fetch("SELECT version_num FROM alembic_version")
            seq_type = await connection.fetchval(
                "SELECT data_type FROM information_schema.columns"
                " WHERE table_name = 'files' AND column_name = 'seq'"
            )
        finally:
            await connection.close()
    assert {"directories", "files", "jobs", "job_items", "processing_results"} <= tables
    assert [row["version_num"] for row in versions] == ["0007"]
    assert seq_type == "bigint"


async def test_timestamps_come_back_in_utc_whatever_zone_they_were_written_in(
    store: Store,
) -> None:
    written = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=5)))
    job = _job(None)
    job.created_at = written
    await store.jobs.create_job(job)
    read = (await store.jobs.get_job(job.id)).created_at
    assert read == written
    assert read.utcoffset() == timedelta(0)


async def test_an_item_completed_by_two_workers_at_once_counts_once(
    store: Store, tmp_path: Path
) -> None:
    """Two stores (two workers' pools) race to complete every item of a page."""
    folder = tmp_path / "docs"
    write_text_files(folder, 20)
    job = await _directory_job(store, folder)
    page = await store.jobs.list_page(job.id, cursor=0, limit=20)
    other = Store(Database(store.url))
    try:

        async def complete(on: Store, item_id: str) -> bool:
            await on.items.start_item(job.id, item_id)
            return await on.items.complete_item(
                job.id,
                item_id,
                ResultSpec(
                    result_id=result_id_for(job.id, item_id),
                    job_type=JobType.PARSE,
                    parameters_hash="h",
                    content_hash="c",
                    output_location="file:///tmp/x.md",
                    output_metadata={},
                ),
            )

        outcomes = await asyncio.gather(
            *(complete(on, item_id) for item_id in page.item_ids for on in (store, other))
        )
    finally:
        await other.close()
    assert sum(outcomes) == 20
    row = await store.jobs.get_job(job.id)
    assert (row.completed_items, row.total_items) == (20, 20)
    for item_id in page.item_ids:
        assert len(await store.items.results_for_item(item_id)) == 1


async def test_registering_a_folder_twice_reuses_it_and_detects_changes(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    paths = write_text_files(folder, 3)
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.txt").write_text("nested document\n")
    (folder / ".hidden").write_text("ignored")

    first = await service.register_local_folder(store, folder, project_id=PROJECT)
    assert (first.stats.added, first.files) == (4, 4)

    paths[0].write_text("changed content\n")
    paths[1].unlink()
    (folder / "new.txt").write_text("a new document\n")
    second = await service.register_local_folder(store, folder, project_id=PROJECT)

    assert second.directory.id == first.directory.id
    assert (second.stats.added, second.stats.changed, second.stats.removed) == (1, 1, 1)
    names = [f.path for f in await store.directories.list_files(first.directory.id)]
    assert sorted(names) == ["doc-0000.txt", "doc-0002.txt", "new.txt", "sub/nested.txt"]


async def test_list_page_is_idempotent_and_pages_by_cursor(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 7)
    job = await _directory_job(store, folder)

    first = await store.jobs.list_page(job.id, cursor=0, limit=3)
    again = await store.jobs.list_page(job.id, cursor=0, limit=3)
    assert first == again
    assert (first.listed, first.exhausted) == (3, False)
    second = await store.jobs.list_page(job.id, cursor=first.next_cursor, limit=3)
    third = await store.jobs.list_page(job.id, cursor=second.next_cursor, limit=3)
    assert (third.listed, third.exhausted) == (1, True)
    listed = first.item_ids + second.item_ids + third.item_ids
    assert len(set(listed)) == 7
    assert (await store.jobs.get_job(job.id)).total_items == 7


async def test_completing_an_item_twice_writes_one_result_and_counts_once(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    job = await _directory_job(store, folder)
    page = await store.jobs.list_page(job.id, cursor=0, limit=10)
    item_id = page.item_ids[0]
    spec = ResultSpec(
        result_id=result_id_for(job.id, item_id),
        job_type=JobType.PARSE,
        parameters_hash="h",
        content_hash="c",
        output_location="file:///tmp/x.md",
        output_metadata={},
    )

    assert (await store.items.start_item(job.id, item_id))[0] == ItemStatus.PROCESSING
    assert await store.items.complete_item(job.id, item_id, spec) is True
    assert await store.items.complete_item(job.id, item_id, spec) is False
    assert await store.items.fail_item(job.id, item_id, "late failure") is False
    assert await store.items.cancel_item(job.id, item_id) is False

    assert len(await store.items.results_for_item(item_id)) == 1
    row = await store.jobs.get_job(job.id)
    assert (row.completed_items, row.failed_items, row.cancelled_items) == (1, 0, 0)
    assert (await store.items.get_item(job.id, item_id)).status == ItemStatus.COMPLETED.value


async def test_list_page_skips_processed_and_oversized_files(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    (folder / "zz-big.txt").write_text("x" * 5000)
    first = await _directory_job(store, folder, max_size=1000)
    page = await store.jobs.list_page(first.id, cursor=0, limit=10)
    assert page.skipped == 1 and len(page.item_ids) == 3
    for item_id in page.item_ids:
        file = await store.directories.get_file(item_id)
        await store.items.complete_item(
            first.id,
            item_id,
            ResultSpec(
                result_id=result_id_for(first.id, item_id),
                job_type=JobType.PARSE,
                parameters_hash="h",
                content_hash=file.content_hash,
                output_location="file:///tmp/out.md",
                output_metadata={},
            ),
        )

    second = await _directory_job(store, folder, max_size=1000)
    page = await store.jobs.list_page(second.id, cursor=0, limit=10)
    assert page.item_ids == []
    assert page.skipped == 4
    items, _ = await store.items.list_items(second.id)
    reasons = sorted(i.skip_reason or "" for i in items)
    assert reasons == [SkipReason.ALREADY_PROCESSED] * 3 + [SkipReason.SIZE_LIMIT_EXCEEDED]
    assert (await store.jobs.get_job(second.id)).skipped_items == 4

    other_params = await _directory_job(store, folder, max_size=1000, parameters_hash="other")
    page = await store.jobs.list_page(other_params.id, cursor=0, limit=10)
    assert len(page.item_ids) == 3


async def test_cancel_open_items_covers_unlisted_files(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 6)
    job = await _directory_job(store, folder)
    page = await store.jobs.list_page(job.id, cursor=0, limit=2)
    await store.items.start_item(job.id, page.item_ids[0])

    cancelled = await store.items.cancel_open_items(job.id, reason="stop")

    assert cancelled == 6
    assert await store.items.cancel_open_items(job.id, reason="stop") == 0
    items, total = await store.items.list_items(job.id)
    assert total == 6
    assert {i.status for i in items} == {ItemStatus.CANCELLED.value}
    assert (await store.jobs.get_job(job.id)).cancelled_items == 6


async def test_the_observer_hears_once_of_each_item_that_ended(
    store: Store, tmp_path: Path
) -> None:
    """Skips, completions, failures and cancellations, each reported once it committed
    and only when items moved: a page written again or a retried transition adds none."""
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    (folder / "zz-big.txt").write_text("x" * 5000)
    heard: list[tuple[str, ItemStatus, int]] = []

    def observer(job_type: str, status: ItemStatus, count: int) -> None:
        heard.append((job_type, status, count))

    observed = Store(Database(store.url), observer=observer)
    try:
        job = await _directory_job(observed, folder, max_size=1000)
        page = await observed.jobs.list_page(job.id, cursor=0, limit=10)
        assert await observed.jobs.list_page(job.id, cursor=0, limit=10) == page
        first, second, third = page.item_ids
        spec = ResultSpec(
            result_id=result_id_for(job.id, first),
            job_type=JobType.PARSE,
            parameters_hash="h",
            content_hash="c",
            output_location="file:///tmp/x.md",
            output_metadata={},
        )
        for _ in range(2):
            await observed.items.complete_item(job.id, first, spec)
            await observed.items.fail_item(job.id, second, "broken")
            await observed.items.cancel_items([(job.id, third), (job.id, first)])
        later = await _directory_job(observed, folder, parameters_hash="other")
        assert await observed.items.cancel_open_items(later.id, reason="stop") == 4
        assert await observed.items.cancel_open_items(later.id, reason="stop") == 0
    finally:
        await observed.close()
    assert heard == [
        ("parse", ItemStatus.SKIPPED, 1),
        ("parse", ItemStatus.COMPLETED, 1),
        ("parse", ItemStatus.FAILED, 1),
        ("parse", ItemStatus.CANCELLED, 1),
        ("parse", ItemStatus.CANCELLED, 4),
    ]
    row = await store.jobs.get_job(job.id)
    assert (row.skipped_items, row.completed_items, row.failed_items) == (1, 1, 1)
    assert row.cancelled_items == 1


async def test_an_observer_that_fails_never_fails_the_store_call(
    store: Store, tmp_path: Path
) -> None:
    write_text_files(tmp_path / "docs", 1)

    def broken(job_type: str, status: ItemStatus, count: int) -> None:
        raise RuntimeError("metrics are down")

    observed = Store(Database(store.url), observer=broken)
    try:
        job = await _directory_job(observed, tmp_path / "docs")
        (item_id,) = (await observed.jobs.list_page(job.id, cursor=0, limit=10)).item_ids
        assert await observed.items.fail_item(job.id, item_id, "broken") is True
    finally:
        await observed.close()
    assert (await store.jobs.get_job(job.id)).failed_items == 1


async def test_terminal_job_status_never_changes(store: Store) -> None:
    job = await store.jobs.create_job(_job(None))
    assert await store.jobs.set_job_status(job.id, JobStatus.CANCELLED) == JobStatus.CANCELLED
    assert await store.jobs.set_job_status(job.id, JobStatus.COMPLETED) == JobStatus.CANCELLED
    assert (await store.jobs.get_job(job.id)).status == JobStatus.CANCELLED.value


async def test_configurations_upsert_page_and_stay_in_their_project(store: Store) -> None:
    products = ProductStore(store.database)
    first = await products.save_configuration(
        project_id=PROJECT, name="a", product_type="parse_v2", parameters_json="{}"
    )
    again = await products.save_configuration(
        project_id=PROJECT, name="a", product_type="parse_v2", parameters_json='{"x":1}'
    )
    assert again.id == first.id
    assert again.version > first.version
    other_type = await products.save_configuration(
        project_id=PROJECT, name="a", product_type="extract_v2", parameters_json="{}"
    )
    assert other_type.id != first.id
    for index in range(3):
        await products.save_configuration(
            project_id=PROJECT, name=f"n{index}", product_type="parse_v2", parameters_json="{}"
        )
    seen, token = [], None
    while True:
        page, token = await products.list_configurations(
            project_id=PROJECT, page_size=2, page_token=token
        )
        seen += [row.id for row in page]
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 5
    parse_only, _ = await products.list_configurations(
        project_id=PROJECT, product_types=["extract_v2"], page_size=10
    )
    assert [row.id for row in parse_only] == [other_type.id]
    with pytest.raises(NotFoundError):
        await products.get_configuration(first.id, project_id="proj-other")
    with pytest.raises(ConfigError):
        await products.update_configuration(
            other_type.id, project_id=PROJECT, name="a", product_type="parse_v2",
            parameters_json=None,
        )  # fmt: skip
    await products.delete_configuration(first.id, project_id=PROJECT)
    with pytest.raises(NotFoundError):
        await products.get_configuration(first.id, project_id=PROJECT)
    with pytest.raises(ConfigError):
        await products.list_configurations(project_id=PROJECT, page_size=2, page_token="x!")


async def test_product_jobs_are_found_from_their_ids_and_listed(
    store: Store, tmp_path: Path
) -> None:
    write_text_files(tmp_path / "docs", 5)
    job = await _directory_job(store, tmp_path / "docs")
    await store.jobs.list_page(job.id, cursor=0, limit=10)
    products = ProductStore(store.database)
    items = await products.items_of(job.id)
    assert len(items) == 5
    third = items[2]
    key = parse_product_job_id(
        ProductType.PARSE, product_job_id(ProductType.PARSE, job.id, third.ordinal)
    )
    assert key is not None
    found_job, found_item = await products.find_product_job(
        *key, project_id=PROJECT, job_type="parse"
    )
    assert (found_job.id, found_item.item_id) == (job.id, third.item_id)
    with pytest.raises(NotFoundError):
        await products.find_product_job(*key, project_id="proj-other", job_type="parse")
    with pytest.raises(NotFoundError):
        await products.find_product_job(*key, project_id=PROJECT, job_type="extract")
    assert parse_product_job_id(ProductType.PARSE, "pjb-not-a-uuid") is None

    listed, token = [], None
    while True:
        page, token = await products.list_product_jobs(
            project_id=PROJECT,
            where=ProductJobFilter(job_type="parse"),
            page_size=2,
            page_token=token,
        )
        listed += [item.item_id for _, item in page]
        if token is None:
            break
    assert listed == [item.item_id for item in items]
    picked, _ = await products.list_product_jobs(
        project_id=PROJECT,
        where=ProductJobFilter(job_type="parse", keys=[key]),
        page_size=10,
        page_token=None,
    )
    assert [item.item_id for _, item in picked] == [third.item_id]
    batches, _ = await products.list_batches(
        project_id=PROJECT,
        where=BatchFilter(statuses=[JobStatus.RUNNING], source_directory_id=job.directory_id),
        page_size=10,
        page_token=None,
    )
    assert [b.id for b in batches] == [job.id]


async def test_deleting_a_job_keeps_the_results_other_jobs_were_served_from(
    store: Store, tmp_path: Path
) -> None:
    write_text_files(tmp_path / "docs", 2)
    first = await _directory_job(store, tmp_path / "docs")
    page = await store.jobs.list_page(first.id, cursor=0, limit=10)
    for item_id in page.item_ids:
        await store.items.start_item(first.id, item_id)
        spec = ResultSpec(
            result_id=result_id_for(first.id, item_id),
            job_type=JobType.PARSE,
            parameters_hash="h",
            content_hash=(await store.directories.get_file(item_id)).content_hash,
            output_location="file:///tmp/x.md",
            output_metadata={},
        )
        await store.items.complete_item(first.id, item_id, spec)
    await store.webhooks.record_webhook_event(
        event_id="evt-1", job_id=first.id, event_type="parse.success", payload={}
    )
    # A second job over the same files is served from the first one's results.
    second = await _directory_job(store, tmp_path / "docs")
    await store.jobs.list_page(second.id, cursor=0, limit=10)
    products = ProductStore(store.database)
    served = await products.items_of(second.id)
    assert {i.skip_reason for i in served} == {SkipReason.ALREADY_PROCESSED.value}
    shared = served[0].result_id
    assert shared is not None

    await products.delete_job(first.id)
    with pytest.raises(NotFoundError):
        await store.jobs.get_job(first.id)
    assert await products.items_of(first.id) == []
    assert (await store.items.get_result(shared)).job_id == first.id  # still serves the second job
    with pytest.raises(NotFoundError):
        await store.webhooks.get_webhook_event("evt-1")
    await products.delete_job(second.id)  # the last job it served: it goes too
    with pytest.raises(NotFoundError):
        await store.items.get_result(shared)


async def test_the_uploads_directory_is_made_once_and_comes_back_after_a_delete(
    store: Store,
) -> None:
    products = ProductStore(store.database)
    made = await asyncio.gather(*(products.uploads_directory(project_id=PROJECT) for _ in range(4)))
    assert len({d.id for d in made}) == 1
    assert made[0].type == "ephemeral"
    other = await products.uploads_directory(project_id="proj-other")
    assert other.id != made[0].id
    await store.directories.delete_directory(made[0].id, project_id=PROJECT)
    again = await products.uploads_directory(project_id=PROJECT)
    assert again.id == made[0].id
    assert (await store.directories.get_directory(again.id, project_id=PROJECT)).deleted_at is None
