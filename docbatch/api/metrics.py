"""Prometheus for the API: ``GET /metrics`` and the HTTP request metrics it serves.

``/metrics`` needs no key (as a Prometheus scrape expects) and is left out of the
OpenAPI schema: it is not part of the reference API the official client knows.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docbatch import metrics
from docbatch.api.deps import StateDep

UNMATCHED_ROUTE = "unmatched"
"""Route label of requests no route matched (their paths would make unbounded labels)."""

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, state: StateDep) -> Response:
    """docbatch's metrics (and the SDK's of the API's Temporal client) for Prometheus."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(state.metrics), media_type=content_type)


class HttpMetricsMiddleware:
    """Counts requests and times them by method, route template and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; record it once answered (or failed)."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_recording_status)
        finally:
            # The router puts the matched route in the scope: label by its template.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
