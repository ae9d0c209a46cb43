"""``starter.py`` as a user runs it: a real process, the embedded stack, real samples."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO_ROOT, SAMPLES, free_port
from tests.test_export import FAILING, NESTED, copy_nested_corpus


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DOCBATCH_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "DOCBATCH_DEV_UI_PORT": str(free_port()),
        "DOCBATCH_ENGINE_PROCESSES": "1",
    }


def _starter(*args: str, data_dir: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "starter.py"), *args],
        cwd=REPO_ROOT,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.slow
def test_run_embedded_processes_the_samples_and_prints_the_final_status(tmp_path: Path) -> None:
    result = _starter("run", str(SAMPLES), "--embedded", "--json", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    job = status["job"]
    assert job["status"] == "completed"
    assert status["progress_percentage"] == 100
    samples = [p for p in SAMPLES.iterdir() if p.is_file() and not p.name.startswith(".")]
    assert job["total_items"] == len(samples)
    assert job["failed_items"] == 1  # the empty workbook
    assert job["processed_items"] == len(samples)
    # The embedded dev server kept its state in a persistent database file.
    assert (tmp_path / "temporal.db").exists()

    items = _starter("items", job["id"], "--status", "failed", "--json", data_dir=tmp_path)
    assert items.returncode == 0, items.stderr
    failed = json.loads(items.stdout)["items"]
    assert [i["item_name"] for i in failed] == ["empty.xlsx"]
    assert "empty document" in failed[0]["error_message"]

    listed = _starter("list", "--json", data_dir=tmp_path)
    assert [j["id"] for j in json.loads(listed.stdout)["items"]] == [job["id"]]


@pytest.mark.slow
def test_human_summary_lists_failed_files(tmp_path: Path) -> None:
    result = _starter("run", str(SAMPLES), "--embedded", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    assert "empty.xlsx" in result.stdout
    assert "empty document" in result.stdout


def test_invalid_config_is_a_cli_error_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"parameters": {"max_pagez": 3}}))

    result = _starter("run", str(SAMPLES), "--config", str(config), data_dir=tmp_path)

    assert result.returncode == 2
    assert "job_config.parameters.max_pagez: unknown field" in result.stderr


def test_page_size_must_be_positive(tmp_path: Path) -> None:
    result = _starter("run", str(SAMPLES), "--page-size", "0", data_dir=tmp_path)

    assert result.returncode == 2
    assert "page_size" in result.stderr


def test_classify_without_rules_is_rejected(tmp_path: Path) -> None:
    result = _starter("run", str(SAMPLES), "--job-type", "classify", data_dir=tmp_path)

    assert result.returncode == 2
    assert "rule" in result.stderr


def test_unknown_job_is_reported(tmp_path: Path) -> None:
    result = _starter("status", "bjb-missing", data_dir=tmp_path)

    assert result.returncode == 1
    assert "job bjb-missing not found" in result.stderr


@pytest.mark.slow
def test_idempotency_key_and_retry_from_the_cli(tmp_path: Path) -> None:
    first = _starter(
        "run", str(SAMPLES), "--embedded", "--json", "--idempotency-key", "k1", data_dir=tmp_path
    )
    again = _starter(
        "run", str(SAMPLES), "--embedded", "--json", "--idempotency-key", "k1", data_dir=tmp_path
    )
    assert first.returncode == 0, first.stderr
    job_id = json.loads(first.stdout)["job"]["id"]
    assert json.loads(again.stdout)["job"]["id"] == job_id

    retry = _starter("retry", job_id, "--embedded", "--json", data_dir=tmp_path)
    status = json.loads(retry.stdout)["job"]
    assert status["retry_of"] == job_id
    assert status["total_items"] == 1  # only empty.xlsx had failed
    assert retry.returncode == 1  # ... and fails again: the job ends failed


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.slow
def test_run_output_writes_the_outputs_and_export_writes_them_again(tmp_path: Path) -> None:
    docs = copy_nested_corpus(tmp_path / "docs")
    out = tmp_path / "out"

    result = _starter("run", str(docs), "--embedded", "--json", "--output", str(out),
                      data_dir=tmp_path / "data")  # fmt: skip

    assert result.returncode == 0, result.stderr
    job_id = json.loads(result.stdout)["job"]["id"]
    assert f"outputs: {out} (5 files, manifest {out}/_docbatch.jsonl)" in result.stderr
    files = _files(out)
    assert sorted(files) == sorted(
        ["_docbatch.jsonl", *(f"{name}.md" for name in NESTED if name != FAILING)]
    )
    manifest = [json.loads(line) for line in files["_docbatch.jsonl"].decode().splitlines()]
    assert {line["name"]: line["status"] for line in manifest} == {
        name: "failed" if name == FAILING else "completed" for name in NESTED
    }
    mtimes = {path: path.stat().st_mtime_ns for path in out.rglob("*")}

    again = _starter("export", job_id, str(out), data_dir=tmp_path / "data")
    elsewhere = _starter("export", job_id, str(tmp_path / "copy"), data_dir=tmp_path / "data")

    assert again.returncode == 0, again.stderr
    assert "0 files written, 5 unchanged, 1 failed" in again.stdout
    assert f"outputs: {out} (5 files, manifest {out}/_docbatch.jsonl)" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*")} == mtimes
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert _files(tmp_path / "copy") == files


def test_export_of_an_unknown_job_is_reported(tmp_path: Path) -> None:
    result = _starter("export", "bjb-missing", str(tmp_path / "out"), data_dir=tmp_path)

    assert result.returncode == 1
    assert "job bjb-missing not found" in result.stderr


def test_output_must_follow_the_job_and_stay_out_of_the_documents(tmp_path: Path) -> None:
    detached = _starter("run", str(SAMPLES), "--no-wait", "--output", str(tmp_path / "out"),
                        data_dir=tmp_path)  # fmt: skip
    inside = _starter("run", str(SAMPLES), "--output", str(SAMPLES / "out"), data_dir=tmp_path)

    assert detached.returncode == 2
    assert "--output needs to follow the job" in detached.stderr
    assert inside.returncode == 2
    assert "is inside" in inside.stderr
    assert not (SAMPLES / "out").exists()


@pytest.mark.slow
def test_detaching_leaves_the_outputs_done_so_far_and_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "starter.py"), "run", str(CORPUS), "--embedded",
         "--output", str(out)],
        cwd=REPO_ROOT,
        env=_env(tmp_path / "data"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not any(out.rglob("*.md")):  # written by the CLI while it follows the job
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no output written while the job ran"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)  # Ctrl-C; not a terminal: detach
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 3, stderr
    assert "detached" in stderr
    manifest = [json.loads(line) for line in (out / "_docbatch.jsonl").read_text().splitlines()]
    done = [line for line in manifest if line["output"]]
    assert f"outputs: {out} ({len(done)} files, manifest" in stderr
    assert done and len(done) < len(manifest)  # what was done, and what was not yet
    assert {line["status"] for line in manifest} - {"completed", "failed"}
    for line in done:
        assert (out / line["output"]).is_file()
