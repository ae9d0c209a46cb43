"""``BatchItemWorkflow``: process one item of a batch job, record its outcome once.

Two paths. Most documents take a fraction of a second, so the item first tries a *quick
attempt* as a local activity inside its first workflow task: no task-queue round trip, no
activity events, one workflow task for the whole item. A document the quick attempt does
not finish (the engine processes are busy, or it needs more than a few seconds) goes to
the *durable path*: a regular activity with the full time limit, heartbeats, and retries.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, TimeoutError
from temporalio.exceptions import CancelledError as TemporalCancelledError

from activities.item_activities import DOCUMENT_ERROR_TYPE, ItemActivities
from docbatch.messages import ItemFailureInput, ItemInput, ItemOutcome
from docbatch.models import ItemStatus
from docbatch.temporal import JOB_STATUS

ENGINE_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
"""The activity heartbeats every 2 s for its whole attempt: a dead worker shows in 10 s."""
ENGINE_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[DOCUMENT_ERROR_TYPE],
)
QUICK_ATTEMPT_TIMEOUT = timedelta(seconds=30)
"""Bounds a quick attempt (its engine budget is 3 s); past it the durable path takes over."""
QUICK_ATTEMPT_RETRY_POLICY = RetryPolicy(maximum_attempts=1)
"""A quick attempt is never retried in place: whatever went wrong, the durable path retries."""
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
BOOKKEEPING_RETRY_POLICY = RetryPolicy(maximum_interval=timedelta(seconds=10))


# Not sandboxed: this workflow only sequences activities (no I/O, clock or randomness of
# its own), and a sandbox per item would cost more than the rest of its workflow task.
@workflow.defn(sandboxed=False)
class BatchItemWorkflow:
    """Run the engine on one item; a bad file fails the item, not the batch."""

    @workflow.run
    async def run(self, item: ItemInput) -> ItemOutcome:
        """Process the item, mark the workflow with the item's final status, return it."""
        try:
            outcome = await self._process(item)
        except asyncio.CancelledError:
            # The batch was cancelled: record it, keep any output already written.
            await workflow.execute_local_activity_method(
                ItemActivities.record_item_cancelled,
                item,
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY_POLICY,
            )
            workflow.upsert_search_attributes([JOB_STATUS.value_set(ItemStatus.CANCELLED.value)])
            raise
        workflow.upsert_search_attributes([JOB_STATUS.value_set(outcome.status.value)])
        return outcome

    async def _process(self, item: ItemInput) -> ItemOutcome:
        name = item.item_name or item.item_id
        queued = False
        try:
            outcome = await workflow.execute_local_activity_method(
                ItemActivities.process_item_now,
                item,
                start_to_close_timeout=QUICK_ATTEMPT_TIMEOUT,
                retry_policy=QUICK_ATTEMPT_RETRY_POLICY,
                summary=f"{name} (quick attempt)",
            )
            if outcome.status.is_terminal:
                return outcome
            # Left pending: no engine process was free (the parent narrows its window).
            queued = outcome.status == ItemStatus.PENDING
        except FailureError as err:
            # A local activity's failure may arrive unwrapped (its own error, a timeout).
            settled = _settled(item, err)
            if settled is not None:
                return settled
            # Anything else (a crash, the store unavailable): the durable path retries it.
        outcome = await self._durably(item, name)
        return outcome.model_copy(update={"queued": True}) if queued else outcome

    async def _durably(self, item: ItemInput, name: str) -> ItemOutcome:
        """The durable path: a regular activity, retried; record the failure if it gives up."""
        try:
            return await workflow.execute_activity_method(
                ItemActivities.process_item,
                item,
                start_to_close_timeout=timedelta(seconds=item.timeout_seconds),
                heartbeat_timeout=ENGINE_HEARTBEAT_TIMEOUT,
                retry_policy=ENGINE_RETRY_POLICY,
                summary=name,
            )
        except ActivityError as err:
            settled = _settled(item, err)
            if settled is not None:
                return settled
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


def _settled(item: ItemInput, err: FailureError) -> ItemOutcome | None:
    """The item's outcome if the activity's error decides it; None if it may be retried.

    Raises ``asyncio.CancelledError`` when the batch was cancelled while the engine ran.
    """
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, TemporalCancelledError):
        raise asyncio.CancelledError from err
    if isinstance(cause, ApplicationError) and cause.type == DOCUMENT_ERROR_TYPE:
        # The activity already recorded the failure with this message.
        return ItemOutcome(
            item_id=item.item_id, status=ItemStatus.FAILED, error_message=cause.message
        )
    return None


def _describe_failure(err: ActivityError, timeout_seconds: float) -> str:
    """A readable reason why processing gave up, for the item's ``error_message``."""
    cause = err.cause
    if isinstance(cause, TimeoutError):
        return f"processing timed out (limit {timeout_seconds:g}s per attempt)"
    attempts = ENGINE_RETRY_POLICY.maximum_attempts
    if isinstance(cause, ApplicationError):
        return f"processing failed after {attempts} attempts: {cause.message}"[:1000]
    return f"processing failed after {attempts} attempts: {cause or err}"[:1000]
