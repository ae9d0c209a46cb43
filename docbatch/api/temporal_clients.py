"""Temporal clients for the API: connected lazily, one per namespace, 503 when unreachable."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RetryConfig

from docbatch.service import TemporalUnavailableError
from docbatch.settings import Settings
from docbatch.temporal import connect, with_namespace

CONNECT_TIMEOUT_SECONDS = 5.0
# Fail an API call in seconds, not after the SDK's default minute of retries.
API_RETRY_CONFIG = RetryConfig(
    initial_interval_millis=100,
    max_interval_millis=1000,
    max_retries=3,
    max_elapsed_time_millis=5000,
)


class TemporalClients:
    """Hands out clients per namespace; the API starts even while Temporal is down."""

    def __init__(
        self, settings: Settings, client: Client | None = None, *, runtime: Runtime | None = None
    ) -> None:
        self._settings = settings
        self._base = client
        self._runtime = runtime
        self._lock = asyncio.Lock()

    async def get(self, namespace: str | None = None) -> Client:
        """A client for ``namespace`` (default: the settings'); raises if unreachable."""
        base = await self._connected()
        return with_namespace(base, namespace or self._settings.temporal_namespace)

    async def _connected(self) -> Client:
        if self._base is not None:
            return self._base
        async with self._lock:
            if self._base is None:
                try:
                    self._base = await asyncio.wait_for(
                        connect(
                            self._settings, retry_config=API_RETRY_CONFIG, runtime=self._runtime
                        ),
                        CONNECT_TIMEOUT_SECONDS,
                    )
                except (RuntimeError, TimeoutError, OSError) as exc:
                    raise TemporalUnavailableError(
                        f"Temporal is not reachable at {self._settings.temporal_address}"
                    ) from exc
            return self._base

    async def check(self) -> None:
        """Raise ``TemporalUnavailableError`` unless the frontend answers a health check."""
        client = await self._connected()
        try:
            await client.service_client.check_health(timeout=timedelta(seconds=2))
        except Exception as exc:
            raise TemporalUnavailableError("Temporal health check failed") from exc
