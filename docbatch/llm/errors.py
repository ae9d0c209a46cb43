"""The errors of the LLM client (what Temporal does with each: ``docbatch.llm``), and the
shortening of the text they quote."""

from __future__ import annotations

from typing import Any

from docbatch.errors import DocumentError

MAX_ERROR_DETAIL_CHARS = 300


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


def shorten(text: str, limit: int = MAX_ERROR_DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
