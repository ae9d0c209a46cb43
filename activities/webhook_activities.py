"""Activities for webhooks: record a job event once, deliver it to one endpoint."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from docbatch import webhooks
from docbatch.errors import ConfigError
from docbatch.messages import DeliverWebhookInput, RecordEventInput, RecordEventOutput
from docbatch.products.events import event_body
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.views import job_model

TARGET_REFUSED = "WebhookTargetRefused"


class WebhookActivities:
    """Webhook bookkeeping and delivery, with one shared HTTP client."""

    def __init__(self, store: Store, settings: Settings, http: httpx.AsyncClient) -> None:
        self._store = store
        self._settings = settings
        self._http = http

    @activity.defn
    async def record_event(self, request: RecordEventInput) -> RecordEventOutput:
        """Snapshot the job for an event its endpoints subscribed to (idempotent)."""
        job = await self._store.jobs.get_job(request.job_id)
        name = webhooks.job_event_type(job, request.suffix)
        event_id = webhooks.event_id(job.id, request.suffix)
        wanted = [t for t in webhooks.job_targets(job) if t.wants(name)]
        if not wanted:
            return RecordEventOutput(event_id=event_id, targets=0)
        payload: dict[str, Any] = {"event_id": event_id, "event_type": name}
        if job.batch_config_json:
            payload |= await event_body(self._store, job)
        else:
            payload["job"] = job_model(job).model_dump(mode="json")
        await self._store.webhooks.record_webhook_event(
            event_id=event_id, job_id=job.id, event_type=name, payload=payload
        )
        return RecordEventOutput(event_id=event_id, targets=len(wanted))

    @activity.defn
    async def deliver_webhook(self, request: DeliverWebhookInput) -> int:
        """POST the event to one endpoint; any failure is raised and retried with backoff."""
        event = await self._store.webhooks.get_webhook_event(request.event_id)
        job = await self._store.jobs.get_job(event.job_id)
        wanted = [t for t in webhooks.job_targets(job) if t.wants(event.event_type)]
        target = wanted[request.target_index]
        try:
            webhooks.check_target(
                target.url, allow_private=self._settings.webhook_allow_private_targets
            )
        except ConfigError as exc:
            raise ApplicationError(str(exc), type=TARGET_REFUSED, non_retryable=True) from None
        status = await webhooks.deliver(
            self._http,
            target,
            event_id=event.event_id,
            event_type=event.event_type,
            payload=event.payload,
            secret=webhooks.webhook_secret(self._settings),
        )
        activity.logger.info(
            "webhook %s delivered to endpoint %d (HTTP %d)",
            event.event_type,
            request.target_index,
            status,
        )
        return status
