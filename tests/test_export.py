"""Exporting a job's outputs to a folder (``docbatch.export``) after real batches over
real documents: files at the items' paths, the manifest, idempotence, unsafe names."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from docbatch import export
from docbatch.blobs import path_to_location
from docbatch.errors import ConfigError, NotFoundError
from docbatch.models import ItemStatus, JobStatus, JobType
from docbatch.store import FileSpec
from docbatch.store.tables import JobRow
from tests.conftest import CORPUS, Stack, StackFactory
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import (
    run_folder_job,
    start_folder_job,
    start_job,
    wait_job,
    wait_until,
    write_text_files,
)

NESTED = {
    "fake-text.txt": "fake-text.txt",
    "reports/fake-memo.pdf": "fake-memo.pdf",
    "reports/2024/q1/simple-table.md": "simple-table.md",
    "web/fake-html.html": "fake-html.html",
    "data/simple.json": "simple.json",
    "legacy/empty.xlsx": "empty.xlsx",
}
"""A copy of part of the corpus in nested folders; ``empty.xlsx`` fails on purpose."""
FAILING = "legacy/empty.xlsx"
CLASSIFY_CONFIG = {
    "rules": [
        {"type": "invoice", "description": "A bill requesting payment with line items, "
         "totals, an invoice number and a due date"},
        {"type": "memo", "description": "An internal memo or short note to staff about "
         "a decision, event or announcement"},
    ]
}  # fmt: skip


def copy_nested_corpus(folder: Path) -> Path:
    """The ``NESTED`` documents copied from the corpus into ``folder``."""
    for relative, source in NESTED.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / source, target)
    return folder


def read_manifest(out_dir: Path) -> list[dict[str, Any]]:
    """The manifest's lines, parsed."""
    lines = (out_dir / export.MANIFEST_NAME).read_text().splitlines()
    return [json.loads(line) for line in lines]


