"""Domain errors to HTTP at the edge: JSON bodies, the offending field, no stack traces.

The reference client retries 408/409/429/5xx; 4xx answers carry ``x-should-retry: false``
so a conflict is reported at once instead of after five retries.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from docbatch.errors import (
    ConfigError,
    ConflictError,
    DocbatchError,
    NotFoundError,
    TooLargeError,
)
from docbatch.service import TemporalUnavailableError

log = structlog.get_logger("docbatch.api")

_NO_RETRY = {"x-should-retry": "false"}
_TAGS = ("parse", "classify", "extract")


def error_response(
    status_code: int, detail: Any, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error in FastAPI's shape (``{"detail": ...}``)."""
    merged = {**(_NO_RETRY if status_code < 500 else {}), **(headers or {})}
    return JSONResponse({"detail": detail}, status_code=status_code, headers=merged)


_HEADER_FIELDS = frozenset({"temporal-namespace"})


def _field_error(field: str | None, message: str) -> dict[str, Any]:
    where = "header" if field in _HEADER_FIELDS else "body"
    loc: list[str] = [where, *field.split(".")] if field else [where]
    return {"loc": loc, "msg": message, "type": "value_error"}


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    # Drop the union tag pydantic puts into locations ("job_config.parse.parameters").
    loc = [part for part in error.get("loc", ()) if part not in _TAGS]
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown field"
    field = ".".join(str(part) for part in loc[1:])
    return {
        "loc": loc,
        "msg": f"{field}: {message}" if field else message,
        "type": error.get("type", "value_error"),
    }


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, [_clean(dict(e)) for e in exc.errors()])


async def _config(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConfigError)
    message = (
        f"{exc.field}: {exc}" if exc.field and not str(exc).startswith(exc.field) else str(exc)
    )
    return error_response(422, [_field_error(exc.field, message)])


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_404_NOT_FOUND, str(exc))


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_409_CONFLICT, str(exc))


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"retry-after": "5"}
    )


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    return error_response(413, str(exc))


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_400_BAD_REQUEST, str(exc))


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, exc.detail, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping from exceptions to HTTP responses."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ConfigError, _config)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(TemporalUnavailableError, _unavailable)
    app.add_exception_handler(TooLargeError, _too_large)
    app.add_exception_handler(DocbatchError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
