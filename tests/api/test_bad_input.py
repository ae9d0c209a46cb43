"""Malformed requests and CLI arguments: each gets a 4xx or a clear CLI error and changes
nothing (no job, directory or file appears)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from docbatch.settings import Settings
from tests.api.conftest import Api, ApiFactory
from tests.conftest import REPO_ROOT, SAMPLES

BATCH = "/api/v1/beta/batch-processing"
DIRS = "/api/v1/beta/directories"


async def _counts(api: Api) -> tuple[int, int, int]:
    store = api.stack.store
    jobs = (await store.jobs.list_jobs())[1]
    directories = (
        await store.directories.list_directories(project_id="proj-alpha", include_deleted=True)
    )[1]
    files = 0
    for directory in (
        await store.directories.list_directories(project_id="proj-alpha", limit=1000)
    )[0]:
        files += await store.directories.count_files(directory.id)
    return jobs, directories, files


@pytest.fixture
async def ctx(api: Api) -> dict[str, Any]:
    directory = await api.client.beta.directories.create(name="target")
    empty = await api.client.beta.directories.create(name="empty")
    uploaded = await api.client.beta.directories.files.upload(
        directory.id, upload_file=("a.txt", b"hello")
    )
    foreign = await api.other.beta.directories.create(name="theirs")
    return {"dir": directory.id, "empty": empty.id, "file": uploaded.id, "foreign": foreign.id}


CASES: list[tuple[str, str, str, dict[str, Any], int]] = [
    # (name, method, path template, request kwargs, expected status)
    ("wrong type page_size", "POST", BATCH, {"json": {"job_config": {}, "directory_id": "{dir}", "page_size": "ten"}}, 422),
    ("huge page_size", "POST", BATCH, {"json": {"job_config": {}, "directory_id": "{dir}", "page_size": 10**12}}, 422),
    ("huge threshold", "POST", BATCH, {"json": {"job_config": {}, "directory_id": "{dir}", "continue_as_new_threshold": 10**30}}, 422),
    ("unknown enum", "POST", BATCH, {"json": {"job_config": {"rules": [{"type": "a", "description": "0123456789"}], "mode": "TURBO"}, "directory_id": "{dir}"}}, 422),
    ("job_config not an object", "POST", BATCH, {"json": {"job_config": "parse", "directory_id": "{dir}"}}, 422),
    ("not JSON", "POST", BATCH, {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422),
    ("item_ids not a list", "POST", BATCH, {"json": {"job_config": {}, "item_ids": "{file}"}}, 422),
    ("empty directory", "POST", BATCH, {"json": {"job_config": {}, "directory_id": "{empty}"}}, 422),
    ("another project's directory", "POST", BATCH, {"json": {"job_config": {}, "directory_id": "{foreign}"}}, 422),
    ("bad target_pages", "POST", BATCH, {"json": {"job_config": {"parameters": {"target_pages": "9-1"}}, "directory_id": "{dir}"}}, 422),
    ("negative timeout", "POST", BATCH, {"json": {"job_config": {"parameters": {"job_timeout_in_seconds": -1}}, "directory_id": "{dir}"}}, 422),
    ("unknown language", "POST", BATCH, {"json": {"job_config": {"parameters": {"languages": ["klingon"]}}, "directory_id": "{dir}"}}, 422),
    ("webhook to loopback", "POST", BATCH, {"json": {"job_config": {"parameters": {"webhook_url": "http://127.0.0.1/x"}}, "directory_id": "{dir}"}}, 422),
    ("negative offset", "GET", BATCH + "?offset=-1", {}, 422),
    ("huge limit", "GET", BATCH + "?limit=100000000000000000000", {}, 422),
    ("unknown status", "GET", BATCH + "?status=lost", {}, 422),
    ("forged page token", "GET", DIRS + "?page_token=!!!", {}, 422),
    ("directory without name", "POST", DIRS, {"json": {"description": "x"}}, 422),
    ("directory bad type", "POST", DIRS, {"json": {"name": "x", "type": "index"}}, 422),
    ("traversal unique_id", "POST", DIRS + "/{dir}/files/upload", {"files": {"upload_file": ("a.txt", b"x")}, "data": {"unique_id": "../../etc/passwd"}}, 422),
    ("absolute unique_id", "POST", DIRS + "/{dir}/files/upload", {"files": {"upload_file": ("a.txt", b"x")}, "data": {"unique_id": "/etc/passwd"}}, 422),
    ("traversal file name", "POST", DIRS + "/{dir}/files/upload", {"files": {"upload_file": ("../../evil.txt", b"x")}}, 422),
    ("control chars", "POST", DIRS + "/{dir}/files/upload", {"files": {"upload_file": ("a.txt", b"x")}, "data": {"unique_id": "a\x00b"}}, 422),
    ("upload without file", "POST", DIRS + "/{dir}/files/upload", {"data": {"unique_id": "x"}}, 422),
    ("upload to another project", "POST", DIRS + "/{foreign}/files/upload", {"files": {"upload_file": ("a.txt", b"x")}}, 404),
    ("add a missing file", "POST", DIRS + "/{dir}/files", {"json": {"file_id": "dfl-missing"}}, 422),
    ("move to another project", "PATCH", DIRS + "/{dir}/files/{file}", {"json": {"target_directory_id": "{foreign}"}}, 422),
    ("metadata not an object", "POST", DIRS + "/{dir}/files/upload", {"files": {"upload_file": ("a.txt", b"x")}, "data": {"metadata": "[1,2]"}}, 422),
    # NUL characters mean nothing in text and PostgreSQL refuses them: 422, not a 500.
    ("NUL in a directory name", "POST", DIRS, {"json": {"name": "a\u0000b"}}, 422),
    ("NUL in a job parameter", "POST", BATCH, {"json": {"job_config": {"parameters": {"page_separator": "\u0000"}}, "directory_id": "{dir}"}}, 422),
    ("NUL in file metadata", "POST", DIRS + "/{dir}/files", {"json": {"file_id": "{file}", "metadata": {"k": "v\u0000"}}}, 422),
    ("NUL in a query", "GET", DIRS + "?name=a%00b", {}, 422),
    ("NUL in a path id", "GET", BATCH + "/bjb-a%00b", {}, 422),
    ("NUL in a display name", "POST", DIRS + "/{dir}/files/upload", {"files": {"upload_file": ("a.txt", b"x")}, "data": {"display_name": "a\x00b"}}, 422),
]  # fmt: skip


def _fill(value: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return (
            value.format(**ctx) if "{" in value and "}" in value and "{not" not in value else value
        )
    if isinstance(value, dict):
        return {k: _fill(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ctx) for v in value]
    return value


@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "expected"), CASES, ids=[c[0] for c in CASES]
)
async def test_malformed_requests_are_refused_and_change_nothing(
    api: Api, ctx: dict[str, Any], name: str, method: str, path: str, kwargs: dict[str, Any],
    expected: int,
) -> None:  # fmt: skip
    before = await _counts(api)
    async with httpx.AsyncClient(
        base_url=api.base_url, headers={"Authorization": f"Bearer {api.key_a}"}
    ) as http:
        response = await http.request(method, _fill(path, ctx), **_fill(kwargs, ctx))
    assert response.status_code == expected, response.text
    assert "Traceback" not in response.text
    if "NUL" in name:
        assert "NUL" in response.text, response.text
    assert response.json()["detail"]
    assert await _counts(api) == before


async def test_oversized_upload_is_refused_and_nothing_is_stored(make_api: ApiFactory) -> None:
    async with make_api(max_upload_bytes=1000) as api:
        directory = await api.client.beta.directories.create(name="limits")
        async with httpx.AsyncClient(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.key_a}"}
        ) as http:
            response = await http.post(
                f"{DIRS}/{directory.id}/files/upload",
                files={"upload_file": ("big.bin", b"x" * 5000)},
            )
        assert response.status_code == 413
        assert "limit" in response.json()["detail"]
        assert await api.stack.store.directories.count_files(directory.id) == 0
        staging = api.stack.settings.blob_dir / ".staging"
        assert not staging.exists() or not any(staging.iterdir())


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DOCBATCH_DATA_DIR": str(data_dir), "TEMPORAL_ADDRESS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "/no/such/folder"], "not a directory"),
        (["run", str(SAMPLES / "fake-text.txt")], "not a directory"),
        (["run", str(SAMPLES), "--page-size", "-5"], "page_size"),
        (["run", str(SAMPLES), "--page-size", "ten"], "valid integer"),
        (["run", str(SAMPLES), "--job-type", "summarise"], "summarise"),
        (["run", str(SAMPLES), "--continue-as-new-threshold", "0"], "continue_as_new_threshold"),
        (["items", "bjb-x", "--status", "lost"], "lost"),
        (["items", "bjb-x", "--limit", "0"], "limit"),
        (["status", "bjb-does-not-exist"], "not found"),
        (["results", "dfl-does-not-exist"], "not found"),
        (["retry", "bjb-does-not-exist"], "not found"),
    ],
)
def test_bad_cli_arguments_get_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    result = _cli(*args, data_dir=tmp_path)
    assert result.returncode != 0
    assert message in (result.stderr + result.stdout)
    assert "Traceback" not in result.stderr


def test_cli_config_file_errors(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{oops")
    not_object = tmp_path / "list.json"
    not_object.write_text(json.dumps([1, 2]))
    for path, message in (
        (bad_json, "not valid JSON"),
        (not_object, "must hold a JSON object"),
        (tmp_path / "missing.json", "cannot read"),
    ):
        result = _cli("run", str(SAMPLES), "--config", str(path), data_dir=tmp_path)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = Settings(data_dir=tmp_path / "data")
    result = _cli("run", str(empty), "--embedded", data_dir=settings.data_dir)
    assert result.returncode == 2, result.stderr
    assert "has no files" in result.stderr
