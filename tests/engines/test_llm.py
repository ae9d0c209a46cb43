"""The chat-completions client against a real local HTTP server scripted per test."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import SecretStr

from docbatch.errors import ConfigError, DocumentError
from docbatch.llm import (
    JSON_ATTEMPTS,
    LLMConfig,
    LLMError,
    LLMRefusalError,
    LLMResponseError,
    LLMStatusError,
    chat_json,
    complete_json,
    retry_after_seconds,
)
from tests.fake_llm import FakeLLM, ScriptedResponse

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "total": {"type": "number"}},
    "required": ["title", "total"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "You read invoices."},
    {"role": "user", "content": "Invoice 42, total 12.50"},
]
ANSWER = {"title": "Invoice 42", "total": 12.5}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_for(server: FakeLLM, **overrides: Any) -> LLMConfig:
    """A client config for ``server`` with fast backoff (waits are not what is tested)."""
    return LLMConfig.from_options(server.options(backoff_seconds=0.01, **overrides))


def ask(config: LLMConfig, schema: dict[str, Any] | None = SCHEMA) -> dict[str, Any]:
    return chat_json(config, MESSAGES, schema=schema, schema_name="invoice")


# ------------------------------------------------------------------ requests


def test_sends_a_strict_json_schema_request_and_parses_the_answer(llm: FakeLLM) -> None:
    llm.reply_json(ANSWER)

    assert ask(config_for(llm)) == ANSWER

    [request] = llm.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {llm.api_key}"
    body = request.body
    assert body["model"] == llm.model
    assert body["messages"] == MESSAGES
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "invoice", "schema": SCHEMA, "strict": True},
    }
    assert "temperature" not in body


def test_complete_json_reports_model_usage_and_format(llm: FakeLLM) -> None:
    llm.reply_json(ANSWER)

    answer = complete_json(config_for(llm, temperature=0), MESSAGES, schema=SCHEMA, schema_name="x")

    assert answer.data == ANSWER
    assert answer.model == llm.model
    assert answer.response_format == "json_schema"
    assert answer.usage == {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    assert llm.requests[0].body["temperature"] == 0


def test_schema_names_are_made_acceptable_to_the_api(llm: FakeLLM) -> None:
    llm.reply_json(ANSWER)

    chat_json(config_for(llm), MESSAGES, schema=SCHEMA, schema_name="Invoice fields (v2)")

    assert llm.requests[0].body["response_format"]["json_schema"]["name"] == "Invoice_fields__v2_"


def test_without_a_schema_asks_for_a_json_object(llm: FakeLLM) -> None:
    llm.reply_json(ANSWER)

    assert ask(config_for(llm), schema=None) == ANSWER

    body = llm.requests[0].body
    assert body["response_format"] == {"type": "json_object"}
    assert "JSON" in body["messages"][0]["content"]


# ------------------------------------------------------------------ retries


def test_429_waits_for_retry_after(llm: FakeLLM) -> None:
    llm.reply_error(429, "Rate limit reached", headers={"Retry-After": "1"})
    llm.reply_json(ANSWER)

    assert ask(config_for(llm)) == ANSWER

    first, second = llm.requests
    # A lower bound on the delay the server asked for, measured where it arrives.
    assert second.received_at - first.received_at >= 1.0


def test_retry_after_is_capped(llm: FakeLLM) -> None:
    llm.reply_error(429, "Rate limit reached", headers={"Retry-After": "30"})
    llm.reply_json(ANSWER)

    assert ask(config_for(llm, max_retry_after_seconds=0.1)) == ANSWER

    first, second = llm.requests
    assert second.received_at - first.received_at < 30


@pytest.mark.parametrize("statuses", [[500], [503], [500, 502, 503, 504]])
def test_server_errors_are_retried(llm: FakeLLM, statuses: list[int]) -> None:
    for status in statuses:
        llm.reply_error(status, "The server had an error")
    llm.reply_json(ANSWER)

    assert ask(config_for(llm)) == ANSWER
    assert len(llm.requests) == len(statuses) + 1


def test_gives_up_after_max_retries(llm: FakeLLM) -> None:
    for _ in range(4):
        llm.reply_error(503, "Service overloaded")

    with pytest.raises(LLMStatusError) as caught:
        ask(config_for(llm, max_retries=2))

    assert len(llm.requests) == 3
    assert llm.pending == 1
    assert caught.value.status_code == 503
    assert caught.value.retryable
    assert not isinstance(caught.value, DocumentError)  # transient: Temporal retries
    assert "503" in str(caught.value)
    assert "Service overloaded" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, "Unsupported value: 'messages'"),
        (401, "check DOCBATCH_LLM_API_KEY"),
        (403, "check DOCBATCH_LLM_API_KEY"),
        (404, "check DOCBATCH_LLM_BASE_URL and DOCBATCH_LLM_MODEL"),
        (422, "Unsupported value: 'messages'"),
    ],
)
def test_other_client_errors_are_not_retried(llm: FakeLLM, status: int, hint: str) -> None:
    llm.reply_error(status, "Unsupported value: 'messages'")
    llm.reply_json(ANSWER)

    with pytest.raises(LLMStatusError) as caught:
        ask(config_for(llm))

    assert len(llm.requests) == 1
    assert caught.value.status_code == status
    assert not caught.value.retryable
    assert hint in str(caught.value)


def test_transport_errors_are_retried(llm: FakeLLM) -> None:
    llm.enqueue(ScriptedResponse(drop=True))
    llm.enqueue(ScriptedResponse(body=None, delay=1.0))  # longer than the client waits
    llm.reply_json(ANSWER)

    assert ask(config_for(llm, timeout_seconds=0.3)) == ANSWER
    assert len(llm.requests) == 3


def test_a_non_json_success_body_is_retried(llm: FakeLLM) -> None:
    llm.enqueue(ScriptedResponse(body="<html>gateway</html>"))
    llm.reply_json(ANSWER)

    assert ask(config_for(llm)) == ANSWER
    assert len(llm.requests) == 2


def test_unreachable_service_raises_a_transient_error() -> None:
    config = LLMConfig(
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        api_key="sk-unreachable-secret-key",
        model="m",
        max_retries=1,
        backoff_seconds=0.01,
    )

    with pytest.raises(LLMError) as caught:
        ask(config)

    assert not isinstance(caught.value, DocumentError)
    assert "unreachable" in str(caught.value)
    assert "sk-unreachable-secret-key" not in str(caught.value)


# ------------------------------------------------------------------ the API key


def test_api_key_never_appears_in_errors_or_repr(llm: FakeLLM) -> None:
    secret = "sk-live-this-key-must-stay-secret"
    config = LLMConfig.from_dict({"base_url": llm.base_url, "api_key": secret, "model": "m"})

    with pytest.raises(LLMStatusError) as caught:
        ask(config)

    # The fake echoes the rejected Authorization header in its error, as services do.
    assert secret in llm.requests[0].headers["authorization"]
    assert caught.value.status_code == 401
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert "[redacted]" in str(caught.value)
    assert secret not in repr(config)
    assert secret not in str(config)


def test_a_secret_str_key_is_accepted(llm: FakeLLM) -> None:
    llm.reply_json(ANSWER)
    config = LLMConfig.from_options(
        {"llm": {"base_url": llm.base_url, "api_key": SecretStr(llm.api_key), "model": "m"}}
    )

    assert ask(config) == ANSWER
    assert llm.requests[0].headers["authorization"] == f"Bearer {llm.api_key}"


# ------------------------------------------------------------------ response formats


def test_falls_back_to_json_object_when_json_schema_is_unsupported(llm: FakeLLM) -> None:
    unsupported = "response_format.type 'json_schema' is not supported by this model"
    llm.reply_error(400, unsupported, param="response_format")
    llm.reply_error(400, unsupported, param="response_format")
    llm.reply_json(ANSWER)
    llm.reply_json(ANSWER)
    config = config_for(llm)

    assert ask(config) == ANSWER

    strict, loose, json_object = (request.body for request in llm.requests)
    assert strict["response_format"]["json_schema"]["strict"] is True
    assert loose["response_format"]["json_schema"]["strict"] is False
    assert json_object["response_format"] == {"type": "json_object"}
    # The schema is no longer enforced by the server, so the prompt carries it.
    system = json_object["messages"][0]["content"]
    assert system.startswith("You read invoices.")
    assert "JSON" in system
    assert json.dumps(SCHEMA) in system
    assert json_object["messages"][1:] == MESSAGES[1:]

    # The next request goes straight to the format that worked.
    assert ask(config) == ANSWER
    assert len(llm.requests) == 4
    assert llm.requests[3].body["response_format"] == {"type": "json_object"}


def test_falls_back_to_non_strict_when_the_schema_is_not_strict_compatible(llm: FakeLLM) -> None:
    llm.reply_error(
        400,
        "Invalid schema for response_format 'invoice': In context=(), 'additionalProperties' "
        "is required to be supplied and to be false.",
        param="response_format",
    )
    llm.reply_json(ANSWER)

    answer = complete_json(config_for(llm), MESSAGES, schema=SCHEMA, schema_name="invoice")

    assert answer.data == ANSWER
    assert answer.response_format == "json_schema_loose"
    assert llm.requests[1].body["response_format"]["json_schema"]["strict"] is False
    assert llm.requests[1].body["messages"] == MESSAGES


def test_fails_when_no_response_format_is_accepted(llm: FakeLLM) -> None:
    for _ in range(4):
        llm.reply_error(400, "response_format is not supported", param="response_format")

    with pytest.raises(LLMStatusError) as caught:
        ask(config_for(llm))

    assert caught.value.status_code == 400
    assert len(llm.requests) == 4
    assert "response_format" not in llm.requests[3].body
    assert "JSON" in llm.requests[3].body["messages"][0]["content"]


# ------------------------------------------------------------------ answers


def test_unparseable_answers_are_asked_again(llm: FakeLLM) -> None:
    llm.reply_content('{"title": "Invoice 42", "total":')  # cut off mid-answer
    llm.reply_json(ANSWER)

    assert ask(config_for(llm)) == ANSWER
    assert len(llm.requests) == 2


def test_persistently_unparseable_answers_raise_a_transient_error(llm: FakeLLM) -> None:
    for _ in range(JSON_ATTEMPTS):
        llm.reply_content("Sure! The total is 12.50.")

    with pytest.raises(LLMResponseError) as caught:
        ask(config_for(llm))

    assert len(llm.requests) == JSON_ATTEMPTS
    assert not isinstance(caught.value, DocumentError)
    assert "not valid JSON" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        "[1, 2, 3]",
        "",
        None,
    ],
)
def test_answers_that_are_not_objects_are_rejected(llm: FakeLLM, content: str | None) -> None:
    for _ in range(JSON_ATTEMPTS):
        llm.reply_content(content)

    with pytest.raises(LLMResponseError):
        ask(config_for(llm))


def test_a_fenced_json_answer_is_accepted(llm: FakeLLM) -> None:
    llm.reply_content(f"```json\n{json.dumps(ANSWER)}\n```")

    assert ask(config_for(llm)) == ANSWER


def test_a_refusal_is_a_document_error(llm: FakeLLM) -> None:
    llm.reply_content(None, refusal="I can't help with that request.")
    llm.reply_json(ANSWER)

    with pytest.raises(LLMRefusalError) as caught:
        ask(config_for(llm))

    assert isinstance(caught.value, DocumentError)
    assert "refused" in str(caught.value)
    assert len(llm.requests) == 1


# ------------------------------------------------------------------ configuration


def test_missing_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DOCBATCH_LLM_BASE_URL") as caught:
        LLMConfig.from_options({})
    assert caught.value.field == "llm"

    with pytest.raises(ConfigError, match="missing model"):
        LLMConfig.from_options({"llm": {"base_url": "https://api.example.com/v1", "api_key": "k"}})

    with pytest.raises(ConfigError, match="http"):
        LLMConfig.from_dict({"base_url": "api.example.com", "model": "m"})

    with pytest.raises(ConfigError, match="max_retries"):
        LLMConfig.from_dict({"base_url": "http://x/v1", "model": "m", "max_retries": -1})


def test_config_defaults_and_normalisation() -> None:
    config = LLMConfig.from_dict({"base_url": " https://api.example.com/v1/ ", "model": "gpt"})

    assert config.base_url == "https://api.example.com/v1"
    assert config.api_key == ""
    assert config.timeout_seconds == 120
    assert config.max_retries == 5


def test_retry_after_values() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds("-3") == 0.0
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0
    )
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
