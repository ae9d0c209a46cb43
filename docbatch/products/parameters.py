"""The v2 API's product configurations: parameters, field for field as the reference.

``llama-cloud`` 2.14 and later build batches from saved *product configurations*
(``parse_v2``, ``extract_v2``, ``classify_v2``, …) instead of inline job configs. They
are validated here with the reference's field names; ``docbatch.products.jobs`` maps
them onto the job configs docbatch's core runs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, field_validator

from docbatch.models import JobType, ParsingLanguage, check_json_schema


class ProductType(StrEnum):
    """The product a configuration (and a v2 job) is for."""

    PARSE = "parse_v2"
    EXTRACT = "extract_v2"
    CLASSIFY = "classify_v2"
    SPLIT = "split_v1"
    SPREADSHEET = "spreadsheet_v1"
    UNKNOWN = "unknown"


RUNNABLE_PRODUCTS = {
    ProductType.PARSE: JobType.PARSE,
    ProductType.EXTRACT: JobType.EXTRACT,
    ProductType.CLASSIFY: JobType.CLASSIFY,
}
PRODUCT_OF_JOB_TYPE = {job_type: product for product, job_type in RUNNABLE_PRODUCTS.items()}

# The product job ids each file's ``job_reference`` carries, by product.
PRODUCT_JOB_PREFIX = {
    ProductType.PARSE: "pjb",
    ProductType.EXTRACT: "ejb",
    ProductType.CLASSIFY: "cjb",
}

Tier = Literal["fast", "cost_effective", "agentic", "agentic_plus"]


def one_based_ranges(spec: str) -> list[tuple[int, int]]:
    """The ranges of a v2 ``target_pages`` string ("1,3,5-8", 1-based), not expanded."""
    ranges: list[tuple[int, int]] = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        start, sep, end = part.partition("-")
        try:
            first = int(start)
            last = int(end) if sep else first
        except ValueError:
            first, last = 0, -1
        if first < 1 or last < first or last > 1_000_000:
            raise ValueError(f"invalid page range {part!r}: use 1-based numbers like '1,3,5-8'")
        ranges.append((first, last))
    if not ranges:
        raise ValueError("target_pages names no page: use 1-based numbers like '1,3,5-8'")
    return ranges


def _check_pages(value: str | None) -> str | None:
    if value is not None:
        one_based_ranges(value)
    return value


def zero_based(spec: str) -> str:
    """A v2 (1-based) page selection in the beta parameters' 0-based form."""
    return ",".join(
        f"{first - 1}" if first == last else f"{first - 1}-{last - 1}"
        for first, last in one_based_ranges(spec)
    )


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=100_000)


# ------------------------------------------------------------------ parse v2


class AgenticOptions(_Params):
    custom_prompt: str | None = None


class CropBox(_Params):
    top: float | None = Field(default=None, ge=0, le=1)
    bottom: float | None = Field(default=None, ge=0, le=1)
    left: float | None = Field(default=None, ge=0, le=1)
    right: float | None = Field(default=None, ge=0, le=1)


class HtmlOptions(_Params):
    make_all_elements_visible: bool | None = None
    remove_fixed_elements: bool | None = None
    remove_navigation_elements: bool | None = None


class ImageOptions(_Params):
    camera_photo_correction: bool | None = None


class PresentationOptions(_Params):
    include_hidden_slides: bool | None = None
    out_of_bounds_content: bool | None = None
    skip_embedded_data: bool | None = None


class SpreadsheetOptions(_Params):
    detect_sub_tables_in_sheets: bool | None = None
    force_formula_computation_in_sheets: bool | None = None
    include_hidden_sheets: bool | None = None


class InputOptions(_Params):
    html: HtmlOptions | None = None
    image: ImageOptions | None = None
    pdf: dict[str, Any] | None = None
    presentation: PresentationOptions | None = None
    spreadsheet: SpreadsheetOptions | None = None


class MarkdownTables(_Params):
    compact_markdown_tables: bool | None = None
    markdown_table_multiline_separator: str | None = None
    merge_continued_tables: bool | None = None
    output_tables_as_markdown: bool | None = None


class MarkdownOptions(_Params):
    annotate_line_numbers: bool | None = None
    annotate_links: bool | None = None
    annotate_revisions: bool | None = None
    inline_images: bool | None = None
    tables: MarkdownTables | None = None


