"""Job config validation and the parameters hash."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from docbatch.models import (
    BatchCreateRequest,
    BatchParseJobRecordCreate,
    ClassifyJob,
    ParseParameters,
    format_validation_error,
    load_job_config,
    parameters_hash,
    parse_page_ranges,
    uses_llm,
)
from tests.conftest import SHARED

RULES = [{"type": "invoice", "description": "A bill with line items and a total due."}]


def _error(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        BatchCreateRequest.model_validate(body)
    return format_validation_error(info.value)


def test_every_reference_parse_parameter_is_accepted() -> None:
    # The reference's JSON example names these with wire spellings.
    params = ParseParameters.model_validate(
        {
            "output_tables_as_HTML": True,
            "outputBucket": "bucket",
            "languages": ["en", "de", "ch_sim"],
            "parse_mode": "parse_page_with_llm",
            "replace_failed_page_mode": "error_message",
            "images_to_save": ["screenshot"],
            "priority": "high",
            "target_pages": "0,2-4",
            "page_footer_prefix": "<f>",
            "annotate_links": True,
            "webhook_configurations": [
                {
                    "webhook_url": "https://example.com/hook",
                    "webhook_events": ["parse.success", "parse.error"],
                    "webhook_headers": {"Authorization": "Bearer x"},
                    "webhook_output_format": "json",
                }
            ],
        }
    )
    assert params.output_tables_as_html is True
    assert params.output_bucket == "bucket"
    dumped = params.model_dump(by_alias=True, exclude_none=True)
    assert dumped["output_tables_as_HTML"] is True
    assert dumped["outputBucket"] == "bucket"


def _reference_parse_parameters() -> set[str]:
    text = (SHARED / "reference" / "batch-api-python-sdk.txt").read_text()
    start = text.index("adaptive_long_table: Optional[bool]")
    end = text.index("webhook_configurations: Optional", start)
    return set(re.findall(r"^([a-z_0-9]+): Optional\[", text[start:end], re.M))


def test_model_covers_every_parse_parameter_of_the_reference() -> None:
    names = _reference_parse_parameters()
    assert len(names) >= 120
    accepted = set(ParseParameters.model_fields) | {"webhook_configurations"}
    assert names - accepted == set()
    # Fields only the Java reference lists.
    assert {"annotate_links", "page_footer_prefix", "page_footer_suffix"} <= accepted


def test_unknown_parse_parameter_is_rejected_by_name() -> None:
    message = _error({"job_config": {"parameters": {"page_sepparator": "x"}}, "directory_id": "d"})
    assert message == "job_config.parameters.page_sepparator: unknown field"


def test_wrong_parameter_type_names_the_field() -> None:
    message = _error({"job_config": {"parameters": {"max_pages": "many"}}, "directory_id": "d"})
    assert message.startswith("job_config.parameters.max_pages:")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"job_config": {}}, "item_ids: provide either directory_id or item_ids"),
        (
            {"job_config": {}, "directory_id": "d", "item_ids": ["i"]},
            "item_ids: provide either directory_id or item_ids, not both",
        ),
        ({"job_config": {}, "item_ids": []}, "item_ids: must not be empty"),
        ({"job_config": {}, "directory_id": "d", "page_size": 0}, "page_size:"),
        ({"job_config": {}, "directory_id": "d", "page_size": -3}, "page_size:"),
        (
            {"job_config": {}, "directory_id": "d", "continue_as_new_threshold": 0},
            "continue_as_new_threshold:",
        ),
        ({"job_config": {"rules": []}, "directory_id": "d"}, "job_config.rules:"),
        (
            {"job_config": {"rules": [{"type": "", "description": "long enough text"}]},
             "directory_id": "d"},
            "job_config.rules.0.type:",
        ),
        (
            {"job_config": {"rules": [{"type": "x" * 51, "description": "long enough text"}]},
             "directory_id": "d"},
            "job_config.rules.0.type:",
        ),
        (
            {"job_config": {"rules": [{"type": "memo", "description": "short"}]},
             "directory_id": "d"},
            "job_config.rules.0.description:",
        ),
        (
            {"job_config": {"rules": [{"type": "memo", "description": "d" * 501}]},
             "directory_id": "d"},
            "job_config.rules.0.description:",
        ),
        ({"job_config": {"rules": RULES, "mode": "SLOW"}, "directory_id": "d"}, "job_config.mode:"),
        ({"job_config": {"parameters": {"target_pages": "2-1"}}, "directory_id": "d"},
         "job_config.parameters.target_pages:"),
        ({"job_config": {}, "directory_id": "d", "bogus": 1}, "bogus: unknown field"),
    ],
)  # fmt: skip
def test_invalid_create_requests_name_the_field(body: dict[str, Any], expected: str) -> None:
    assert expected in _error(body)


def test_classify_config_is_recognised_by_its_rules() -> None:
    request = BatchCreateRequest.model_validate(
        {"job_config": {"rules": RULES, "mode": "FAST"}, "directory_id": "d"}
    )
    assert isinstance(request.job_config, ClassifyJob)


def test_target_pages_ranges() -> None:
    assert parse_page_ranges("0,2-4, 7") == [0, 2, 3, 4, 7]
    with pytest.raises(ValueError, match="invalid page range"):
        parse_page_ranges("a-b")


def _parse(parameters: dict[str, Any]) -> BatchParseJobRecordCreate:
    return BatchParseJobRecordCreate.model_validate({"parameters": parameters})


def test_parameters_hash_is_stable_and_ignores_non_output_fields() -> None:
    base = parameters_hash(_parse({"page_separator": "---", "max_pages": 3}))
    assert base == parameters_hash(_parse({"max_pages": 3, "page_separator": "---"}))
    assert base == parameters_hash(
        _parse(
            {
                "page_separator": "---",
                "max_pages": 3,
                "webhook_url": "https://example.com",
                "priority": "high",
                "project_id": "p",
                "invalidate_cache": True,
                "gpt4o_api_key": "secret",
                "job_timeout_in_seconds": 30,
            }
        )
    )
    assert base != parameters_hash(_parse({"page_separator": "===", "max_pages": 3}))
    assert base != parameters_hash(_parse({"page_separator": "---"}))
    # Outside the parameters: ids and webhooks do not change the output either.
    with_ids = BatchParseJobRecordCreate.model_validate(
        {
            "parameters": {"page_separator": "---", "max_pages": 3},
            "user_id": "u",
            "webhook_url": "w",
        }
    )
    assert parameters_hash(with_ids) == base
    # A known value: the hash must not drift between releases by accident.
    assert parameters_hash(_parse({})) == parameters_hash(BatchParseJobRecordCreate())


def test_classify_hash_depends_on_rules_not_ids() -> None:
    one = ClassifyJob.model_validate({"rules": RULES, "id": "a", "user_id": "u"})
    two = ClassifyJob.model_validate({"rules": RULES, "id": "b"})
    other = ClassifyJob.model_validate(
        {"rules": [{"type": "receipt", "description": "A proof of a payment made."}]}
    )
    assert parameters_hash(one) == parameters_hash(two)
    assert parameters_hash(one) != parameters_hash(other)
    assert parameters_hash(one) != parameters_hash(_parse({}))


@pytest.mark.parametrize(
    ("config", "needs_llm"),
    [
        ({}, False),
        ({"parameters": {"fast_mode": True}}, False),
        ({"rules": RULES}, False),
        ({"rules": RULES, "mode": "FAST"}, False),
        ({"rules": RULES, "mode": "MULTIMODAL"}, True),
        ({"data_schema": {"type": "object", "properties": {"a": {"type": "string"}}}}, True),
        (
            {"parameters": {"structured_output": True,
                            "structured_output_json_schema": '{"type": "object"}'}},
            True,
        ),
    ],
)  # fmt: skip
def test_which_jobs_need_the_llm_endpoint(config: dict[str, Any], needs_llm: bool) -> None:
    assert uses_llm(load_job_config(config)) is needs_llm
