"""Secrets in job configs never reach workflow history or logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from docbatch.logging import configure_logging
from tests.conftest import StackFactory
from tests.fake_llm import DEFAULT_API_KEY, DEFAULT_MODEL, FakeLLM
from tests.workflows.helpers import run_folder_job, wait_until, write_text_files
from tests.workflows.test_webhooks import SECRET, receiving

HEADER_SECRET = "Bearer hdr-secret-7f3a"
KEY_SECRET = "sk-vendor-secret-91b2"


@pytest.fixture
def deployment_logging() -> Iterator[None]:
    """docbatch's own logging setup at DEBUG, undone after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG", "json")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("deployment_logging")
async def test_no_secret_in_history_or_logs(
    make_stack: StackFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    with FakeLLM() as llm:
        llm.reply_json({"total": 1})
        llm.reply_json({"total": 2})
        async with (
            receiving() as (receiver, url),
            make_stack(
                webhook_allow_private_targets=True,
                webhook_secret=SECRET,
                webhook_initial_retry_seconds=0.2,
                llm_base_url=llm.base_url,
                llm_api_key=DEFAULT_API_KEY,
                llm_model=DEFAULT_MODEL,
            ) as stack,
        ):
            config = {
                "data_schema": {"type": "object", "properties": {"total": {"type": "number"}}},
                "parameters": {
                    "vendor_multimodal_api_key": KEY_SECRET,
                    "webhook_configurations": [
                        {"webhook_url": f"{url}/hook", "webhook_headers": {"X-Auth": HEADER_SECRET}}
                    ],
                },
            }
            status = await run_folder_job(stack, folder, config)

            async def delivered() -> bool:
                return len(receiver.calls) >= 3

            await wait_until(delivered, timeout=30)
            histories = []
            async for execution in stack.client.list_workflows(
                f'TaskQueue = "{stack.settings.task_queue}"'
            ):
                handle = stack.client.get_workflow_handle(execution.id, run_id=execution.run_id)
                histories.append((await handle.fetch_history()).to_json())

    assert status.job.status == "completed"
    assert receiver.calls[0]["headers"]["x-auth"] == HEADER_SECRET  # it did travel, to its target
    assert len(histories) >= 3
    for secret in (HEADER_SECRET, KEY_SECRET, DEFAULT_API_KEY, SECRET):
        assert all(secret not in history for history in histories), secret
        assert secret not in caplog.text, secret
