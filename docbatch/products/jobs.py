"""How a product configuration runs as a docbatch job, and the v2 statuses and ids.

A v2 batch is an ordinary docbatch job: its configuration is translated into the one
job config the core runs (``BatchParseJobRecordCreate``, ``ExtractJob``,
``ClassifyJob``). What a local engine cannot honour is listed, by v2 field path, as
``not_applied``.
"""

from __future__ import annotations

import uuid
from typing import Any

from docbatch.errors import ConfigError
from docbatch.models import (
    AnyJobConfig,
    BatchParseJobRecordCreate,
    ClassifierRule,
    ClassifyJob,
    ClassifyParsingConfiguration,
    ExtractJob,
    ItemStatus,
    JobStatus,
    ParseParameters,
)
from docbatch.products.parameters import (
    PRESETS,
    PRODUCT_JOB_PREFIX,
    AnyParameters,
    ClassifyV2Parameters,
    ExtractV2Parameters,
    InputOptions,
    OutputOptions,
    ParseV2Parameters,
    ProcessingControl,
    ProcessingOptions,
    ProductType,
    one_based_ranges,
    zero_based,
)

# ------------------------------------------------------- onto the job configs


class _Mapping:
    """Collects the v2 fields that were set but that no local engine honours."""

    def __init__(self) -> None:
        self.not_applied: list[str] = []

    def skip(self, path: str, value: Any) -> None:
        if value not in (None, False, [], {}):
            self.not_applied.append(path)


