"""Extract engine: one document → a JSON object that fills a user's JSON Schema.

The document is read with the parse engine (``parse_document``), an OpenAI-compatible LLM
(``docbatch.llm``) is asked to fill the schema with structured output, and the answer is
validated with ``jsonschema`` before it is stored: a server that does not enforce the
schema (or enforces only part of it, e.g. no ``pattern`` or ``format``) cannot slip an
invalid result through.

Config (``EngineRequest.config``)::

    {"data_schema": {...JSON Schema...},        # or a JSON string
     "schema_name": "invoice",                   # optional
     "parameters": {...parse parameters...},     # optional, how to read the document
     "system_prompt": "...",                     # optional, replaces the default prompt
     "system_prompt_append": "..."}              # optional, added to the prompt

The parse-config form is accepted too: the schema as a JSON string in
``parameters.structured_output_json_schema`` (name in ``..._schema_name``), prompts in
``parameters.system_prompt`` / ``parameters.system_prompt_append``.

Errors: a missing or invalid schema is a ``ConfigError``; an answer that does not match
the schema is a ``DocumentError`` naming the first failing path (the same document and
schema would fail again, so retrying only costs money); LLM service problems propagate
as transient ``LLMError`` (see ``docbatch.llm``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from jsonschema import validators
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.parse import parse_document
from docbatch.errors import ConfigError, DocumentError
from docbatch.llm import LLMConfig, complete_json

MAX_TEXT_CHARS = 100_000
"""Document characters sent to the model (about 25k tokens): enough for long documents,
small enough for common context windows. Longer documents are cut and marked truncated."""
MAX_MESSAGE_CHARS = 300
DEFAULT_SCHEMA_NAME = "extraction"
DEFAULT_SYSTEM_PROMPT = (
    "You extract structured data from documents. Fill the requested JSON structure using "
    "only information stated in the document. Never invent values: when a value is not "
    "in the document, use null if the schema allows it. Keep values as written in the "
    "document unless the schema asks for another type (numbers as numbers, dates as the "
    "schema's format)."
)


@dataclass(frozen=True, slots=True)
class ExtractionSpec:
    """What to extract: the schema, its validator, prompts and how to read the document."""

    schema: dict[str, Any]
    schema_name: str
    validator: jsonschema.protocols.Validator
    parse_parameters: dict[str, Any]
    system_prompt: str


@dataclass(frozen=True, slots=True)
class DocumentText:
    """A document's text as the parse engine produced it."""

    text: str
    source_format: str | None
    page_count: int | None


def extract_document(request: EngineRequest) -> EngineResult:
    """Read ``request.path``, have the LLM fill the config's JSON Schema, validate it."""
    llm = LLMConfig.from_options(request.options)
    spec = extraction_spec(request.config)
    document = read_document_text(request, spec.parse_parameters)
    text = document.text[:MAX_TEXT_CHARS]
    truncated = len(document.text) > len(text)
    cut = f" (cut after the first {MAX_TEXT_CHARS} characters)" if truncated else ""
    messages = [
        {"role": "system", "content": spec.system_prompt},
        {
            "role": "user",
            "content": (
                f"File name: {request.file_name}\n\n"
                f"Extract the data from this document{cut}:\n<document>\n{text}\n</document>"
            ),
        },
    ]
    answer = complete_json(llm, messages, schema=spec.schema, schema_name=spec.schema_name)
    validate_extraction(answer.data, spec.validator)
    metadata: dict[str, Any] = {
        "model": answer.model,
        "fields": sum(1 for value in answer.data.values() if value is not None),
        "valid": True,
        "schema_name": spec.schema_name,
        "response_format": answer.response_format,
        "source_format": document.source_format,
        "characters": len(text),
        "truncated": truncated,
    }
    if document.page_count is not None:
        metadata["pages"] = document.page_count
    if answer.usage is not None:
        metadata["usage"] = answer.usage
    return EngineResult(
        content=json.dumps(
            {"data": answer.data, "schema_name": spec.schema_name}, ensure_ascii=False
        ),
        content_type="application/json",
        extension="json",
        metadata=metadata,
    )


