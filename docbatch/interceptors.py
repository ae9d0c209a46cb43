"""The worker's activity interceptor: log context and metrics around every activity.

Every activity attempt runs with structlog context variables bound — ``workflow_id``,
``run_id``, ``activity_type``, ``attempt`` and, when the activity's input has them,
``job_id`` and ``item_id`` — so each line it logs carries them, through structlog or
through ``activity.logger`` (``docbatch.logging`` merges the context into stdlib records
too). They are unbound when the attempt ends.

It also records, for every activity type, the queue lag of each attempt (scheduled →
started) and the attempts in progress. Item outcomes are counted by the store itself,
where they happen: the worker opens it with ``docbatch.metrics.item_ended`` as its
observer.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from docbatch import metrics

log = structlog.get_logger("docbatch.interceptors")


class ObservabilityInterceptor(Interceptor):
    """Binds log context and records docbatch's activity metrics around every attempt."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap the worker's activity calls."""
        return _ActivityObserver(next)


def activity_context(input: ExecuteActivityInput) -> dict[str, Any]:
    """The log context of the running activity attempt."""
    info = activity.info()
    context: dict[str, Any] = {
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "activity_type": info.activity_type,
        "attempt": info.attempt,
    }
    argument = input.args[0] if input.args else None
    for key in ("job_id", "item_id"):
        value = getattr(argument, key, None)
        if isinstance(value, str):
            context[key] = value
    return context


class _ActivityObserver(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        scheduled = info.current_attempt_scheduled_time
        if scheduled is not None:
            lag = (info.started_time - scheduled).total_seconds()
            metrics.ACTIVITY_QUEUE_LAG.labels(info.activity_type).observe(max(0.0, lag))
        in_progress = metrics.ACTIVITIES_IN_PROGRESS.labels(info.activity_type)
        started = time.monotonic()
        with (
            structlog.contextvars.bound_contextvars(**activity_context(input)),
            in_progress.track_inprogress(),
        ):
            try:
                result = await self.next.execute_activity(input)
            except BaseException as err:
                seconds = round(time.monotonic() - started, 3)
                log.debug("activity raised", error=type(err).__name__, seconds=seconds)
                raise
            log.debug("activity completed", seconds=round(time.monotonic() - started, 3))
            return result