def tree(out_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``out_dir``: relative path -> (bytes, mtime in ns)."""
    return {
        path.relative_to(out_dir).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(out_dir.rglob("*"))
        if path.is_file()
    }


async def stored_output(stack: Stack, job: JobRow, item_id: str) -> bytes:
    """The bytes of the result an item of ``job`` points at."""
    item = await stack.store.items.get_item(job.id, item_id)
    assert item.result_id is not None
    result = await stack.store.items.get_result(item.result_id)
    return await stack.blobs.read_bytes(result.output_location)


async def test_export_writes_each_output_at_its_path_and_a_line_per_item(
    stack: Stack, tmp_path: Path
) -> None:
    folder = copy_nested_corpus(tmp_path / "docs")
    status = await run_folder_job(stack, folder)
    job = await stack.store.jobs.get_job(status.job.id)
    out_dir = tmp_path / "out"

    stats = await export.export_job(stack.store, stack.blobs, job.id, out_dir)

    assert job.status == JobStatus.COMPLETED.value
    assert (job.completed_items, job.failed_items) == (len(NESTED) - 1, 1)
    assert (stats.items, stats.files, stats.written, stats.failed) == (6, 5, 5, 1)
    assert stats.manifest == out_dir.resolve() / "_docbatch.jsonl"
    manifest = read_manifest(out_dir)
    assert sorted(line["name"] for line in manifest) == sorted(NESTED)
    for line in manifest:
        assert line["parameters_hash"] == job.parameters_hash
        if line["name"] == FAILING:
            assert line["status"] == "failed"
            assert line["output"] is None
            assert "empty document" in line["error_message"]
            continue
        assert line["status"] == "completed"
        assert line["output"] == f"{line['name']}.md"
        assert line["error_message"] is None
        document = json.loads(await stored_output(stack, job, line["item_id"]))
        assert (out_dir / line["output"]).read_text() == document["markdown"]
    files = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    assert files == sorted(
        ["_docbatch.jsonl", *(f"{name}.md" for name in NESTED if name != FAILING)]
    )
    assert "Juicy Apples" in (out_dir / "reports/2024/q1/simple-table.md.md").read_text()


async def test_export_again_is_idempotent_and_rewrites_only_what_changed(
    stack: Stack, tmp_path: Path
) -> None:
    folder = copy_nested_corpus(tmp_path / "docs")
    job_id = (await run_folder_job(stack, folder)).job.id
    out_dir = tmp_path / "out"
    await export.export_job(stack.store, stack.blobs, job_id, out_dir)
    first = tree(out_dir)

    again = await export.export_job(stack.store, stack.blobs, job_id, out_dir)

    assert tree(out_dir) == first  # same bytes, same modification times
    assert (again.written, again.unchanged) == (0, 5)
    edited = out_dir / "web/fake-html.html.md"
    edited.write_text("edited by hand")
    repaired = await export.export_job(stack.store, stack.blobs, job_id, out_dir)
    assert (repaired.written, repaired.unchanged) == (1, 4)
    assert {k: v[0] for k, v in tree(out_dir).items()} == {k: v[0] for k, v in first.items()}
    assert not [p for p in out_dir.rglob(".*") if p.is_file()]  # no temporary file left


async def test_items_skipped_as_already_processed_export_the_outputs_they_reuse(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder / "nested", 3)
    first = (await run_folder_job(stack, folder)).job.id
    rerun = (await run_folder_job(stack, folder)).job.id
    await export.export_job(stack.store, stack.blobs, first, tmp_path / "first")

    stats = await export.export_job(stack.store, stack.blobs, rerun, tmp_path / "rerun")

    assert stats.files == 3
    manifest = read_manifest(tmp_path / "rerun")
    assert {(line["status"], line["skip_reason"]) for line in manifest} == {
        ("skipped", "already_processed")
    }
    assert all(line["output"].startswith("nested/doc-") for line in manifest)
    first_files = {k: v[0] for k, v in tree(tmp_path / "first").items() if k != "_docbatch.jsonl"}
    rerun_files = {k: v[0] for k, v in tree(tmp_path / "rerun").items() if k != "_docbatch.jsonl"}
    assert rerun_files == first_files


async def test_classify_outputs_are_json_files_of_the_stored_result(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "invoice.txt").write_text(
        "INVOICE No. 2024-117\nBill to: ACME Corp\nLine items: 3 x consulting hours $450\n"
        "Subtotal $1,350  Tax $135  Total due $1,485\nPayment due date: 30 days\n"
    )
    shutil.copyfile(CORPUS / "fake-memo.pdf", folder / "memo.pdf")
    status = await run_folder_job(stack, folder, CLASSIFY_CONFIG)
    job = await stack.store.jobs.get_job(status.job.id)
    out_dir = tmp_path / "out"

    await export.export_job(stack.store, stack.blobs, job.id, out_dir)

    assert job.job_type == JobType.CLASSIFY.value
    manifest = {line["name"]: line for line in read_manifest(out_dir)}
    assert {name: line["output"] for name, line in manifest.items()} == {
        "billing/invoice.txt": "billing/invoice.txt.json",
        "memo.pdf": "memo.pdf.json",
    }
    for line in manifest.values():
        stored = json.loads(await stored_output(stack, job, line["item_id"]))
        assert json.loads((out_dir / line["output"]).read_text()) == stored
    assert json.loads((out_dir / "billing/invoice.txt.json").read_text())["type"] == "invoice"


async def test_names_that_would_leave_the_folder_are_neutralized(
    stack: Stack, tmp_path: Path
) -> None:
    # The API refuses such names (directories.check_unique_id); rows written another way
    # (an older release, a script on the store) must still not steer an export outside.
    source = tmp_path / "source"
    write_text_files(source, 6)
    names = ["../../escape.txt", "/etc/absolute.txt", "a\\..\\..\\back.txt", "./plain.txt"]
    project = stack.settings.project_id
    first = await stack.store.directories.create_directory(project_id=project, name="first")
    second = await stack.store.directories.create_directory(project_id=project, name="second")
    paths = sorted(source.iterdir())
    files = [
        await stack.store.directories.put_file(
            directory_id=directory.id, project_id=project, spec=spec
        )
        for directory, spec in [
            *((first, _spec(name, path)) for name, path in zip(names, paths, strict=False)),
            (first, _spec("same.txt", paths[4])),
            (second, _spec("same.txt", paths[5])),  # the same name in another directory
        ]
    ]
    job = await start_job(stack, {"job_config": {}, "item_ids": [f.id for f in files]})
    status = await wait_job(stack, job)
    out_dir = tmp_path / "export" / "out"

    stats = await export.export_job(stack.store, stack.blobs, job.id, out_dir)

    assert (status.job.processed_items, status.job.failed_items) == (6, 0)
    assert stats.files == 6
    outputs = sorted((line["name"], line["output"]) for line in read_manifest(out_dir))
    assert outputs == sorted(
        [
            ("../../escape.txt", "%2E%2E/%2E%2E/escape.txt.md"),
            ("/etc/absolute.txt", "etc/absolute.txt.md"),
            ("a\\..\\..\\back.txt", "a/%2E%2E/%2E%2E/back.txt.md"),
            ("./plain.txt", "plain.txt.md"),
            # The same name twice: the item ids keep the files apart.
            *(("same.txt", f"same.txt~{f.id}.md") for f in files[-2:]),
        ]
    )
    inside = out_dir.resolve()
    written = [p.resolve() for p in (tmp_path / "export").rglob("*") if p.is_file()]
    assert len(written) == 7 and all(p.is_relative_to(inside) for p in written)
    assert not (tmp_path / "escape.txt.md").exists()


def _spec(name: str, path: Path) -> FileSpec:
    data = path.read_bytes()
    return FileSpec(
        path=name,
        size=len(data),
        content_hash=hashlib.sha256(data).hexdigest(),
        storage_location=path_to_location(path),
        mime_type="text/plain",
    )


async def test_a_symbolic_link_inside_the_folder_cannot_take_outputs_outside(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder / "sub", 1)
    write_text_files(folder, 1, prefix="top")
    job_id = (await run_folder_job(stack, folder)).job.id
    out_dir, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out_dir.mkdir()
    (out_dir / "sub").symlink_to(elsewhere)

    stats = await export.export_job(stack.store, stack.blobs, job_id, out_dir)

    assert (stats.files, stats.errors) == (1, 1)
    assert not list(elsewhere.iterdir())
    line = next(line for line in read_manifest(out_dir) if line["name"].startswith("sub/"))
    assert line["output"] is None
    assert "outside" in line["error_message"]


async def test_following_a_running_job_writes_outputs_before_it_ends(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder / "a", 6)
    out_dir = tmp_path / "out"
    async with make_stack(engine=slow_engine, max_concurrent_children=1) as stack:
        job = await start_folder_job(stack, folder)
        statuses: list[str] = []

        async def some_file_written() -> bool:
            if any(out_dir.glob("a/*.md")):
                statuses.append((await stack.store.jobs.get_job(job.id)).status)
                return True
            return False

        async with export.following(stack.store, stack.blobs, job.id, out_dir, every=0.05):
            await wait_until(some_file_written, timeout=120, interval=0.02)
            await wait_job(stack, job)

            async def all_written() -> bool:
                return len(list(out_dir.glob("a/*.md"))) == 6

            await wait_until(all_written, timeout=30, interval=0.02)  # by the follower
        assert not (out_dir / export.MANIFEST_NAME).exists()  # passes while running: none
        stats = await export.export_job(stack.store, stack.blobs, job.id, out_dir)

    assert not JobStatus(statuses[0]).is_terminal
    assert (stats.files, stats.written) == (6, 0)  # all written while following
    assert len(read_manifest(out_dir)) == 6


async def test_export_of_a_missing_job_or_an_unwritable_folder_says_so(
    stack: Stack, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match="job bjb-missing not found"):
        await export.export_job(stack.store, stack.blobs, "bjb-missing", tmp_path / "out")
    folder = tmp_path / "docs"
    write_text_files(folder, 1)
    job_id = (await run_folder_job(stack, folder)).job.id
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create"):
        await export.export_job(stack.store, stack.blobs, job_id, tmp_path / "file" / "out")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b/report.pdf", "a/b/report.pdf"),
        ("../x", "%2E%2E/x"),
        ("/abs/x", "abs/x"),
        ("C:\\dir\\x", "C:/dir/x"),
        ("a/./b//c", "a/b/c"),
        ("..", "%2E%2E"),
        ("nul\0byte", "nul%00byte"),
        ("", None),
        ("/./", None),
    ],
)
def test_safe_relative_path(name: str, expected: str | None) -> None:
    path = export.safe_relative_path(name)
    assert (path.as_posix() if path else None) == expected
    if path is not None:
        assert not path.is_absolute() and ".." not in path.parts


def test_long_names_are_cut_under_the_file_name_limit() -> None:
    path = export.output_relative_path("d/" + "é" * 300, "dfl-1", JobType.PARSE, duplicate=True)
    assert path.parent == PurePosixPath("d")
    assert len(path.name.encode()) <= 255
    assert path.name.endswith("~dfl-1.md")
    other = export.output_relative_path("d/" + "é" * 299 + "e", "dfl-1", JobType.PARSE)
    assert other.name != path.name.replace("~dfl-1", "")  # the hash keeps them apart


async def test_exporting_a_running_job_lists_every_item_with_its_status_so_far(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 4)
    async with make_stack(engine=slow_engine, max_concurrent_children=1) as stack:
        job = await start_folder_job(stack, folder)

        async def one_completed() -> bool:
            row = await stack.store.jobs.get_job(job.id)
            return row.completed_items >= 1 and row.total_items == 4

        await wait_until(one_completed, timeout=120, interval=0.02)
        stats = await export.export_job(stack.store, stack.blobs, job.id, tmp_path / "out")
        await wait_job(stack, job)

    statuses = [line["status"] for line in read_manifest(tmp_path / "out")]
    assert stats.items == len(statuses) == 4
    assert stats.files == statuses.count(ItemStatus.COMPLETED.value) >= 1
