"""The JSON answer to a list of messages: requests in the strongest response format the
server accepts (remembered per process), the answer parsed, unusable answers asked again."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from docbatch.llm.answers import answer_content, parse_json_object
from docbatch.llm.config import LLMConfig
from docbatch.llm.errors import LLMResponseError, LLMStatusError
from docbatch.llm.formats import rejects_response_format, response_formats, with_json_instruction
from docbatch.llm.transport import new_client, post_with_retries

logger = logging.getLogger(__package__)  # the client logs as one: "docbatch.llm"

JSON_ATTEMPTS = 3
"""Requests made for one answer before unparseable content becomes ``LLMResponseError``."""

# (base_url, model, schema digest) -> index of the response format that server accepts.
_format_levels: dict[tuple[str, str, str], int] = {}


@dataclass(frozen=True, slots=True)
class LLMAnswer:
    """A parsed JSON answer plus what is worth recording about how it was obtained."""

    data: dict[str, Any]
    model: str
    """The model the server says answered (often more precise than the configured one)."""
    response_format: str
    """``json_schema`` (strict), ``json_schema_loose``, ``json_object`` or ``none``."""
    usage: dict[str, Any] | None = None


def chat_json(
    config: LLMConfig,
    messages: Sequence[Mapping[str, Any]],
    *,
    schema: Mapping[str, Any] | None,
    schema_name: str,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Send ``messages`` and return the model's answer parsed as a JSON object."""
    return complete_json(
        config, messages, schema=schema, schema_name=schema_name, client=client
    ).data


def complete_json(
    config: LLMConfig,
    messages: Sequence[Mapping[str, Any]],
    *,
    schema: Mapping[str, Any] | None,
    schema_name: str,
    client: httpx.Client | None = None,
) -> LLMAnswer:
    """Like ``chat_json``, returning the model name, usage and response format used too."""
    if client is None:
        with new_client(config) as own_client:
            return _complete(config, messages, schema, schema_name, own_client)
    return _complete(config, messages, schema, schema_name, client)


def forget_response_formats() -> None:
    """Forget which response formats servers rejected (after reconfiguring; in tests)."""
    _format_levels.clear()


def _complete(
    config: LLMConfig,
    messages: Sequence[Mapping[str, Any]],
    schema: Mapping[str, Any] | None,
    schema_name: str,
    client: httpx.Client,
) -> LLMAnswer:
    formats = response_formats(schema, schema_name)
    cache_key = (config.base_url, config.model, _digest(schema))
    level = min(_format_levels.get(cache_key, 0), len(formats) - 1)
    problem = ""
    for attempt in range(1, JSON_ATTEMPTS + 1):
        while True:
            label, response_format = formats[level]
            body: dict[str, Any] = {
                "model": config.model,
                "messages": with_json_instruction(messages, schema, label),
            }
            if response_format is not None:
                body["response_format"] = response_format
            if config.temperature is not None:
                body["temperature"] = config.temperature
            try:
                payload = post_with_retries(config, client, body)
            except LLMStatusError as exc:
                # A server that cannot do this response format (or this schema in strict
                # mode) says so with a 400/422 naming it; try the next weaker format.
                if rejects_response_format(exc) and level + 1 < len(formats):
                    level += 1
                    _format_levels[cache_key] = level
                    logger.warning(
                        "LLM service rejected response format %s; falling back to %s",
                        label,
                        formats[level][0],
                    )
                    continue
                raise
            break
        try:
            data = parse_json_object(answer_content(payload))
        except LLMResponseError as exc:
            problem = str(exc)
            logger.warning(
                "LLM answer unusable (attempt %d of %d): %s", attempt, JSON_ATTEMPTS, problem
            )
            continue
        usage = payload.get("usage")
        return LLMAnswer(
            data=data,
            model=str(payload.get("model") or config.model),
            response_format=label,
            usage=dict(usage) if isinstance(usage, Mapping) else None,
        )
    raise LLMResponseError(
        f"the LLM did not answer with a JSON object in {JSON_ATTEMPTS} attempts: {problem}"
    )


def _digest(schema: Mapping[str, Any] | None) -> str:
    if schema is None:
        return ""
    canonical = json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