def _parse_parameters(p: ParseV2Parameters, m: _Mapping) -> ParseParameters:
    """``parse_v2`` parameters as docbatch's parse parameters."""
    values: dict[str, Any] = {"tier": p.tier, "version": p.version}
    if p.tier == "fast":
        values["fast_mode"] = True  # PDFium's plain text, no layout analysis
    if p.agentic_options is not None and p.agentic_options.custom_prompt:
        values["user_prompt"] = p.agentic_options.custom_prompt  # reported not applied
    if p.crop_box is not None:
        values |= {
            "bbox_top": p.crop_box.top,
            "bbox_bottom": p.crop_box.bottom,
            "bbox_left": p.crop_box.left,
            "bbox_right": p.crop_box.right,
        }
    if p.disable_cache:
        values["invalidate_cache"] = True
    if p.page_ranges is not None:
        values["max_pages"] = p.page_ranges.max_pages
        if p.page_ranges.target_pages:
            values["target_pages"] = zero_based(p.page_ranges.target_pages)
    inputs = p.input_options or InputOptions()
    if inputs.html is not None:
        values |= {
            "html_make_all_elements_visible": inputs.html.make_all_elements_visible,
            "html_remove_fixed_elements": inputs.html.remove_fixed_elements,
            "html_remove_navigation_elements": inputs.html.remove_navigation_elements,
        }
    if inputs.presentation is not None:
        values |= {
            "presentation_out_of_bounds_content": inputs.presentation.out_of_bounds_content,
            "presentation_skip_embedded_data": inputs.presentation.skip_embedded_data,
        }
        m.skip(
            "input_options.presentation.include_hidden_slides",
            inputs.presentation.include_hidden_slides,
        )
    if inputs.spreadsheet is not None:
        sheet = inputs.spreadsheet
        values |= {
            "spreadsheet_extract_sub_tables": sheet.detect_sub_tables_in_sheets,
            "spreadsheet_force_formula_computation": sheet.force_formula_computation_in_sheets,
            "spreadsheet_include_hidden_sheets": sheet.include_hidden_sheets,
        }
    if inputs.image is not None:
        m.skip("input_options.image.camera_photo_correction", inputs.image.camera_photo_correction)
    m.skip("input_options.pdf", inputs.pdf)
    out = p.output_options or OutputOptions()
    values["extract_printed_page_number"] = out.extract_printed_page_number
    values["output_pdf_of_document"] = out.save_output_pdf
    if out.images_to_save:
        values["images_to_save"] = out.images_to_save
    if out.markdown is not None:
        values["annotate_links"] = out.markdown.annotate_links
        values["inline_images_in_markdown"] = out.markdown.inline_images
        m.skip("output_options.markdown.annotate_line_numbers", out.markdown.annotate_line_numbers)
        m.skip("output_options.markdown.annotate_revisions", out.markdown.annotate_revisions)
        tables = out.markdown.tables
        if tables is not None:
            values["compact_markdown_table"] = tables.compact_markdown_tables
            values["markdown_table_multiline_header_separator"] = (
                tables.markdown_table_multiline_separator
            )
            values["merge_tables_across_pages_in_markdown"] = tables.merge_continued_tables
            if tables.output_tables_as_markdown is False:
                values["output_tables_as_html"] = True
    if out.spatial_text is not None:
        values |= {
            "do_not_unroll_columns": out.spatial_text.do_not_unroll_columns,
            "preserve_layout_alignment_across_pages": (
                out.spatial_text.preserve_layout_alignment_across_pages
            ),
            "preserve_very_small_text": out.spatial_text.preserve_very_small_text,
        }
    if out.tables_as_spreadsheet is not None:
        values["guess_xlsx_sheet_name"] = out.tables_as_spreadsheet.guess_sheet_name
        m.skip("output_options.tables_as_spreadsheet.enable", out.tables_as_spreadsheet.enable)
    m.skip("output_options.additional_outputs", out.additional_outputs)
    m.skip("output_options.granular_bboxes", out.granular_bboxes)
    m.skip("output_options.watermark_handling", out.watermark_handling)
    control = p.processing_control or ProcessingControl()
    if control.timeouts is not None:
        values["job_timeout_in_seconds"] = control.timeouts.base_in_seconds
        values["job_timeout_extra_time_per_page_in_seconds"] = (
            control.timeouts.extra_time_per_page_in_seconds
        )
    if control.job_failure_conditions is not None:
        conditions = control.job_failure_conditions
        values |= {
            "page_error_tolerance": conditions.allowed_page_failure_ratio,
            "strict_mode_buggy_font": conditions.fail_on_buggy_font,
            "strict_mode_image_extraction": conditions.fail_on_image_extraction_error,
            "strict_mode_image_ocr": conditions.fail_on_image_ocr_error,
            "strict_mode_reconstruction": conditions.fail_on_markdown_reconstruction_error,
        }
    options = p.processing_options or ProcessingOptions()
    values["aggressive_table_extraction"] = options.aggressive_table_extraction
    if options.ignore is not None:
        values["skip_diagonal_text"] = options.ignore.ignore_diagonal_text
        values["remove_hidden_text"] = options.ignore.ignore_hidden_text
        m.skip(
            "processing_options.ignore.ignore_text_in_image", options.ignore.ignore_text_in_image
        )
    if options.ocr_parameters is not None and options.ocr_parameters.languages:
        values["languages"] = options.ocr_parameters.languages
    if options.cost_optimizer is not None:
        values["enable_cost_optimizer"] = options.cost_optimizer.enable
    if options.specialized_chart_parsing is not None:
        values[f"specialized_chart_parsing_{options.specialized_chart_parsing}"] = True
    if options.auto_mode_configuration:
        values["auto_mode"] = True
    m.skip("processing_options.confidence_score_effort", options.confidence_score_effort)
    m.skip("processing_options.disable_heuristics", options.disable_heuristics)
    m.skip("processing_options.forms", options.forms)
    return ParseParameters.model_validate({k: v for k, v in values.items() if v is not None})


