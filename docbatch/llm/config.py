"""Where and how to reach the chat-completions service: ``LLMConfig``, built from a
settings mapping or an engine request's options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from docbatch.errors import ConfigError

NOT_CONFIGURED = (
    "the LLM service is not configured: set DOCBATCH_LLM_BASE_URL, DOCBATCH_LLM_MODEL "
    "and DOCBATCH_LLM_API_KEY for the worker"
)


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


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _secret(value: object) -> str:
    """A plain key from a string or a pydantic ``SecretStr``-like object."""
    reveal = getattr(value, "get_secret_value", None)
    if callable(reveal):
        value = reveal()
    return value.strip() if isinstance(value, str) else ""
