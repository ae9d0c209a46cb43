"""One chat-completions request over HTTP: the POST, its retries with backoff or the
server's ``Retry-After``, and error messages that quote the server without the API key."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from docbatch.llm.config import LLMConfig
from docbatch.llm.errors import LLMError, LLMStatusError, shorten

logger = logging.getLogger(__package__)  # the client logs as one: "docbatch.llm"

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx: timeouts, conflicts and rate limits clear up when retried."""
_MIN_REDACTED_KEY = 4


def post_with_retries(
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


def new_client(config: LLMConfig) -> httpx.Client:
    connect = min(10.0, config.timeout_seconds)
    return httpx.Client(timeout=httpx.Timeout(config.timeout_seconds, connect=connect))


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
        return shorten(response.text)
    if isinstance(payload, Mapping):
        error = payload.get("error", payload)
        if isinstance(error, Mapping):
            parts = [str(error[key]) for key in ("message", "param", "code") if error.get(key)]
            if parts:
                return shorten(" | ".join(parts))
        elif isinstance(error, str):
            return shorten(error)
        detail = payload.get("detail")
        if detail:
            return shorten(json.dumps(detail) if not isinstance(detail, str) else detail)
    return shorten(response.text)


def _redact(text: str, config: LLMConfig) -> str:
    """``text`` without the API key (servers sometimes echo the key they rejected)."""
    key = config.api_key
    if len(key) >= _MIN_REDACTED_KEY:
        text = text.replace(key, "[redacted]")
    return text
