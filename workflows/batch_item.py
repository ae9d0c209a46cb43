"""``BatchItemWorkflow``: process one item of a batch job, record its outcome once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError
from temporalio.exceptions import CancelledError as TemporalCancelledError

with workflow.unsafe.imports_passed_through():
    from activities.item_activities import DOCUMENT_ERROR_TYPE, ItemActivities
    from docbatch.messages import ItemFailureInput, ItemInput, ItemOutcome
    from docbatch.models import ItemStatus

ENGINE_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
"""The activity heartbeats every 2 s for its whole attempt: a dead worker shows in 10 s."""
ENGINE_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[DOCUMENT_ERROR_TYPE],
)
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
BOOKKEEPING_RETRY_POLICY = RetryPolicy(maximum_interval=timedelta(seconds=10))


@workflow.defn
class BatchItemWorkflow:
    """Run the engine activity on one item; a bad file fails the item, not the batch."""

    @workflow.run
    async def run(self, item: ItemInput) -> ItemOutcome:
        """Process the item and return its final status."""
        try:
            return await workflow.execute_activity_method(
                ItemActivities.process_item,
                item,
                start_to_close_timeout=timedelta(seconds=item.timeout_seconds),
                heartbeat_timeout=ENGINE_HEARTBEAT_TIMEOUT,
                retry_policy=ENGINE_RETRY_POLICY,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, TemporalCancelledError):
                # The batch was cancelled while the engine ran: a cancellation, not a failure.
                await self._record_cancelled(item)
                raise asyncio.CancelledError from err
            if isinstance(cause, ApplicationError) and cause.type == DOCUMENT_ERROR_TYPE:
                # The activity already recorded the failure with this message.
                return ItemOutcome(
                    item_id=item.item_id, status=ItemStatus.FAILED, error_message=cause.message
                )
            return await workflow.execute_local_activity_method(
                ItemActivities.record_item_failure,
                ItemFailureInput(
                    job_id=item.job_id,
                    item_id=item.item_id,
                    error_message=_describe_failure(err, item.timeout_seconds),
                ),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY_POLICY,
            )
        except asyncio.CancelledError:
            # The batch was cancelled: record it, keep any output already written.
            await self._record_cancelled(item)
            raise

    async def _record_cancelled(self, item: ItemInput) -> None:
        await workflow.execute_local_activity_method(
            ItemActivities.record_item_cancelled,
            item,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY_POLICY,
        )


def _describe_failure(err: ActivityError, timeout_seconds: float) -> str:
    """A readable reason why processing gave up, for the item's ``error_message``."""
    cause = err.cause
    if isinstance(cause, TimeoutError):
        return f"processing timed out (limit {timeout_seconds:g}s per attempt)"
    attempts = ENGINE_RETRY_POLICY.maximum_attempts
    if isinstance(cause, ApplicationError):
        return f"processing failed after {attempts} attempts: {cause.message}"[:1000]
    return f"processing failed after {attempts} attempts: {cause or err}"[:1000]
