"""One-file product jobs through ``llama-cloud`` 2.19, unmodified: ``parsing.parse`` /
``parsing.create`` of an upload or a file id, ``extract.create`` and ``classify.create``,
deleting jobs, ``parsing.list_versions``, their events, and every bad body answered 422
naming its field. The LLM behind extract is the local fake (``tests/fake_llm.py``),
standing in for a paid service."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cloud
import pytest
from llama_cloud.types import ParsingGetResponse

from tests.api.conftest import Api, ApiFactory
from tests.fake_llm import DEFAULT_API_KEY, DEFAULT_MODEL, FakeLLM
from tests.workflows.test_webhooks import receiving

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "documents"
MEMO = CORPUS / "fake-memo.pdf"
SCHEMA = {
    "type": "object",
    "properties": {"invoice_number": {"type": "string"}, "total": {"type": "number"}},
    "required": ["invoice_number", "total"],
}
RULES = [
    {"type": "invoice", "description": "A bill requesting payment with line items, totals, "
     "an invoice number and a due date"},
    {"type": "resume", "description": "A CV listing a person's work experience, education "
     "and skills"},
]  # fmt: skip
INVOICE = "INVOICE No. 2024-117\nBill to: ACME Corp\nSubtotal $1,350  Total due $1,485\n"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


async def _directory_file(api: Api, path: Path) -> str:
    directory = await api.client.beta.directories.create(name=f"for {path.name}")
    with path.open("rb") as handle:
        added = await api.client.beta.directories.files.upload(directory.id, upload_file=handle)
    return added.id


async def _ended(get: Any, job_id: str) -> Any:
    for _ in range(1200):
        job = await get(job_id)
        status = job.job.status if isinstance(job, ParsingGetResponse) else job.status
        if status in {"COMPLETED", "FAILED", "CANCELLED"}:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} did not end")


def _field_of(error: llama_cloud.APIStatusError) -> str:
    return json.dumps(error.body)


async def test_parse_an_upload_and_a_file_id(api: Api, tmp_path: Path) -> None:
    client = api.client
    with MEMO.open("rb") as handle:
        parsed = await client.parsing.parse(
            tier="agentic", version="latest", upload_file=handle, expand=["markdown", "text"],
            polling_interval=0.1, max_interval=0.2, timeout=120,
        )  # fmt: skip
    assert parsed.job.status == "COMPLETED"
    assert parsed.job.id.startswith("pjb-")
    assert parsed.job.name == "fake-memo.pdf"
    assert parsed.markdown is not None and parsed.markdown.pages
    assert "20,000 bottles of water" in (parsed.markdown_full or "")
    assert "20,000 bottles of water" in (parsed.text_full or "")
    # The upload is kept in the project's ephemeral uploads directory, not listed as a batch.
    uploads = [d async for d in client.beta.directories.list(type="ephemeral")]
    assert [d.name for d in uploads] == ["parse uploads"]
    assert [b async for b in client.batches.list()] == []

    # A directory file by id, with a saved configuration supplying tier and version.
    text = tmp_path / "note.txt"
    text.write_text("Quarterly note\n\nRevenue grew in every region.\n")
    file_id = await _directory_file(api, text)
    configuration = await client.configurations.create(
        name="fast text", parameters={"product_type": "parse_v2", "tier": "fast",
                                      "version": "latest"},
    )  # fmt: skip
    created = await client.parsing.create(
        tier="configured", version="configured", file_id=file_id,
        configuration_id=configuration.id, user_metadata={"team": "finance"},
    )  # fmt: skip
    assert created.status in {"PENDING", "RUNNING", "COMPLETED"}
    assert created.tier == "fast"
    assert created.user_metadata == {"team": "finance"}
    done = await _ended(client.parsing.get, created.id)
    assert done.job.status == "COMPLETED"
    result = await client.parsing.get(created.id, expand=["markdown", "job_metadata"])
    assert "Revenue grew in every region." in (result.markdown_full or "")
    listed = {j.id async for j in client.parsing.list()}
    assert {created.id, parsed.job.id} <= listed

    versions = await client.parsing.list_versions()
    assert versions.latest.fast == "2026-06-15"
    assert versions.latest.agentic in versions.agentic

    # Another project sees none of it; then the job goes, results and all.
    with pytest.raises(llama_cloud.NotFoundError):
        await api.other.parsing.get(created.id)
    with pytest.raises(llama_cloud.NotFoundError):
        await api.other.parsing.delete(created.id)
    deleted = await client.parsing.delete(created.id)
    assert (deleted.id, deleted.project_id) == (created.id, "proj-alpha")
    with pytest.raises(llama_cloud.NotFoundError):
        await client.parsing.get(created.id)
    with pytest.raises(llama_cloud.NotFoundError):
        await client.parsing.delete(created.id)
    assert created.id not in {j.id async for j in client.parsing.list()}


async def test_one_file_of_a_batch_is_not_deleted_alone(api: Api, tmp_path: Path) -> None:
    client = api.client
    (tmp_path / "a.txt").write_text("alpha\n")
    directory = await client.beta.directories.create(name="pair")
    with (tmp_path / "a.txt").open("rb") as handle:
        await client.beta.directories.files.upload(directory.id, upload_file=handle)
    batch = await client.batches.create(
        config={"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_FAST"}},
        source_directory_id=directory.id,
    )
    for _ in range(600):
        shown = await client.batches.get(batch.id, expand=["results"])
        if shown.status == "COMPLETED":
            break
        await asyncio.sleep(0.1)
    assert shown.results and shown.results[0].job_reference
    member = shown.results[0].job_reference.id
    with pytest.raises(llama_cloud.ConflictError) as refused:
        await client.parsing.delete(member)
    assert batch.id in str(refused.value.body)
    assert (await client.parsing.get(member)).job.status == "COMPLETED"


async def test_invalid_single_job_bodies_name_their_field(api: Api, tmp_path: Path) -> None:
    client = api.client
    file_id = await _directory_file(api, MEMO)
    cases: list[tuple[Any, str]] = [
        (client.parsing.create(tier="fast", version="latest"), "file_id"),
        (client.parsing.create(tier="fast", version="latest", source_url="http://x/a.pdf"),
         "source_url"),
        (client.parsing.create(tier="configured", version="latest", file_id=file_id), "tier"),
        (client.parsing.create(tier="fastest", version="latest", file_id=file_id), "tier"),
        (client.parsing.create(tier="fast", version="latest", file_id="dfl-missing"),
         "file_id"),
        (client.parsing.create(tier="fast", version="latest", file_id=file_id,
                               configuration_id="cfg-missing"), "configuration_id"),
        (client.parsing.create(tier="fast", version="latest", file_id=file_id,
                               page_ranges={"target_pages": "0-2"}), "page_ranges"),
        (client.parsing.create(tier="fast", version="latest", file_id=file_id,
                               user_metadata={"k": "v" * 2000}), "user_metadata"),
        (client.parsing.create(tier="fast", version="latest", file_id=file_id,
                               extra_body={"colour": "blue"}), "colour"),
        (client.extract.create(file_input=file_id), "configuration"),
        (client.extract.create(file_input=file_id, configuration={"data_schema": "nope"}),
         "configuration.data_schema"),
        (client.extract.create(file_input="pjb-00000000-0000-0000-0000-000000000000",
                               configuration={"data_schema": SCHEMA}), "file_input"),
        (client.classify.create(configuration={"rules": RULES}), "file_input"),
        (client.classify.create(file_input=file_id, configuration={"rules": []}),
         "configuration.rules"),
        (client.classify.create(file_input=file_id, configuration_id="cfg-PARSE_FAST"),
         "configuration_id"),
    ]  # fmt: skip
    for request, field in cases:
        with pytest.raises(llama_cloud.UnprocessableEntityError) as refused:
            await request
        assert field in _field_of(refused.value), (field, refused.value.body)
    with MEMO.open("rb") as handle, pytest.raises(llama_cloud.UnprocessableEntityError) as refused:
        await client.parsing.create(
            tier="fast", version="latest", upload_file=handle,
            processing_options={"ocr_parameters": {"languages": ["klingon"]}},
        )  # fmt: skip
    assert "configuration.processing_options" in _field_of(refused.value)
    # Checks past the form's shape (the source, the endpoints) also come before the upload.
    for options, field in [
        ({"source_url": "http://example.com/a.pdf"}, "source_url"),
        ({"webhook_configurations": [{"webhook_url": "ftp://example.com/hook"}]}, "webhook_url"),
    ]:
        with (
            MEMO.open("rb") as handle,
            pytest.raises(llama_cloud.UnprocessableEntityError) as refused,
        ):
            await client.parsing.create(
                tier="fast", version="latest", upload_file=handle, **options
            )
        assert field in _field_of(refused.value), refused.value.body
    # Nothing was kept or started by a refused request.
    assert [j async for j in client.parsing.list()] == []
    assert [d async for d in client.beta.directories.list(type="ephemeral")] == []


async def test_extract_and_classify_one_file(
    make_api: ApiFactory, llm: FakeLLM, tmp_path: Path
) -> None:
    llm.reply_json({"invoice_number": "2024-117", "total": 1485})
    async with make_api(
        llm_base_url=llm.base_url, llm_api_key=DEFAULT_API_KEY, llm_model=DEFAULT_MODEL
    ) as api:
        client = api.client
        invoice = tmp_path / "invoice.txt"
        invoice.write_text(INVOICE)
        file_id = await _directory_file(api, invoice)

        extract = await client.extract.create(
            file_input=file_id, configuration={"data_schema": SCHEMA, "cite_sources": True}
        )
        assert extract.id.startswith("ejb-")
        done = await _ended(client.extract.get, extract.id)
        assert done.status == "COMPLETED"
        assert done.extract_result == {"invoice_number": "2024-117", "total": 1485}
        assert done.file_input == file_id
        assert done.configuration_id is None

        # A parse job's file can be classified by the parse job's id.
        parse = await client.parsing.create(tier="fast", version="latest", file_id=file_id)
        await _ended(client.parsing.get, parse.id)
        first = await client.classify.create(
            file_input=parse.id, configuration={"rules": RULES}, transaction_id="tx-1"
        )
        again = await client.classify.create(
            file_input=file_id, configuration={"rules": RULES[:1] * 2}, transaction_id="tx-1"
        )
        assert again.id == first.id  # the same transaction: the first job, body ignored
        classified = await _ended(client.classify.get, first.id)
        assert classified.status == "COMPLETED"
        assert classified.result is not None and classified.result.type == "invoice"
        assert classified.file_input == file_id
        by_old_name = await client.classify.create(
            parse_job_id=parse.id, configuration={"rules": RULES}
        )
        assert by_old_name.id != first.id

        assert [j.id async for j in client.classify.list()] == [by_old_name.id, first.id]
        await _ended(client.classify.get, by_old_name.id)
        assert (await client.classify.delete(first.id)).id == first.id
        assert await client.extract.delete(extract.id) == {
            "id": extract.id,
            "project_id": "proj-alpha",
        }
        with pytest.raises(llama_cloud.NotFoundError):
            await client.extract.get(extract.id)
        assert [j.id async for j in client.classify.list()] == [by_old_name.id]
        # The parse job keeps its own result although classify read the same file.
        kept = await client.parsing.get(parse.id, expand=["text"])
        assert "ACME" in (kept.text_full or "")


async def test_a_parse_job_sends_parse_events(make_api: ApiFactory, tmp_path: Path) -> None:
    secret = "single-job-secret"
    note = tmp_path / "note.txt"
    note.write_text("hello events\n")
    async with receiving() as (receiver, url), make_api(
        webhook_allow_private_targets=True, webhook_initial_retry_seconds=0.2
    ) as api:  # fmt: skip
        file_id = await _directory_file(api, note)
        job = await api.client.parsing.create(
            tier="fast", version="latest", file_id=file_id,
            webhook_configurations=[{"webhook_url": f"{url}/hook",
                                     "webhook_signing_secret": secret,
                                     "webhook_output_format": "json",
                                     "webhook_events": ["parse.running", "parse.success"]}],
        )  # fmt: skip
        await _ended(api.client.parsing.get, job.id)
        for _ in range(600):
            if len(receiver.calls) >= 2:
                break
            await asyncio.sleep(0.05)
    assert [c["headers"]["x-docbatch-event"] for c in receiver.calls] == [
        "parse.running", "parse.success",
    ]  # fmt: skip
    last = receiver.calls[-1]
    digest = hmac.new(secret.encode(), last["body"], hashlib.sha256).hexdigest()
    assert last["headers"]["lc-signature"] == f"sha256={digest}"
    payload = json.loads(last["body"])
    assert payload["event_type"] == "parse.success"
    assert payload["job_id"] == job.id
    assert payload["status"] == "COMPLETED"
    assert payload["job"]["name"] == "note.txt"
    assert secret not in last["body"].decode()
