"""docbatch's processes as users run them: worker.py, ``make up`` and Ctrl-C in ``run``."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from docbatch import service
from docbatch.models import BatchCreateRequest, JobStatus
from docbatch.settings import Settings
from docbatch.store import Store
from tests.conftest import REPO_ROOT, free_port
from tests.workflows.helpers import wait_until, write_text_files

PROCESS_TIMEOUT = 60


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DOCBATCH_DATA_DIR": str(data_dir),
        "DOCBATCH_ENGINE_PROCESSES": "1",
        "DOCBATCH_LOG_FORMAT": "json",
        **extra,
    }


async def _wait_exit(process: subprocess.Popen[bytes], timeout: float = PROCESS_TIMEOUT) -> int:
    return await asyncio.to_thread(process.wait, timeout)


async def test_worker_process_runs_jobs_and_stops_gracefully_on_sigterm(
    temporal_env: WorkflowEnvironment, tmp_path: Path, database_url: str | None
) -> None:
    task_queue = f"proc-{uuid.uuid4()}"
    address = temporal_env.client.service_client.config.target_host
    store_env = {"DOCBATCH_DATABASE_URL": database_url} if database_url else {}
    env = _env(tmp_path, TEMPORAL_ADDRESS=address, DOCBATCH_TASK_QUEUE=task_queue, **store_env)
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    settings = Settings(
        data_dir=tmp_path,
        task_queue=task_queue,
        temporal_address=address,
        database_url=database_url,
    )
    store = await Store.open(settings.effective_database_url)
    try:
        folder = tmp_path / "docs"
        write_text_files(folder, 5)
        registered = await service.register_local_folder(
            store, folder, project_id=settings.project_id
        )
        request = BatchCreateRequest.model_validate(
            {"job_config": {}, "directory_id": registered.directory.id}
        )
        job = await service.create_job(
            store, temporal_env.client, settings, request, project_id=settings.project_id
        )
        handle = temporal_env.client.get_workflow_handle(job.workflow_id)
        await asyncio.wait_for(handle.result(), PROCESS_TIMEOUT)
        assert (await store.jobs.get_job(job.id)).completed_items == 5
    finally:
        process.send_signal(signal.SIGTERM)
        code = await _wait_exit(process)
        log.close()
        await store.close()
    output = (tmp_path / "worker.log").read_text()
    assert code == 0, output
    assert "worker stopped" in output


@pytest.mark.slow
async def test_make_up_stack_serves_the_starter_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, ui_port, api_port = free_port(), free_port(), free_port()
    env = _env(
        tmp_path,
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        DOCBATCH_DEV_UI_PORT=str(ui_port),
        DOCBATCH_API_PORT=str(api_port),
        DOCBATCH_API_KEY="dev-key-for-tests",
    )
    log = (tmp_path / "dev.log").open("wb")
    dev = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "dev"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    try:
        folder = tmp_path / "docs"
        write_text_files(folder, 4)
        # The stack starts its API once the dev server and the worker are up.
        await _wait_healthy(f"http://127.0.0.1:{api_port}")
        run = await asyncio.create_subprocess_exec(
            sys.executable, "starter.py", "run", str(folder), "--json",
            cwd=REPO_ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(run.communicate(), PROCESS_TIMEOUT)
        assert run.returncode == 0, stderr.decode()
        assert b'"status": "completed"' in stdout
        # The API runs beside the worker, with the development key.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
            health = await http.get("/health")
            assert health.status_code == 200, health.text
            jobs = await http.get(
                "/api/v1/beta/batch-processing",
                headers={"Authorization": "Bearer dev-key-for-tests"},
            )
            assert jobs.status_code == 200
            assert jobs.json()["total_size"] == 1
    finally:
        dev.send_signal(signal.SIGINT)
        code = await _wait_exit(dev)
        log.close()
    assert code == 0, (tmp_path / "dev.log").read_text()
    assert (tmp_path / "temporal.db").exists()
    # Everything stopped: the Temporal port is free again.
    reader = asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(reader, 2)


async def _wait_healthy(base_url: str) -> None:
    """Wait until the API at ``base_url`` answers ``/health`` with 200."""
    async with httpx.AsyncClient(base_url=base_url) as http:

        async def healthy() -> bool:
            try:
                return (await http.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(healthy, timeout=PROCESS_TIMEOUT)


def _read_until(fd: int, marker: bytes, timeout: float = PROCESS_TIMEOUT) -> bytes:
    """Read a process's output until ``marker`` shows (a prompt, say); what was read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} after {timeout} s: {seen[-2000:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"the process closed its output before {marker!r}: {seen[-2000:]!r}"
            seen += chunk
    return seen


async def _start_interruptible_run(
    tmp_path: Path, *, stdin: int
) -> tuple[subprocess.Popen[bytes], Settings, Store]:
    folder = tmp_path / "docs"
    write_text_files(folder, 400)
    env = _env(
        tmp_path,
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        DOCBATCH_DEV_UI_PORT=str(free_port()),
        DOCBATCH_MAX_CONCURRENT_CHILDREN="2",
    )
    process = subprocess.Popen(
        [sys.executable, "starter.py", "run", str(folder), "--embedded"],
        cwd=REPO_ROOT,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    settings = Settings(data_dir=tmp_path)
    store = await Store.open(settings.effective_database_url)

    async def some_done() -> bool:
        jobs, _ = await store.jobs.list_jobs()
        return bool(jobs) and jobs[0].completed_items + jobs[0].failed_items >= 3

    await wait_until(some_done, timeout=PROCESS_TIMEOUT)
    process.send_signal(signal.SIGINT)
    return process, settings, store


@pytest.mark.slow
async def test_ctrl_c_without_a_terminal_detaches_and_the_job_goes_on(tmp_path: Path) -> None:
    process, _, store = await _start_interruptible_run(tmp_path, stdin=subprocess.DEVNULL)
    try:
        _, stderr = await asyncio.to_thread(process.communicate, timeout=PROCESS_TIMEOUT)
        jobs, _ = await store.jobs.list_jobs()
    finally:
        await store.close()
    assert process.returncode == 3, stderr.decode()
    assert b"detached" in stderr
    assert jobs[0].status in (JobStatus.RUNNING.value, JobStatus.DISPATCHED.value)


@pytest.mark.slow
async def test_ctrl_c_and_yes_cancels_the_job(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    process, _, store = await _start_interruptible_run(tmp_path, stdin=terminal)
    try:
        assert process.stdout is not None
        await asyncio.to_thread(_read_until, process.stdout.fileno(), b"Cancel job")
        os.write(controller, b"y\n")
        _, stderr = await asyncio.to_thread(process.communicate, timeout=PROCESS_TIMEOUT)
        jobs, _ = await store.jobs.list_jobs()
    finally:
        os.close(controller)
        os.close(terminal)
        await store.close()
    assert process.returncode == 1, stderr.decode()
    assert jobs[0].status == JobStatus.CANCELLED.value
    assert jobs[0].cancelled_items > 0


async def test_api_alone_starts_with_python_m_docbatch_api(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(
        tmp_path,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        DOCBATCH_API_PORT=str(port),
        DOCBATCH_API_KEY="standalone-key",
    )
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "docbatch.api"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_healthy(f"http://127.0.0.1:{port}")
            listed = await http.get(
                "/api/v1/beta/directories", headers={"Authorization": "Bearer standalone-key"}
            )
            assert listed.status_code == 200
            assert listed.json()["items"] == []
    finally:
        process.send_signal(signal.SIGTERM)
        code = await _wait_exit(process)
        log.close()
    output = (tmp_path / "api.log").read_text()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
