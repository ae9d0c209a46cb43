"""``GET /health``: liveness of the API and what it depends on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from docbatch.api.deps import StateDep
from docbatch.errors import DocbatchError

router = APIRouter(tags=["health"])


@router.get("/health", summary="Health")
async def health(state: StateDep) -> JSONResponse:
    """200 when the store and Temporal answer, 503 naming what does not."""
    checks: dict[str, str] = {}
    try:
        await state.store.ping()
        checks["store"] = "ok"
    except Exception as exc:
        checks["store"] = f"unavailable: {type(exc).__name__}"
    try:
        await state.temporal.check()
        checks["temporal"] = "ok"
    except DocbatchError as exc:
        checks["temporal"] = f"unavailable: {exc}"
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", **checks},
        status_code=200 if healthy else 503,
    )
