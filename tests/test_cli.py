"""``starter.py`` as a user runs it: a real process, the embedded stack, real samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SAMPLES, free_port


def _starter(*args: str, data_dir: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DOCBATCH_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "DOCBATCH_DEV_UI_PORT": str(free_port()),
        "DOCBATCH_ENGINE_PROCESSES": "1",
    }
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "starter.py"), *args],
        cwd=REPO_ROOT,
        env=env,
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
    assert job["failed_items"] == 1  # the legacy .doc
    assert job["processed_items"] == len(samples)
    # The embedded dev server kept its state in a persistent database file.
    assert (tmp_path / "temporal.db").exists()

    items = _starter("items", job["id"], "--status", "failed", "--json", data_dir=tmp_path)
    assert items.returncode == 0, items.stderr
    failed = json.loads(items.stdout)["items"]
    assert [i["item_name"] for i in failed] == ["fake.doc"]
    assert "unsupported format .doc" in failed[0]["error_message"]

    listed = _starter("list", "--json", data_dir=tmp_path)
    assert [j["id"] for j in json.loads(listed.stdout)["items"]] == [job["id"]]


@pytest.mark.slow
def test_human_summary_lists_failed_files(tmp_path: Path) -> None:
    result = _starter("run", str(SAMPLES), "--embedded", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    assert "fake.doc" in result.stdout
    assert "unsupported format .doc" in result.stdout


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
    assert status["total_items"] == 1  # only fake.doc had failed
    assert retry.returncode == 1  # ... and fails again: the job ends failed
