"""Directories and files through the official client: CRUD, paging, uploads and dedup."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import llama_cloud
import pytest

from tests.api.conftest import PROJECT_A, Api, ApiFactory
from tests.conftest import CORPUS, REPO_ROOT
from tests.engine_doubles import slow_engine


async def test_directory_lifecycle(api: Api) -> None:
    client = api.client
    created = await client.beta.directories.create(
        name="inbox", description="incoming", type="user", project_id=PROJECT_A
    )
    assert (created.name, created.description, created.type) == ("inbox", "incoming", "user")
    assert (await client.beta.directories.get(created.id)).name == "inbox"

    updated = await client.beta.directories.update(created.id, name="inbox-2", description="x")
    assert (updated.name, updated.description) == ("inbox-2", "x")

    for index in range(5):
        await client.beta.directories.create(name=f"extra-{index}", type="ephemeral")
    every = [d async for d in client.beta.directories.list(page_size=2)]
    assert len(every) == 6
    ephemeral = [d async for d in client.beta.directories.list(type="ephemeral")]
    assert {d.name for d in ephemeral} == {f"extra-{i}" for i in range(5)}
    assert [d.id async for d in client.beta.directories.list(name="inbox-2")] == [created.id]

    await client.beta.directories.delete(created.id)
    with pytest.raises(llama_cloud.NotFoundError):
        await client.beta.directories.get(created.id)
    assert len([d async for d in client.beta.directories.list()]) == 5


async def test_file_upload_get_update_list_delete(api: Api) -> None:
    files = api.client.beta.directories.files
    directory = await api.client.beta.directories.create(name="files")
    other = await api.client.beta.directories.create(name="other")
    data = (CORPUS / "fake-memo.pdf").read_bytes()

    uploaded = await files.upload(
        directory.id,
        upload_file=("memo.pdf", io.BytesIO(data), "application/pdf"),
        external_file_id="ext-1",
        metadata=json.dumps({"source": "scanner", "pages": 1}),
    )
    assert uploaded.unique_id == "ext-1"
    assert uploaded.display_name == "memo.pdf"
    assert uploaded.metadata == {"source": "scanner", "pages": 1}
    assert uploaded.model_extra is not None
    assert uploaded.model_extra["size_bytes"] == len(data)

    got = await files.get(uploaded.id, directory_id=directory.id)
    assert got.id == uploaded.id
    renamed = await files.update(
        uploaded.id, directory_id=directory.id, display_name="memo-final.pdf"
    )
    assert renamed.display_name == "memo-final.pdf"

    for index in range(4):
        await files.upload(directory.id, upload_file=(f"n{index}.txt", f"note {index}".encode()))
    names = [f.display_name async for f in files.list(directory.id, page_size=2)]
    assert names == ["memo-final.pdf", "n0.txt", "n1.txt", "n2.txt", "n3.txt"]
    assert [f.id async for f in files.list(directory.id, unique_id="ext-1")] == [uploaded.id]
    contains = [f.display_name async for f in files.list(directory.id, display_name_contains="n2")]
    assert contains == ["n2.txt"]

    added = await files.add(
        other.id, file_id=uploaded.id, display_name="copy.pdf", unique_id="copy-1"
    )
    assert added.directory_id == other.id
    assert added.model_extra is not None
    assert added.model_extra["content_hash"] == uploaded.model_extra["content_hash"]

    moved = await files.update(added.id, directory_id=other.id, target_directory_id=directory.id)
    assert moved.directory_id == directory.id

    await files.delete(uploaded.id, directory_id=directory.id)
    with pytest.raises(llama_cloud.NotFoundError):
        await files.get(uploaded.id, directory_id=directory.id)
    with pytest.raises(llama_cloud.UnprocessableEntityError) as bad_metadata:
        await files.upload(directory.id, upload_file=("x.txt", b"x"), metadata="not json")
    assert "metadata" in json.dumps(bad_metadata.value.body)


async def test_uploaded_files_are_deduplicated_by_content(api: Api) -> None:
    client = api.client
    first = await client.beta.directories.create(name="first")
    second = await client.beta.directories.create(name="second")
    for name in ("fake-text.txt", "fake-html.html"):
        data = (CORPUS / name).read_bytes()
        await client.beta.directories.files.upload(first.id, upload_file=(name, data))
        await client.beta.directories.files.upload(second.id, upload_file=(f"copy-{name}", data))

    job = await client.beta.batch.create(job_config={}, directory_id=first.id)
    await api.stack.client.get_workflow_handle(job.workflow_id or "").result()
    again = await client.beta.batch.create(job_config={}, directory_id=second.id)
    await api.stack.client.get_workflow_handle(again.workflow_id or "").result()

    status = await client.beta.batch.get_status(again.id)
    assert status.job.skipped_items == 2
    items = [i async for i in client.beta.batch.job_items.list(again.id)]
    assert {i.skip_reason for i in items} == {"already_processed"}


async def test_deleting_a_directory_with_a_running_job_is_a_conflict(
    make_api: ApiFactory,
) -> None:
    async with make_api(engine=slow_engine, max_concurrent_children=1) as api:
        directory = await api.client.beta.directories.create(name="busy")
        for index in range(4):
            await api.client.beta.directories.files.upload(
                directory.id, upload_file=(f"a{index}.txt", f"hello {index}".encode())
            )
        job = await api.client.beta.batch.create(job_config={}, directory_id=directory.id)

        with pytest.raises(llama_cloud.ConflictError) as error:
            await api.client.beta.directories.delete(directory.id)
        assert "running job" in json.dumps(error.value.body)

        await api.stack.client.get_workflow_handle(job.workflow_id or "").result()
        await api.client.beta.directories.delete(directory.id)
        with pytest.raises(llama_cloud.NotFoundError):
            await api.client.beta.directories.get(directory.id)
        # The job and its results stay readable after the directory is gone.
        assert (await api.client.beta.batch.get_status(job.id)).job.status == "completed"


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    env = {**os.environ, "DOCBATCH_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docbatch", "keys", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    created = cli("create", "--project", "proj-cli", "--name", "ci", "--json")
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["key"].startswith("dbk_")
    listed = cli("list", "--json")
    assert [k["id"] for k in json.loads(listed.stdout)["items"]] == [info["id"]]
    assert info["key"] not in listed.stdout  # only a prefix is ever shown again
    assert cli("revoke", info["id"]).returncode == 0
    revoked = json.loads(cli("list", "--json").stdout)["items"][0]
    assert revoked["revoked_at"] is not None
    assert cli("revoke", "key-missing").returncode == 1
