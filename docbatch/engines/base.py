"""The one interface every engine implements."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """One document to process.

    ``config`` is the job config as plain JSON data: for ``parse`` the parse
    ``parameters`` object, for ``classify`` the classify config (``rules``, ``mode``,
    ``parsing_configuration``, ``confidence_threshold``), for ``extract`` the extract
    config (``data_schema`` and the parse ``parameters`` used to read the document).

    ``options`` carries deployment settings the engine may need (for example
    ``{"llm": {"base_url": …, "api_key": …, "model": …}}``); it never reaches workflow
    history. ``progress_file``, when set, is where the engine reports page progress
    (see ``report_progress``) so the activity can heartbeat it.
    """

    path: str
    file_name: str
    job_type: str
    config: dict[str, Any] = field(default_factory=dict)
    mime_type: str | None = None
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    progress_file: str | None = None


@dataclass(frozen=True, slots=True)
class EngineResult:
    """What an engine produced for one document.

    ``content`` is the output written to blob storage (for parse a JSON document with
    ``markdown``, ``text`` and per-page ``pages``; for classify and extract a JSON
    object); ``metadata`` is a small JSON object stored with the processing result.
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


def report_progress(request: EngineRequest, done: int, total: int | None) -> None:
    """Record that ``done`` of ``total`` pages are processed (atomic; cheap to call often)."""
    if request.progress_file is None:
        return
    target = Path(request.progress_file)
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".progress-")
        with os.fdopen(fd, "w") as handle:
            json.dump({"done": done, "total": total}, handle)
        os.replace(tmp, target)


def read_progress(progress_file: str) -> dict[str, Any] | None:
    """The last progress an engine reported, or None."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(Path(progress_file).read_text())
        if isinstance(data, dict):
            return data
    return None
