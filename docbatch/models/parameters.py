"""The parse parameters: the reference's generic parse configuration and its checks."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from docbatch.models.base import _Request
from docbatch.models.enums import (
    FailPageMode,
    ImageToSave,
    ParsingLanguage,
    ParsingMode,
    Priority,
    WebhookEvent,
)


class WebhookConfiguration(_Request):
    """An outbound webhook endpoint notified on job status changes."""

    webhook_url: str | None = None
    webhook_events: list[WebhookEvent] | None = None
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["string", "json"] | None = None
    webhook_signing_secret: str | None = None


class ParseParameters(_Request):
    """Generic parse configuration applied to every file of a batch (reference names)."""

    adaptive_long_table: bool | None = None
    aggressive_table_extraction: bool | None = None
    annotate_links: bool | None = None
    auto_mode: bool | None = None
    auto_mode_configuration_json: str | None = None
    auto_mode_trigger_on_image_in_page: bool | None = None
    auto_mode_trigger_on_regexp_in_page: str | None = None
    auto_mode_trigger_on_table_in_page: bool | None = None
    auto_mode_trigger_on_text_in_page: str | None = None
    azure_openai_api_version: str | None = None
    azure_openai_deployment_name: str | None = None
    azure_openai_endpoint: str | None = None
    azure_openai_key: str | None = None
    bbox_bottom: float | None = None
    bbox_left: float | None = None
    bbox_right: float | None = None
    bbox_top: float | None = None
    bounding_box: str | None = None
    compact_markdown_table: bool | None = None
    complemental_formatting_instruction: str | None = None
    content_guideline_instruction: str | None = None
    continuous_mode: bool | None = None
    custom_metadata: dict[str, Any] | None = None
    disable_image_extraction: bool | None = None
    disable_ocr: bool | None = None
    disable_reconstruction: bool | None = None
    do_not_cache: bool | None = None
    do_not_unroll_columns: bool | None = None
    enable_cost_optimizer: bool | None = None
    extract_charts: bool | None = None
    extract_layout: bool | None = None
    extract_printed_page_number: bool | None = None
    fast_mode: bool | None = None
    formatting_instruction: str | None = None
    gpt4o_api_key: str | None = None
    gpt4o_mode: bool | None = None
    guess_xlsx_sheet_name: bool | None = None
    hide_footers: bool | None = None
    hide_headers: bool | None = None
    high_res_ocr: bool | None = None
    html_make_all_elements_visible: bool | None = None
    html_remove_fixed_elements: bool | None = None
    html_remove_navigation_elements: bool | None = None
    http_proxy: str | None = None
    ignore_document_elements_for_layout_detection: bool | None = None
    images_to_save: list[ImageToSave] | None = None
    inline_images_in_markdown: bool | None = None
    input_s3_path: str | None = None
    input_s3_region: str | None = None
    input_url: str | None = None
    internal_is_screenshot_job: bool | None = None
    invalidate_cache: bool | None = None
    is_formatting_instruction: bool | None = None
    job_timeout_extra_time_per_page_in_seconds: float | None = None
    job_timeout_in_seconds: float | None = None
    keep_page_separator_when_merging_tables: bool | None = None
    lang: str | None = None
    languages: list[ParsingLanguage] | None = None
    layout_aware: bool | None = None
    line_level_bounding_box: bool | None = None
    markdown_table_multiline_header_separator: str | None = None
    max_pages: int | None = None
    max_pages_enforced: int | None = None
    merge_tables_across_pages_in_markdown: bool | None = None
    model: str | None = None
    outlined_table_extraction: bool | None = None
    output_bucket: str | None = Field(
        default=None,
        validation_alias=AliasChoices("outputBucket", "output_bucket"),
        serialization_alias="outputBucket",
    )
    output_pdf_of_document: bool | None = None
    output_s3_path_prefix: str | None = None
    output_s3_region: str | None = None
    output_tables_as_html: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("output_tables_as_HTML", "output_tables_as_html"),
        serialization_alias="output_tables_as_HTML",
    )
    page_error_tolerance: float | None = None
    page_footer_prefix: str | None = None
    page_footer_suffix: str | None = None
    page_header_prefix: str | None = None
    page_header_suffix: str | None = None
    page_prefix: str | None = None
    page_separator: str | None = None
    page_suffix: str | None = None
    parse_mode: ParsingMode | None = None
    parsing_instruction: str | None = None
    pipeline_id: str | None = None
    precise_bounding_box: bool | None = None
    premium_mode: bool | None = None
    presentation_out_of_bounds_content: bool | None = None
    presentation_skip_embedded_data: bool | None = None
    preserve_layout_alignment_across_pages: bool | None = None
    preserve_very_small_text: bool | None = None
    preset: str | None = None
    priority: Priority | None = None
    project_id: str | None = None
    remove_hidden_text: bool | None = None
    replace_failed_page_mode: FailPageMode | None = None
    replace_failed_page_with_error_message_prefix: str | None = None
    replace_failed_page_with_error_message_suffix: str | None = None
    resource_info: dict[str, Any] | None = None
    save_images: bool | None = None
    skip_diagonal_text: bool | None = None
    specialized_chart_parsing_agentic: bool | None = None
    specialized_chart_parsing_efficient: bool | None = None
    specialized_chart_parsing_plus: bool | None = None
    specialized_image_parsing: bool | None = None
    spreadsheet_extract_sub_tables: bool | None = None
    spreadsheet_force_formula_computation: bool | None = None
    spreadsheet_include_hidden_sheets: bool | None = None
    strict_mode_buggy_font: bool | None = None
    strict_mode_image_extraction: bool | None = None
    strict_mode_image_ocr: bool | None = None
    strict_mode_reconstruction: bool | None = None
    structured_output: bool | None = None
    structured_output_json_schema: str | None = None
    structured_output_json_schema_name: str | None = None
    system_prompt: str | None = None
    system_prompt_append: str | None = None
    take_screenshot: bool | None = None
    target_pages: str | None = None
    tier: str | None = None
    type: Literal["parse"] | None = None
    use_vendor_multimodal_model: bool | None = None
    user_prompt: str | None = None
    vendor_multimodal_api_key: str | None = None
    vendor_multimodal_model_name: str | None = None
    version: str | None = None
    webhook_configurations: list[WebhookConfiguration] | None = None
    webhook_url: str | None = None

    @field_validator("target_pages")
    @classmethod
    def _check_target_pages(cls, value: str | None) -> str | None:
        if value is not None:
            parse_page_ranges(value)
        return value

    @field_validator("structured_output_json_schema")
    @classmethod
    def _check_structured_schema(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                schema = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("must be a JSON Schema as a JSON string") from None
            check_json_schema(schema)
        return value

    @field_validator("max_pages", "max_pages_enforced")
    @classmethod
    def _check_non_negative_int(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must be >= 0")
        return value

    @field_validator("job_timeout_in_seconds", "job_timeout_extra_time_per_page_in_seconds")
    @classmethod
    def _check_non_negative_float(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError("must be >= 0")
        return value

    @field_validator("page_error_tolerance")
    @classmethod
    def _check_tolerance(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1:
            raise ValueError("must be between 0 and 1")
        return value


def parse_page_ranges(spec: str) -> list[int]:
    """Turn the reference's ``target_pages`` string ("0,2-4", 0-indexed) into page numbers."""
    pages: list[int] = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        start, sep, end = part.partition("-")
        try:
            first = int(start)
            last = int(end) if sep else first
        except ValueError:
            raise ValueError(
                f"invalid page range {part!r}: use 0-indexed numbers like '0,2-4'"
            ) from None
        if first < 0 or last < first:
            raise ValueError(f"invalid page range {part!r}: use 0-indexed numbers like '0,2-4'")
        pages.extend(range(first, last + 1))
    if not pages:
        raise ValueError("target_pages names no page: use 0-indexed numbers like '0,2-4'")
    return sorted(set(pages))


def check_json_schema(schema: Any) -> None:
    """Raise ``ValueError`` unless ``schema`` is a valid JSON Schema object."""
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict):
        raise ValueError("must be a JSON Schema object")
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
