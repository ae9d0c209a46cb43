"""A small client for OpenAI-compatible chat-completions services that answer in JSON.

Engines run in worker processes and call the service synchronously (``httpx.Client``).
The client asks for structured output and degrades gracefully for servers that support
less: a strict ``json_schema`` response format, then a non-strict one, then
``json_object``, then no response format at all (the schema is then put in the prompt).
A server refuses a format with a 400/422 that mentions ``response_format``; the format
that worked is remembered per process for that base URL, model and schema.

Error classification (what Temporal does with each):

* ``LLMError`` — the service could not be reached or kept failing (transport errors,
  timeouts, 408/409/429/5xx after ``max_retries`` retries, a non-JSON HTTP body). Not a
  ``DocumentError``, so the activity is retried: the document is not at fault.
* ``LLMStatusError`` (an ``LLMError``) — also raised at once, without retrying, for any
  other 4xx (bad key, unknown model, malformed request). That is a deployment problem,
  not the document's, so it stays retryable for Temporal (a fixed key then heals the
  batch) while the activity's bounded retry policy caps the cost.
* ``LLMResponseError`` (an ``LLMError``) — the model's answer was not a JSON object in
  ``JSON_ATTEMPTS`` tries. Transient as well: malformed output is a sampling accident or
  a server glitch (truncation, a proxy page), and a later attempt usually succeeds; the
  document has not been shown to be at fault.
* ``LLMRefusalError`` (a ``DocumentError``) — the model explicitly refused to answer.
  That depends on the document's content and repeats on every attempt, so it fails the
  item instead of burning retries.

The API key is sent only in the ``Authorization`` header. It never appears in a log
line, an exception message (response bodies quoted in errors are redacted) or the
``repr`` of ``LLMConfig``.
"""

from __future__ import annotations

import copy
import email.utils
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from docbatch.errors import ConfigError, DocumentError

logger = logging.getLogger(__name__)

JSON_ATTEMPTS = 3
"""Requests made for one answer before unparseable content becomes ``LLMResponseError``."""
RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx: timeouts, conflicts and rate limits clear up when retried."""
MAX_ERROR_DETAIL_CHARS = 300
NOT_CONFIGURED = (
    "the LLM service is not configured: set DOCBATCH_LLM_BASE_URL, DOCBATCH_LLM_MODEL "
    "and DOCBATCH_LLM_API_KEY for the worker"
)

_FENCED = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
_SCHEMA_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_MIN_REDACTED_KEY = 4

# (base_url, model, schema digest) -> index of the response format that server accepts.
_format_levels: dict[tuple[str, str, str], int] = {}


class LLMError(RuntimeError):
    """The LLM service failed (transport, timeout, status); transient for Temporal."""


class LLMStatusError(LLMError):
    """The LLM service answered with an HTTP error status."""

    def __init__(self, message: str, status_code: int, retryable: bool) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Engines run in worker processes: the error must survive the trip back.
        return (type(self), (str(self), self.status_code, self.retryable))


class LLMResponseError(LLMError):
    """The model's answer is not a JSON object (after ``JSON_ATTEMPTS`` requests)."""