def extraction_spec(config: Mapping[str, Any]) -> ExtractionSpec:
    """Read and check an extract config; ``ConfigError`` names the offending field."""
    parameters = config.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise ConfigError("parameters: must be an object of parse parameters", field="parameters")
    if config.get("data_schema") is not None:
        raw_schema, field = config["data_schema"], "data_schema"
        name = config.get("schema_name") or parameters.get("structured_output_json_schema_name")
    elif parameters.get("structured_output_json_schema") is not None:
        raw_schema = parameters["structured_output_json_schema"]
        field = "parameters.structured_output_json_schema"
        name = parameters.get("structured_output_json_schema_name") or config.get("schema_name")
    else:
        raise ConfigError(
            "data_schema: a JSON Schema describing the data to extract is required",
            field="data_schema",
        )
    schema = _schema_object(raw_schema, field)
    validator = _validator(schema, field)
    schema_name = str(name or schema.get("title") or DEFAULT_SCHEMA_NAME).strip()

    system_prompt = str(
        config.get("system_prompt") or parameters.get("system_prompt") or DEFAULT_SYSTEM_PROMPT
    )
    append = config.get("system_prompt_append") or parameters.get("system_prompt_append")
    if append:
        system_prompt = f"{system_prompt}\n\n{append}"
    # Only the parameters that say how to read the document; the schema and the prompts
    # are this engine's business, not the parser's.
    parse_parameters = {
        key: value
        for key, value in parameters.items()
        if not key.startswith(("structured_output", "system_prompt"))
    }
    return ExtractionSpec(
        schema=schema,
        schema_name=schema_name or DEFAULT_SCHEMA_NAME,
        validator=validator,
        parse_parameters=parse_parameters,
        system_prompt=system_prompt,
    )


def validate_extraction(data: Any, validator: jsonschema.protocols.Validator) -> None:
    """Raise ``DocumentError`` naming the first failing path when ``data`` is invalid."""
    try:
        errors = list(validator.iter_errors(data))
    except referencing.exceptions.Unresolvable as exc:
        # Only found while validating: a $ref to a document we do not (and will not) fetch.
        raise ConfigError(
            f"data_schema: unresolvable $ref {exc}: only references inside the schema "
            f"are supported",
            field="data_schema",
        ) from None
    if not errors:
        return
    error = best_match(errors)
    message = f"extracted data does not match the schema: {_path(error)}: {error.message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    raise DocumentError(_limit(message))


def read_document_text(request: EngineRequest, parameters: Mapping[str, Any]) -> DocumentText:
    """The document's text via the parse engine; its ``DocumentError`` propagates.

    The parse engine returns JSON (``markdown``, ``text``, ``pages``, ``page_count``);
    markdown is preferred because it keeps tables. A plain markdown result (the engine's
    earlier contract) is used as is.
    """
    result = parse_document(
        EngineRequest(
            path=request.path,
            file_name=request.file_name,
            job_type="parse",
            config=dict(parameters),
            mime_type=request.mime_type,
            progress_file=request.progress_file,
        )
    )
    metadata = result.metadata
    source_format = metadata.get("source_format")
    page_count = metadata.get("pages")
    text = result.content
    parsed = _parse_output(result)
    if parsed is not None:
        text = str(parsed.get("markdown") or parsed.get("text") or "")
        page_count = parsed.get("page_count", page_count)
    return DocumentText(
        text=text,
        source_format=str(source_format) if source_format else None,
        page_count=page_count if isinstance(page_count, int) else None,
    )


def _parse_output(result: EngineResult) -> Mapping[str, Any] | None:
    """The parse engine's JSON output, or None for a plain markdown result."""
    content = result.content
    if result.content_type != "application/json" and not content.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(content)
    except ValueError:
        return None
    if not isinstance(parsed, Mapping):
        return None
    if result.content_type == "application/json" or {"markdown", "pages"} <= parsed.keys():
        return parsed
    return None  # a JSON document's own text, converted as markdown


# ------------------------------------------------------------------ schema handling


def _schema_object(raw: object, field: str) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{field}: not valid JSON ({exc})", field=field) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{field}: must be a JSON Schema object", field=field)
    declared = raw.get("type")
    if declared is not None and declared != "object":
        # The model answers with a JSON object; a schema for anything else can never match.
        raise ConfigError(
            f'{field}: the root of the schema must describe an object ("type": "object")',
            field=field,
        )
    return raw


def _validator(schema: dict[str, Any], field: str) -> jsonschema.protocols.Validator:
    """A validator of the schema's own draft (2020-12 when it names none)."""
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(
            _limit(f"{field}: not a valid JSON Schema: {_path(exc)}: {exc.message}"), field=field
        ) from None
    # An empty registry: a user's schema must never make the worker fetch URLs.
    return cls(schema, registry=referencing.Registry(), format_checker=cls.FORMAT_CHECKER)


def _path(error: ValidationError | SchemaError) -> str:
    """``$.items[0].price`` style path of an error's instance (``$`` for the root)."""
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _limit(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."
