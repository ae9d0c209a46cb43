"""Webhooks against a real local HTTP receiver: events, filters, signatures, redelivery."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from docbatch import webhooks
from docbatch.errors import ConfigError
from tests.api.conftest import serve, serve_on
from tests.conftest import CORPUS, StackFactory, free_port
from tests.workflows.helpers import run_folder_job, start_folder_job, wait_until, write_text_files

SECRET = "test-webhook-secret"


@dataclass
class Receiver:
    """Records what docbatch posted."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            self.calls.append(
                {
                    "path": request.url.path,
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                    "body": await request.body(),
                }
            )
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/{name}", hook, methods=["POST"])])

    def events(self, path: str) -> list[str]:
        return [c["headers"]["x-docbatch-event"] for c in self.calls if c["path"] == path]


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    async with serve(receiver.app()) as base_url:
        yield receiver, base_url


def _verify(call: dict[str, Any]) -> None:
    headers = call["headers"]
    expected = hmac.new(
        SECRET.encode(), headers["x-docbatch-timestamp"].encode() + b"." + call["body"],
        hashlib.sha256,
    ).hexdigest()  # fmt: skip
    assert headers["x-docbatch-signature"] == f"sha256={expected}"
    assert headers["x-docbatch-event-id"].startswith("evt-")


def _settings() -> dict[str, Any]:
    return {
        "webhook_allow_private_targets": True,
        "webhook_secret": SECRET,
        "webhook_initial_retry_seconds": 0.2,
    }


async def test_events_reach_each_endpoint_as_filtered_and_signed(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    async with receiving() as (receiver, url), make_stack(**_settings()) as stack:
        config = {
            "webhook_url": f"{url}/legacy",
            "parameters": {
                "webhook_configurations": [
                    {
                        "webhook_url": f"{url}/filtered",
                        "webhook_events": ["parse.success", "parse.error"],
                        "webhook_headers": {"Authorization": "Bearer receiver-token"},
                        "webhook_output_format": "json",
                    }
                ]
            },
        }
        status = await run_folder_job(stack, folder, config)

        async def all_delivered() -> bool:
            return len(receiver.calls) >= 4

        await wait_until(all_delivered, timeout=30)

    assert receiver.events("/legacy") == ["parse.pending", "parse.running", "parse.success"]
    assert receiver.events("/filtered") == ["parse.success"]
    for call in receiver.calls:
        _verify(call)
    [filtered] = [c for c in receiver.calls if c["path"] == "/filtered"]
    assert filtered["headers"]["authorization"] == "Bearer receiver-token"
    body = json.loads(filtered["body"])
    assert body["event_type"] == "parse.success"
    assert body["job"]["id"] == status.job.id
    assert body["job"]["status"] == "completed"
    legacy = json.loads(json.loads(receiver.calls[0]["body"]))  # "string" format
    assert legacy["event_type"] == "parse.pending"


async def test_a_receiver_that_comes_back_gets_every_event(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 1)
    port = free_port()
    receiver = Receiver()
    async with make_stack(**_settings()) as stack:
        config = {"parameters": {"webhook_url": f"http://127.0.0.1:{port}/hook"}}
        status = await run_folder_job(stack, folder, config)
        assert status.job.status == "completed"
        # The receiver stays down until delivery has failed and been retried.
        delivery = stack.client.get_workflow_handle(
            f"webhook-{webhooks.event_id(status.job.id, 'pending')}"
        )

        async def retried() -> bool:
            pending = (await delivery.describe()).raw_description.pending_activities
            return bool(pending) and pending[0].attempt >= 3

        await wait_until(retried, timeout=60)
        async with serve_on(receiver.app(), port):

            async def every_event() -> bool:
                return len(receiver.calls) >= 3

            await wait_until(every_event, timeout=60)

    assert sorted(receiver.events("/hook")) == ["parse.pending", "parse.running", "parse.success"]
    ids = [c["headers"]["x-docbatch-event-id"] for c in receiver.calls]
    assert len(set(ids)) == 3


async def test_partial_success_and_error_events(make_stack: StackFactory, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    write_text_files(mixed, 1)
    shutil.copy(CORPUS / "fake.doc", mixed / "mail.msg")
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(CORPUS / "fake.doc", broken / "mail.msg")
    async with receiving() as (receiver, url), make_stack(**_settings()) as stack:
        events = ["parse.success", "parse.partial_success", "parse.error"]
        hook = {"webhook_configurations": [{"webhook_url": f"{url}/h", "webhook_events": events}]}
        await run_folder_job(stack, mixed, {"parameters": hook})
        await run_folder_job(stack, broken, {"parameters": hook})

        async def both() -> bool:
            return len(receiver.calls) >= 2

        await wait_until(both, timeout=30)
    assert sorted(receiver.events("/h")) == ["parse.error", "parse.partial_success"]


async def test_webhook_targets_are_checked(make_stack: StackFactory, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 1)
    async with make_stack() as stack:
        for url in (
            "http://127.0.0.1:9/hook",
            "http://10.1.2.3/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "ftp://example.com/hook",
            "file:///etc/passwd",
        ):
            with pytest.raises(ConfigError) as refused:
                await start_folder_job(stack, folder, {"parameters": {"webhook_url": url}})
            assert refused.value.field == "webhook_url"