class LLMRefusalError(DocumentError):
    """The model refused to answer for this document; not retried."""


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where and how to reach the chat-completions service (``api_key`` never printed)."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    timeout_seconds: float = 120.0
    max_retries: int = 5
    """Retries after the first request for 408/409/429/5xx and transport errors."""
    backoff_seconds: float = 1.0
    """First backoff delay; doubles per retry, with jitter, up to ``max_backoff_seconds``."""
    max_backoff_seconds: float = 30.0
    max_retry_after_seconds: float = 60.0
    """Cap on a server's ``Retry-After``: a longer wait belongs to Temporal's retries."""
    temperature: float | None = None
    """Sent only when set: some models reject any temperature but their default."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LLMConfig:
        """Build from ``{"base_url", "api_key", "model", ...}``; ``ConfigError`` if unusable."""
        base_url = _text(data.get("base_url"))
        model = _text(data.get("model"))
        if not base_url or not model:
            missing = [
                name for name, value in (("base_url", base_url), ("model", model)) if not value
            ]
            raise ConfigError(f"{NOT_CONFIGURED} (missing {', '.join(missing)})", field="llm")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                "llm.base_url: must be an http(s) URL such as https://api.openai.com/v1",
                field="llm.base_url",
            )
        numbers: dict[str, Any] = {}
        for name in (
            "timeout_seconds",
            "max_retries",
            "backoff_seconds",
            "max_backoff_seconds",
            "max_retry_after_seconds",
            "temperature",
        ):
            value = data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"llm.{name}: must be a non-negative number", field=f"llm.{name}")
            numbers[name] = int(value) if name == "max_retries" else float(value)
        return cls(
            base_url=base_url.rstrip("/"),
            # Local servers (Ollama, vLLM) often need no key; then no header is sent.
            api_key=_secret(data.get("api_key")),
            model=model,
            **numbers,
        )

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> LLMConfig:
        """The config in an engine request's ``options["llm"]``; ``ConfigError`` if absent."""
        raw = options.get("llm")
        if not isinstance(raw, Mapping) or not raw:
            raise ConfigError(NOT_CONFIGURED, field="llm")
        return cls.from_dict(raw)


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
        with _new_client(config) as own_client:
            return _complete(config, messages, schema, schema_name, own_client)
    return _complete(config, messages, schema, schema_name, client)


def forget_response_formats() -> None:
    """Forget which response formats servers rejected (after reconfiguring; in tests)."""
    _format_levels.clear()


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# ------------------------------------------------------------------ request loop


def _complete(
    config: LLMConfig,
    messages: Sequence[Mapping[str, Any]],
    schema: Mapping[str, Any] | None,
    schema_name: str,
    client: httpx.Client,
) -> LLMAnswer:
    formats = _response_formats(schema, schema_name)
    cache_key = (config.base_url, config.model, _digest(schema))
    level = min(_format_levels.get(cache_key, 0), len(formats) - 1)
    problem = ""
    for attempt in range(1, JSON_ATTEMPTS + 1):
        while True:
            label, response_format = formats[level]
            body: dict[str, Any] = {
                "model": config.model,
                "messages": _with_json_instruction(messages, schema, label),
            }
            if response_format is not None:
                body["response_format"] = response_format
            if config.temperature is not None:
                body["temperature"] = config.temperature
            try:
                payload = _post_with_retries(config, client, body)
            except LLMStatusError as exc:
                # A server that cannot do this response format (or this schema in strict
                # mode) says so with a 400/422 naming it; try the next weaker format.
                if _rejects_response_format(exc) and level + 1 < len(formats):
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
            data = _parse_json_object(_answer_content(payload))
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


