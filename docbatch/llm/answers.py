"""Reading the model's answer out of a chat-completions response: the first choice's
text, a refusal, and the JSON object it must be (code fences allowed)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from docbatch.llm.errors import LLMRefusalError, LLMResponseError, shorten

_FENCED = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


def answer_content(payload: Mapping[str, Any]) -> str:
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
        raise LLMRefusalError(f"the model refused to process the document: {shorten(refusal)}")
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


def parse_json_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fenced = _FENCED.match(text)
    if fenced:
        # Models asked for JSON without a response format often wrap it in a code fence.
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LLMResponseError(
            f"the LLM answer is not valid JSON ({exc}): {shorten(text, 120)!r}"
        ) from None
    if not isinstance(data, dict):
        raise LLMResponseError(f"the LLM answer is JSON but not an object: {shorten(text, 120)!r}")
    return data
