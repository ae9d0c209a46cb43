"""Webhook configurations and a v2 batch's ``batch.*`` events through ``llama-cloud``
2.19, delivered to a real local receiver: filtered, with ``LC-Signature`` when a signing
secret is set, and secrets never shown back."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import llama_cloud
import pytest

from tests.api.conftest import ApiFactory
from tests.workflows.helpers import write_text_files
from tests.workflows.test_webhooks import receiving

SIGNING = "receiver-shared-secret"


async def test_saved_and_inline_webhooks_get_batch_events(
    make_api: ApiFactory, tmp_path: Path
) -> None:
    write_text_files(tmp_path / "docs", 2)
    async with receiving() as (receiver, url), make_api(
        webhook_allow_private_targets=True, webhook_initial_retry_seconds=0.2
    ) as api:  # fmt: skip
        client = api.client
        saved = await client.webhook_configs.create(
            webhook_url=f"{url}/saved",
            webhook_events=["batch.success", "batch.error"],
            webhook_headers={"Authorization": "Bearer receiver-token"},
            webhook_output_format="json",
            webhook_signing_secret=SIGNING,
        )
        assert saved.has_secret
        assert saved.tenant_id == "proj-alpha"
        assert saved.webhook_headers == {"Authorization": "[redacted]"}
        fetched = await client.webhook_configs.retrieve(saved.id)
        shown = json.dumps(fetched.model_dump(mode="json"))
        assert SIGNING not in shown
        assert "receiver-token" not in shown
        assert [c.id for c in await client.webhook_configs.list()] == [saved.id]
        page = client.webhook_configs.list_paginated(include_total=True)
        assert [c.id async for c in page] == [saved.id]
        renamed = await client.webhook_configs.update(saved.id, webhook_output_format="json")
        assert renamed.has_secret  # fields not given stay

        directory = await client.beta.directories.create(name="hooks")
        for path in sorted((tmp_path / "docs").iterdir()):
            with path.open("rb") as handle:
                await client.beta.directories.files.upload(directory.id, upload_file=handle)
        batch = await client.batches.create(
            config={"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_FAST"}},
            source_directory_id=directory.id,
            webhook_configuration_ids=[saved.id],
            webhook_configurations=[{"webhook_url": f"{url}/inline"}],
        )
        for _ in range(600):
            done = {c["path"] for c in receiver.calls}
            if len([c for c in receiver.calls if c["path"] == "/inline"]) >= 3 and "/saved" in done:
                break
            await asyncio.sleep(0.05)
        final = await client.batches.get(batch.id)
        assert final.status == "COMPLETED"

        # The saved config can go: the batch copied its endpoints when it was created.
        await client.webhook_configs.delete(saved.id)
        with pytest.raises(llama_cloud.NotFoundError):
            await client.webhook_configs.retrieve(saved.id)

        with pytest.raises(llama_cloud.UnprocessableEntityError) as unknown:
            await client.batches.create(
                config={"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_FAST"}},
                source_directory_id=directory.id,
                webhook_configuration_ids=["whc-missing"],
            )
        assert "webhook_configuration_ids" in json.dumps(unknown.value.body)
        with pytest.raises(llama_cloud.NotFoundError):
            await api.other.webhook_configs.retrieve(saved.id)

    inline = [c for c in receiver.calls if c["path"] == "/inline"]
    assert [c["headers"]["x-docbatch-event"] for c in inline] == [
        "batch.pending", "batch.running", "batch.success",
    ]  # fmt: skip
    assert all("lc-signature" not in c["headers"] for c in inline)
    [delivered] = [c for c in receiver.calls if c["path"] == "/saved"]
    headers = delivered["headers"]
    assert headers["x-docbatch-event"] == "batch.success"
    assert headers["authorization"] == "Bearer receiver-token"
    expected = hmac.new(SIGNING.encode(), delivered["body"], hashlib.sha256).hexdigest()
    assert headers["lc-signature"] == f"sha256={expected}"
    payload = json.loads(delivered["body"])
    assert payload["status"] == "COMPLETED"
    assert payload["batch"]["id"] == batch.id
    assert payload["batch_id"] == batch.id
