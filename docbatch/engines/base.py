"""The one interface every engine implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """One document to process.

    ``config`` is the job config as plain JSON data: for ``parse`` the parse
    ``parameters`` object, for ``classify`` the classify config (``rules``, ``mode``,
    ``parsing_configuration``).
    """

    path: str
    file_name: str
    job_type: str
    config: dict[str, Any] = field(default_factory=dict)
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class EngineResult:
    """What an engine produced for one document.

    ``content`` is the output written to blob storage (markdown for parse, JSON for
    classify); ``metadata`` is a small JSON object stored with the processing result.
    """

    content: str
    content_type: str
    extension: str
    metadata: dict[str, Any] = field(default_factory=dict)


Engine = Callable[[EngineRequest], EngineResult]
"""An engine: a picklable, module-level function run in a worker process.

It raises ``docbatch.errors.DocumentError`` (non-retryable) when the document itself
cannot be processed; any other exception is treated as transient and retried.
"""