def _post_with_retries(
    config: LLMConfig, client: httpx.Client, body: dict[str, Any]
) -> dict[str, Any]:
    """POST ``body``; retry transient failures with backoff; return the decoded response."""
    url = f"{config.base_url}/chat/completions"
    headers = {"Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    attempts = config.max_retries + 1
    for attempt in range(1, attempts + 1):
        try:
            response = client.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:  # connect/read errors and timeouts
            failure: LLMError = LLMError(
                _redact(f"LLM service unreachable at {url}: {type(exc).__name__}: {exc}", config)
            )
            delay = _backoff(config, attempt)
        else:
            status = response.status_code
            if status < 400:
                try:
                    payload = response.json()
                except ValueError:
                    payload = None
                if isinstance(payload, dict):
                    return payload
                # A 2xx that is not JSON comes from a proxy or a broken server, not the model.
                failure = LLMError(f"LLM service at {url} answered {status} with a non-JSON body")
                delay = _backoff(config, attempt)
            else:
                retryable = status in RETRYABLE_STATUSES or status >= 500
                failure = LLMStatusError(
                    _status_message(config, url, response, retryable=retryable, attempts=attempt),
                    status_code=status,
                    retryable=retryable,
                )
                if not retryable:
                    raise failure
                delay = _delay_for(config, response, attempt)
        if attempt == attempts:
            raise failure
        logger.warning(
            "LLM request failed (attempt %d of %d), retrying in %.1fs: %s",
            attempt,
            attempts,
            delay,
            failure,
        )
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


def _backoff(config: LLMConfig, attempt: int) -> float:
    """Exponential backoff with jitter, so workers hit by the same outage spread out."""
    ceiling = min(config.max_backoff_seconds, config.backoff_seconds * 2.0 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)


def _delay_for(config: LLMConfig, response: httpx.Response, attempt: int) -> float:
    """The server's ``Retry-After`` (capped) when given, else exponential backoff."""
    hint: float | None = None
    retry_after_ms = response.headers.get("retry-after-ms")
    if retry_after_ms is not None:
        try:
            hint = max(0.0, float(retry_after_ms) / 1000)
        except ValueError:
            hint = None
    if hint is None:
        hint = retry_after_seconds(response.headers.get("retry-after"))
    if hint is None:
        return _backoff(config, attempt)
    # At least what the server asked for; a little jitter above it spreads the herd.
    return min(config.max_retry_after_seconds, hint) * random.uniform(1.0, 1.1)


def _new_client(config: LLMConfig) -> httpx.Client:
    connect = min(10.0, config.timeout_seconds)
    return httpx.Client(timeout=httpx.Timeout(config.timeout_seconds, connect=connect))


# ------------------------------------------------------------------ response formats


def _response_formats(
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


def _with_json_instruction(
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


def _rejects_response_format(exc: LLMStatusError) -> bool:
    if exc.status_code not in (400, 422):
        return False
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or "response format" in text


def _digest(schema: Mapping[str, Any] | None) -> str:
    if schema is None:
        return ""
    canonical = json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# ------------------------------------------------------------------ answers


def _answer_content(payload: Mapping[str, Any]) -> str:
    """The text of the first choice; ``LLMRefusalError`` when the model refused."""
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise LLMResponseError("the LLM response has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise LLMResponseError("the LLM response has no message")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        raise LLMRefusalError(f"the model refused to process the document: {_shorten(refusal)}")
    content = message.get("content")
    if isinstance(content, list):
        # Some servers return content as a list of typed parts even for text.
        content = "".join(
            str(part.get("text") or "") for part in content if isinstance(part, Mapping)
        )
    if not isinstance(content, str) or not content.strip():
        reason = choice.get("finish_reason")
        raise LLMResponseError(f"the LLM answer is empty (finish_reason={reason})")
    return content


def _parse_json_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fenced = _FENCED.match(text)
    if fenced:
        # Models asked for JSON without a response format often wrap it in a code fence.
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LLMResponseError(
            f"the LLM answer is not valid JSON ({exc}): {_shorten(text, 120)!r}"
        ) from None
    if not isinstance(data, dict):
        raise LLMResponseError(f"the LLM answer is JSON but not an object: {_shorten(text, 120)!r}")
    return data


# ------------------------------------------------------------------ messages


def _status_message(
    config: LLMConfig, url: str, response: httpx.Response, *, retryable: bool, attempts: int
) -> str:
    status = response.status_code
    message = f"LLM service answered {status} {response.reason_phrase} for POST {url}"
    detail = _error_detail(response)
    if detail:
        message += f": {detail}"
    if status in (401, 403):
        message += " (check DOCBATCH_LLM_API_KEY)"
    elif status == 404:
        message += " (check DOCBATCH_LLM_BASE_URL and DOCBATCH_LLM_MODEL)"
    if retryable:
        message += f" (gave up after {attempts} attempts)"
    return _redact(message, config)


def _error_detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return _shorten(response.text)
    if isinstance(payload, Mapping):
        error = payload.get("error", payload)
        if isinstance(error, Mapping):
            parts = [str(error[key]) for key in ("message", "param", "code") if error.get(key)]
            if parts:
                return _shorten(" | ".join(parts))
        elif isinstance(error, str):
            return _shorten(error)
        detail = payload.get("detail")
        if detail:
            return _shorten(json.dumps(detail) if not isinstance(detail, str) else detail)
    return _shorten(response.text)


def _redact(text: str, config: LLMConfig) -> str:
    """``text`` without the API key (servers sometimes echo the key they rejected)."""
    key = config.api_key
    if len(key) >= _MIN_REDACTED_KEY:
        text = text.replace(key, "[redacted]")
    return text


def _shorten(text: str, limit: int = MAX_ERROR_DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _secret(value: object) -> str:
    """A plain key from a string or a pydantic ``SecretStr``-like object."""
    reveal = getattr(value, "get_secret_value", None)
    if callable(reveal):
        value = reveal()
    return value.strip() if isinstance(value, str) else ""
