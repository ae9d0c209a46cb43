"""The webhook events aggregate: job events recorded once, for delivery."""

from __future__ import annotations

import json
from typing import Any

from docbatch.errors import NotFoundError
from docbatch.store.db import Repository
from docbatch.store.tables import WebhookEventRow
from docbatch.store.types import WebhookEvent, utcnow


class WebhookEventRepository(Repository):
    """Webhook events: recorded (idempotently) and read back for delivery."""

    async def record_webhook_event(
        self, *, event_id: str, job_id: str, event_type: str, payload: dict[str, Any]
    ) -> None:
        """Store an event once (a retried activity keeps the first snapshot)."""
        async with self._transaction() as session:
            await session.execute(
                self._insert(WebhookEventRow)
                .values(
                    event_id=event_id,
                    job_id=job_id,
                    event_type=event_type,
                    payload_json=json.dumps(payload),
                    created_at=utcnow(),
                    delivered_targets=0,
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
            )

    async def get_webhook_event(self, event_id: str) -> WebhookEvent:
        """A recorded event."""
        async with self._read() as session:
            row = await session.get(WebhookEventRow, event_id)
        if row is None:
            raise NotFoundError(f"webhook event {event_id} not found")
        return WebhookEvent(
            event_id=row.event_id,
            job_id=row.job_id,
            event_type=row.event_type,
            payload=json.loads(row.payload_json),
        )
