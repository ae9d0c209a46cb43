"""The response formats a request asks for, from a strict ``json_schema`` down to none, and
the JSON instruction the messages get when the server does not enforce the schema."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from docbatch.llm.errors import LLMStatusError

_SCHEMA_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def response_formats(
    schema: Mapping[str, Any] | None, schema_name: str
) -> list[tuple[str, dict[str, Any] | None]]:
    """Response formats from strongest to weakest for this request."""
    weak: list[tuple[str, dict[str, Any] | None]] = [
        ("json_object", {"type": "json_object"}),
        ("none", None),
    ]
    if schema is None:
        return weak
    name = _SCHEMA_NAME_CHARS.sub("_", schema_name)[:64] or "response"

    def json_schema(strict: bool) -> dict[str, Any]:
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": dict(schema), "strict": strict},
        }

    return [
        ("json_schema", json_schema(True)),
        ("json_schema_loose", json_schema(False)),
        *weak,
    ]


def with_json_instruction(
    messages: Sequence[Mapping[str, Any]], schema: Mapping[str, Any] | None, label: str
) -> list[dict[str, Any]]:
    """The messages, plus a JSON instruction when the server does not enforce the schema.

    ``json_object`` mode also requires the word JSON to appear in the messages.
    """
    result = [copy.deepcopy(dict(message)) for message in messages]
    if label.startswith("json_schema"):
        return result
    instruction = "Answer with a single JSON object and nothing else."
    if schema is not None:
        instruction += " It must conform to this JSON Schema:\n" + json.dumps(
            schema, ensure_ascii=False
        )
    first = result[0] if result else None
    if (
        first is not None
        and first.get("role") == "system"
        and isinstance(first.get("content"), str)
    ):
        # Some chat templates accept only one system message, at the start.
        first["content"] = f"{first['content']}\n\n{instruction}"
    else:
        result.insert(0, {"role": "system", "content": instruction})
    return result


def rejects_response_format(exc: LLMStatusError) -> bool:
    if exc.status_code not in (400, 422):
        return False
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or "response format" in text
