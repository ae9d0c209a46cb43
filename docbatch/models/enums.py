"""The enums and literal types of the models: job and item statuses, modes and options."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class JobType(StrEnum):
    """Type of processing operation."""

    PARSE = "parse"
    EXTRACT = "extract"
    CLASSIFY = "classify"


class JobStatus(StrEnum):
    """Status of a batch job: pending → running → dispatched → completed/failed/cancelled."""

    PENDING = "pending"
    RUNNING = "running"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended and can change no more."""
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class ItemStatus(StrEnum):
    """Processing status of one item of a batch job."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the item has reached its final status."""
        return self in TERMINAL_ITEM_STATUSES


TERMINAL_ITEM_STATUSES = frozenset(
    {ItemStatus.COMPLETED, ItemStatus.FAILED, ItemStatus.SKIPPED, ItemStatus.CANCELLED}
)


class SkipReason(StrEnum):
    """Why an item was skipped without a child workflow."""

    ALREADY_PROCESSED = "already_processed"
    SIZE_LIMIT_EXCEEDED = "size_limit_exceeded"


class ClassifyMode(StrEnum):
    """Classification mode."""

    FAST = "FAST"
    MULTIMODAL = "MULTIMODAL"


class ParsingMode(StrEnum):
    """Mode of parsing to be used."""

    PARSE_PAGE_WITHOUT_LLM = "parse_page_without_llm"
    PARSE_PAGE_WITH_LLM = "parse_page_with_llm"
    PARSE_PAGE_WITH_LVM = "parse_page_with_lvm"
    PARSE_PAGE_WITH_AGENT = "parse_page_with_agent"
    PARSE_PAGE_WITH_LAYOUT_AGENT = "parse_page_with_layout_agent"
    PARSE_DOCUMENT_WITH_LLM = "parse_document_with_llm"
    PARSE_DOCUMENT_WITH_LVM = "parse_document_with_lvm"
    PARSE_DOCUMENT_WITH_AGENT = "parse_document_with_agent"


class FailPageMode(StrEnum):
    """What replaces a page that failed to parse."""

    RAW_TEXT = "raw_text"
    BLANK_PAGE = "blank_page"
    ERROR_MESSAGE = "error_message"


Priority = Literal["low", "medium", "high", "critical"]
ImageToSave = Literal["screenshot", "embedded", "layout"]
ParsingLanguage = Literal[
    "af", "az", "bs", "cs", "cy", "da", "de", "en", "es", "et", "fr", "ga", "hr", "hu",
    "id", "is", "it", "ku", "la", "lt", "lv", "mi", "ms", "mt", "nl", "no", "oc", "pi",
    "pl", "pt", "ro", "rs_latin", "sk", "sl", "sq", "sv", "sw", "tl", "tr", "uz", "vi",
    "ar", "fa", "ug", "ur", "bn", "as", "mni", "ru", "rs_cyrillic", "be", "bg", "uk",
    "mn", "abq", "ady", "kbd", "ava", "dar", "inh", "che", "lbe", "lez", "tab", "tjk",
    "hi", "mr", "ne", "bh", "mai", "ang", "bho", "mah", "sck", "new", "gom", "sa", "bgc",
    "th", "ch_sim", "ch_tra", "ja", "ko", "ta", "te", "kn",
]  # fmt: skip
WebhookEvent = Literal[
    "extract.pending", "extract.success", "extract.error", "extract.partial_success",
    "extract.cancelled", "parse.pending", "parse.running", "parse.success", "parse.error",
    "parse.partial_success", "parse.cancelled", "classify.pending", "classify.running",
    "classify.success", "classify.error", "classify.partial_success", "classify.cancelled",
    "sheets.pending", "sheets.success", "sheets.error", "sheets.partial_success",
    "sheets.cancelled", "unmapped_event",
]  # fmt: skip