class SpatialText(_Params):
    do_not_unroll_columns: bool | None = None
    preserve_layout_alignment_across_pages: bool | None = None
    preserve_very_small_text: bool | None = None


class TablesAsSpreadsheet(_Params):
    enable: bool | None = None
    guess_sheet_name: bool | None = None


class OutputOptions(_Params):
    additional_outputs: list[str] | None = None
    extract_printed_page_number: bool | None = None
    granular_bboxes: list[Literal["cell", "line", "word"]] | None = None
    images_to_save: list[Literal["embedded", "layout", "screenshot"]] | None = None
    markdown: MarkdownOptions | None = None
    save_output_pdf: bool | None = None
    spatial_text: SpatialText | None = None
    tables_as_spreadsheet: TablesAsSpreadsheet | None = None
    watermark_handling: Literal["move_to_end", "move_to_start", "remove"] | None = None


class PageRanges(_Params):
    max_pages: int | None = Field(default=None, ge=1)
    target_pages: str | None = None

    @field_validator("target_pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        return _check_pages(value)


class FailureConditions(_Params):
    allowed_page_failure_ratio: float | None = Field(default=None, ge=0, le=1)
    fail_on_buggy_font: bool | None = None
    fail_on_image_extraction_error: bool | None = None
    fail_on_image_ocr_error: bool | None = None
    fail_on_markdown_reconstruction_error: bool | None = None


class Timeouts(_Params):
    base_in_seconds: int | None = Field(default=None, ge=1, le=86_400)
    extra_time_per_page_in_seconds: int | None = Field(default=None, ge=0, le=3_600)


class ProcessingControl(_Params):
    job_failure_conditions: FailureConditions | None = None
    timeouts: Timeouts | None = None


class IgnoreOptions(_Params):
    ignore_diagonal_text: bool | None = None
    ignore_hidden_text: bool | None = None
    ignore_text_in_image: bool | None = None


class OcrParameters(_Params):
    languages: list[ParsingLanguage] | None = None


class CostOptimizer(_Params):
    enable: bool | None = None


class ProcessingOptions(_Params):
    aggressive_table_extraction: bool | None = None
    auto_mode_configuration: list[dict[str, Any]] | None = None
    confidence_score_effort: Literal["high"] | None = None
    cost_optimizer: CostOptimizer | None = None
    disable_heuristics: bool | None = None
    forms: Literal["default", "enrich"] | None = None
    ignore: IgnoreOptions | None = None
    ocr_parameters: OcrParameters | None = None
    specialized_chart_parsing: Literal["agentic", "agentic_plus", "efficient"] | None = None


WebhookEventV2 = Literal[
    "batch.cancelled", "batch.error", "batch.pending", "batch.running", "batch.success",
    "classify.cancelled", "classify.error", "classify.partial_success", "classify.pending",
    "classify.running", "classify.success", "extract.cancelled", "extract.error",
    "extract.partial_success", "extract.pending", "extract.success", "parse.cancelled",
    "parse.error", "parse.partial_success", "parse.pending", "parse.running", "parse.success",
    "sheets.cancelled", "sheets.error", "sheets.partial_success", "sheets.pending",
    "sheets.success", "split.cancelled", "split.error", "split.pending", "split.processing",
    "split.success", "unmapped_event", "verify.cancelled", "verify.error", "verify.pending",
    "verify.running", "verify.success",
]  # fmt: skip


class WebhookConfigurationV2(_Params):
    webhook_url: str | None = Field(default=None, max_length=2048)
    webhook_events: list[WebhookEventV2] | None = Field(default=None, min_length=1)
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["json", "string"] | None = None
    webhook_signing_secret: str | None = Field(default=None, max_length=512)


class ParseV2Parameters(_Params):
    """``parse_v2`` configuration parameters, field for field as the reference."""

    product_type: Literal["parse_v2"]
    tier: Tier
    version: str = Field(min_length=1, max_length=32)
    agentic_options: AgenticOptions | None = None
    client_name: str | None = None
    crop_box: CropBox | None = None
    disable_cache: bool | None = None
    fast_options: dict[str, Any] | None = None
    input_options: InputOptions | None = None
    output_options: OutputOptions | None = None
    page_ranges: PageRanges | None = None
    processing_control: ProcessingControl | None = None
    processing_options: ProcessingOptions | None = None
    webhook_configuration_ids: list[str] | None = None
    webhook_configurations: list[WebhookConfigurationV2] | None = None


# ------------------------------------------------------------- the others


class ExtractV2Parameters(_Params):
    product_type: Literal["extract_v2"]
    data_schema: dict[str, Any]
    advanced_citations: bool | None = None
    cite_sources: bool | None = None
    confidence_scores: bool | None = None
    disable_cache: bool | None = None
    extraction_target: Literal["per_doc", "per_page", "per_table_row"] | None = None
    max_pages: int | None = Field(default=None, ge=1)
    parse_config_id: str | None = None
    parse_tier: Tier | None = None
    sheet_names: list[str] | None = None
    spreadsheet_mode: bool | None = None
    system_prompt: str | None = Field(default=None, max_length=10_000)
    target_pages: str | None = None
    tier: Literal["agentic", "agentic_plus", "cost_effective", "turbo"] | None = None
    version: str | None = None

    @field_validator("data_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_json_schema(value)
        return value

    @field_validator("target_pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        return _check_pages(value)


class ClassifyRuleV2(_Params):
    type: str = Field(min_length=1, max_length=50)
    description: str = Field(min_length=10, max_length=500)


class ClassifyParsingV2(_Params):
    lang: ParsingLanguage | None = None
    max_pages: int | None = Field(default=None, ge=1)
    target_pages: str | None = None

    @field_validator("target_pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        return _check_pages(value)


class ClassifyV2Parameters(_Params):
    product_type: Literal["classify_v2"]
    rules: list[ClassifyRuleV2] = Field(min_length=1)
    mode: Literal["FAST"] | None = None
    parsing_configuration: ClassifyParsingV2 | None = None


class _Stored(BaseModel):
    """A product docbatch keeps but does not run: its parameters are stored as sent."""

    model_config = ConfigDict(extra="allow")


class SplitV1Parameters(_Stored):
    product_type: Literal["split_v1"]
    categories: list[dict[str, Any]] = Field(min_length=1)


class SpreadsheetV1Parameters(_Stored):
    product_type: Literal["spreadsheet_v1"]


class UntypedParameters(_Stored):
    product_type: Literal["unknown"]


def _product_of(value: Any) -> str | None:
    if isinstance(value, dict):
        found = value.get("product_type")
        return found if isinstance(found, str) else None
    return getattr(value, "product_type", None)


AnyParameters = (
    ParseV2Parameters
    | ExtractV2Parameters
    | ClassifyV2Parameters
    | SplitV1Parameters
    | SpreadsheetV1Parameters
    | UntypedParameters
)
Parameters = Annotated[
    Annotated[ParseV2Parameters, Tag("parse_v2")]
    | Annotated[ExtractV2Parameters, Tag("extract_v2")]
    | Annotated[ClassifyV2Parameters, Tag("classify_v2")]
    | Annotated[SplitV1Parameters, Tag("split_v1")]
    | Annotated[SpreadsheetV1Parameters, Tag("spreadsheet_v1")]
    | Annotated[UntypedParameters, Tag("unknown")],
    Discriminator(
        _product_of,
        custom_error_type="product_type",
        custom_error_message="product_type must be one of parse_v2, extract_v2, "
        "classify_v2, split_v1, spreadsheet_v1, unknown",
    ),
]
PARAMETERS_ADAPTER: TypeAdapter[AnyParameters] = TypeAdapter(Parameters)


def load_parameters(data: str | dict[str, Any]) -> AnyParameters:
    """Validate stored or submitted configuration parameters."""
    if isinstance(data, str):
        return PARAMETERS_ADAPTER.validate_json(data)
    return PARAMETERS_ADAPTER.validate_python(data)


def dump_parameters(parameters: AnyParameters) -> dict[str, Any]:
    """The JSON form of parameters, as the reference returns them (unset fields left out)."""
    return parameters.model_dump(mode="json", exclude_none=True)


# ------------------------------------------------------------------ presets

PRESETS: dict[str, ParseV2Parameters] = {
    f"cfg-PARSE_{tier.upper()}": ParseV2Parameters(
        product_type="parse_v2", tier=tier, version="latest"
    )
    for tier in ("fast", "cost_effective", "agentic", "agentic_plus")
}
"""Built-in presets: ``cfg-PARSE_<TIER>`` parses with that tier's local engine choice."""
