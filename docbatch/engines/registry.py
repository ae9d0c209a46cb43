"""The engines by job type, and the one entry point a worker's process pool runs."""

from __future__ import annotations

from docbatch.engines.base import Engine, EngineRequest, EngineResult
from docbatch.engines.classify import classify_document
from docbatch.engines.classify_llm import classify_document_llm
from docbatch.engines.extract import extract_document
from docbatch.engines.parse import parse_document

ENGINES: dict[str, Engine] = {
    "parse": parse_document,
    "classify": classify_document,
    "extract": extract_document,
}


def engine_for(request: EngineRequest) -> Engine:
    """The engine of a request: its job type, and for classify its mode."""
    if request.job_type == "classify" and request.config.get("mode") == "MULTIMODAL":
        return classify_document_llm
    engine = ENGINES.get(request.job_type)
    if engine is None:
        known = ", ".join(sorted(ENGINES))
        raise ValueError(f"no engine for job type {request.job_type!r} (known: {known})")
    return engine


def run_engine(request: EngineRequest) -> EngineResult:
    """Run the engine of ``request``; ``ValueError`` for a job type with no engine.

    Module-level and taking one picklable argument, so it can be submitted as is to a
    ``ProcessPoolExecutor``.
    """
    return engine_for(request)(request)
