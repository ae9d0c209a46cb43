"""A scriptable OpenAI-compatible chat-completions server for tests.

It stands in for a paid LLM service (OpenAI or any compatible provider), which tests
must not call: it is a real HTTP server on 127.0.0.1 (stdlib ``ThreadingHTTPServer`` in
a background thread), so the client under test goes through real sockets, headers,
status codes and timeouts. Each test scripts the answers in order and inspects the
requests the server received::

    with FakeLLM() as llm:
        llm.reply_json({"type": "memo", "confidence": 0.9})
        ...  # run code with options=llm.options()
        assert llm.requests[0].body["response_format"]["type"] == "json_schema"

Requests with a wrong ``Authorization`` header get a 401 like a real service (and are
recorded); a request with no scripted response left gets a 500 that names the problem,
so a test that calls the service more often than it planned fails loudly.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DEFAULT_API_KEY = "sk-test-fake-llm-key-0123456789"
DEFAULT_MODEL = "fake-vision-model"


@dataclass(frozen=True)
class ScriptedResponse:
    """One scripted answer: status, headers and body (a dict is sent as JSON).

    ``delay`` holds the answer back (to trigger client timeouts); ``drop`` closes the
    connection without answering (a transport error).
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received, with the monotonic time it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    raw: bytes
    received_at: float

    @property
    def body(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.raw)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body["messages"])

    def text(self) -> str:
        """All text parts of all messages, joined (to look for what the prompt said)."""
        parts: list[str] = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if p.get("type") == "text")
        return "\n".join(parts)

    def images(self) -> list[tuple[str, bytes]]:
        """``(mime type, bytes)`` of every ``image_url`` data-URL part sent."""
        found: list[tuple[str, bytes]] = []
        for message in self.messages:
            content = message.get("content")
            if not isinstance(content, list):
                continue
            for part in content:
                if part.get("type") != "image_url":
                    continue
                url = part["image_url"]["url"]
                header, _, data = url.partition(",")
                mime = header.removeprefix("data:").removesuffix(";base64")
                found.append((mime, base64.b64decode(data)))
        return found


def completion(
    content: str | None, *, model: str = DEFAULT_MODEL, **message: Any
) -> dict[str, Any]:
    """An OpenAI chat-completion body whose first choice says ``content``."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def error_body(
    message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up early (timeouts are scripted on purpose)."""


class FakeLLM:
    """The fake service: start it (context manager), script answers, read ``requests``."""

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, model: str = DEFAULT_MODEL) -> None:
        self.api_key = api_key
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._queue: deque[ScriptedResponse] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -------------------------------------------------------------- lifecycle

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``…/v1``) to configure the client with."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def options(self, **extra: Any) -> dict[str, Any]:
        """Engine ``options`` pointing at this server (``extra`` goes into ``llm``)."""
        return {
            "llm": {
                "base_url": self.base_url,
                "api_key": self.api_key,
                "model": self.model,
                **extra,
            }
        }

    # -------------------------------------------------------------- scripting

    def enqueue(self, *responses: ScriptedResponse) -> None:
        """Answer the next requests with ``responses``, in order."""
        with self._lock:
            self._queue.extend(responses)

    def reply_json(self, data: Any, **kwargs: Any) -> None:
        """Answer the next request with a completion whose content is ``data`` as JSON."""
        self.reply_content(json.dumps(data), **kwargs)

    def reply_content(self, content: str | None, **message: Any) -> None:
        """Answer the next request with a completion whose content is ``content``."""
        self.enqueue(ScriptedResponse(body=completion(content, model=self.model, **message)))

    def reply_error(
        self,
        status: int,
        message: str = "error",
        *,
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        """Answer the next request with an HTTP error and an OpenAI-style error body."""
        self.enqueue(
            ScriptedResponse(
                status=status, body=error_body(message, param=param), headers=headers or {}
            )
        )

    @property
    def pending(self) -> int:
        """Scripted responses not consumed yet."""
        with self._lock:
            return len(self._queue)

    # -------------------------------------------------------------- serving

    def _next(self, request: RecordedRequest) -> ScriptedResponse:
        with self._lock:
            self.requests.append(request)
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                # Like a real service, echoing a hint of the key it rejected: the client
                # must not let that reach its error messages.
                given = request.headers.get("authorization", "")
                return ScriptedResponse(
                    status=401,
                    body=error_body(f"Incorrect API key provided: {given}", code="invalid_api_key"),
                )
            if request.path != "/v1/chat/completions" or request.method != "POST":
                return ScriptedResponse(status=404, body=error_body(f"no route {request.path}"))
            if not self._queue:
                return ScriptedResponse(
                    status=500, body=error_body("fake LLM: no scripted response left")
                )
            return self._queue.popleft()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                recorded = RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    raw=raw,
                    received_at=time.monotonic(),
                )
                self._answer(fake._next(recorded))

            def do_GET(self) -> None:
                recorded = RecordedRequest(
                    method="GET",
                    path=self.path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    raw=b"",
                    received_at=time.monotonic(),
                )
                self._answer(fake._next(recorded))

            def _answer(self, scripted: ScriptedResponse) -> None:
                if scripted.delay:
                    time.sleep(scripted.delay)
                if scripted.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = scripted.body
                if isinstance(body, str):
                    data, content_type = body.encode(), "text/plain; charset=utf-8"
                elif isinstance(body, bytes):
                    data, content_type = body, "application/octet-stream"
                else:
                    data, content_type = json.dumps(body).encode(), "application/json"
                self.send_response(scripted.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Silence per-request logging on stderr."""

        return Handler