def job_config_of(parameters: AnyParameters) -> tuple[AnyJobConfig, list[str]]:
    """The docbatch job config a configuration runs as, and the v2 fields not applied.

    Raises ``ConfigError`` (field ``config.job.type``) for products docbatch keeps but
    does not run (``split_v1``, ``spreadsheet_v1``, ``unknown``).
    """
    mapping = _Mapping()
    if isinstance(parameters, ParseV2Parameters):
        parse = _parse_parameters(parameters, mapping)
        config: AnyJobConfig = BatchParseJobRecordCreate(
            job_name="parse_raw_file_job", parameters=parse
        )
        return config, mapping.not_applied
    if isinstance(parameters, ExtractV2Parameters):
        values: dict[str, Any] = {"max_pages": parameters.max_pages}
        if parameters.target_pages:
            values["target_pages"] = zero_based(parameters.target_pages)
        if parameters.parse_tier == "fast":
            values["fast_mode"] = True
        if parameters.disable_cache:
            values["invalidate_cache"] = True
        for name in ("advanced_citations", "cite_sources", "confidence_scores"):
            mapping.skip(name, getattr(parameters, name))
        mapping.skip("extraction_target", parameters.extraction_target != "per_doc" and
                     parameters.extraction_target)  # fmt: skip
        mapping.skip("parse_config_id", parameters.parse_config_id)
        mapping.skip("sheet_names", parameters.sheet_names)
        mapping.skip("spreadsheet_mode", parameters.spreadsheet_mode)
        config = ExtractJob(
            data_schema=parameters.data_schema,
            system_prompt=parameters.system_prompt,
            parameters=ParseParameters.model_validate(
                {k: v for k, v in values.items() if v is not None}
            ),
        )
        return config, mapping.not_applied
    if isinstance(parameters, ClassifyV2Parameters):
        parsing = parameters.parsing_configuration
        classify_parsing = None
        if parsing is not None:
            classify_parsing = ClassifyParsingConfiguration(
                lang=parsing.lang,
                max_pages=parsing.max_pages,
                target_pages=[
                    page - 1
                    for first, last in one_based_ranges(parsing.target_pages)
                    for page in range(first, min(last, first + 10_000) + 1)
                ]
                if parsing.target_pages
                else None,
            )
        config = ClassifyJob(
            rules=[
                ClassifierRule(type=rule.type, description=rule.description)
                for rule in parameters.rules
            ],
            parsing_configuration=classify_parsing,
        )
        return config, mapping.not_applied
    raise ConfigError(
        f"product type {parameters.product_type} is stored but not run by docbatch; "
        "batches run parse_v2, extract_v2 and classify_v2",
        field="config.job.type",
    )


# --------------------------------------------------------- statuses and ids


V2_BATCH_STATUS = {
    JobStatus.PENDING: "PENDING",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.DISPATCHED: "RUNNING",
    JobStatus.COMPLETED: "COMPLETED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELLED: "CANCELLED",
}

V2_PRODUCT_STATUS = {
    ItemStatus.PENDING: "PENDING",
    ItemStatus.PROCESSING: "RUNNING",
    ItemStatus.COMPLETED: "COMPLETED",
    ItemStatus.SKIPPED: "COMPLETED",
    ItemStatus.FAILED: "FAILED",
    ItemStatus.CANCELLED: "CANCELLED",
}

_JOB_KEY_LENGTH = 23  # the first four groups of a job id's UUID: 8-4-4-4


def product_job_id(product: ProductType, job_id: str, ordinal: int) -> str:
    """The id of the product job one item of a job is: ``pjb-…`` for parse.

    It is the job's UUID with its last group replaced by the item's ordinal, so the
    job and item are found again from the id alone (no table of product jobs).
    """
    key = job_id.split("-", 1)[1][:_JOB_KEY_LENGTH]
    return f"{PRODUCT_JOB_PREFIX[product]}-{key}-{ordinal:012x}"


def parse_product_job_id(product: ProductType, value: str) -> tuple[str, int] | None:
    """``(job id prefix, ordinal)`` of a product job id, or None if it is not one."""
    prefix = f"{PRODUCT_JOB_PREFIX[product]}-"
    if not value.startswith(prefix):
        return None
    body = value[len(prefix) :]
    key, _, ordinal = body.rpartition("-")
    try:
        uuid.UUID(f"{key}-{ordinal}")
        return key, int(ordinal, 16)
    except ValueError:
        return None


def parse_preset(configuration_id: str) -> ParseV2Parameters | None:
    """A built-in preset's parameters, or None."""
    return PRESETS.get(configuration_id)
