"""``WebhookDeliveryWorkflow``: deliver one job event to its endpoints, for hours if needed.

Started by the batch parent with ``ParentClosePolicy.ABANDON`` so delivery outlives the
job; each endpoint is its own activity, so one slow receiver delays no other.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhook_activities import TARGET_REFUSED, WebhookActivities
    from docbatch.messages import DeliverWebhookInput, WebhookDeliveryInput

MAX_RETRY_INTERVAL = timedelta(minutes=30)


@workflow.defn
class WebhookDeliveryWorkflow:
    """Deliver an event to every subscribed endpoint with exponential backoff."""

    @workflow.run
    async def run(self, request: WebhookDeliveryInput) -> int:
        """Return how many endpoints accepted the event within the retry window."""
        results = await asyncio.gather(
            *(self._deliver(request, index) for index in range(request.targets))
        )
        return sum(results)

    async def _deliver(self, request: WebhookDeliveryInput, index: int) -> int:
        try:
            await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                DeliverWebhookInput(event_id=request.event_id, target_index=index),
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=timedelta(hours=request.retry_hours),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=request.initial_retry_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=MAX_RETRY_INTERVAL,
                    non_retryable_error_types=[TARGET_REFUSED],
                ),
            )
        except ActivityError:
            workflow.logger.warning(
                "webhook event %s not delivered to endpoint %d", request.event_id, index
            )
            return 0
        return 1
