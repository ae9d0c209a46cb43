"""Running the parse engine in tests: one document in, its result and JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.parse import parse_document


def parse(path: Path, file_name: str | None = None, **config: Any) -> EngineResult:
    """Run the parse engine on ``path`` with ``config`` as the parse parameters."""
    return parse_document(
        EngineRequest(
            path=str(path), file_name=file_name or path.name, job_type="parse", config=config
        )
    )


def output(result: EngineResult) -> dict[str, Any]:
    """The JSON document a parse result holds."""
    document = json.loads(result.content)
    assert isinstance(document, dict)
    return document
