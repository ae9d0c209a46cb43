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

The parts: ``config`` (``LLMConfig``), ``errors``, ``transport`` (one request with its
retries), ``formats`` (the response formats and the JSON instruction), ``answers``
(reading the model's answer) and ``client`` (``complete_json``: the request loop). Every
public name is importable from here.
"""

from docbatch.llm.client import (
    JSON_ATTEMPTS,
    LLMAnswer,
    chat_json,
    complete_json,
    forget_response_formats,
)
from docbatch.llm.config import LLMConfig
from docbatch.llm.errors import LLMError, LLMRefusalError, LLMResponseError, LLMStatusError
from docbatch.llm.transport import retry_after_seconds

__all__ = [
    "JSON_ATTEMPTS",
    "LLMAnswer",
    "LLMConfig",
    "LLMError",
    "LLMRefusalError",
    "LLMResponseError",
    "LLMStatusError",
    "chat_json",
    "complete_json",
    "forget_response_formats",
    "retry_after_seconds",
]
