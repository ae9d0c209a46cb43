"""Stored parent histories replay on today's workflow code.

Each history under ``histories/`` is a run of ``BatchParentWorkflow`` or
``BatchItemWorkflow`` recorded by the tests that make it (``DOCBATCH_RECORD_HISTORIES=1``):
cancel signals with no input, a plain string and a reason of the wrong type; pause and
resume with no input; a pause carried through continue-as-new, a SIGKILLed worker and a
server restart; from the stub-activity tests, pages through continue-as-new with items
on the quick and the durable path and a broken file, and a cancel of a running item. A change to
the workflow that would break jobs already running breaks this test.
"""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType

from tests.workflows.helpers import replay, stored_histories

STORED = stored_histories()


def test_the_stored_histories_cover_signals_and_continue_as_new() -> None:
    events = [event for history in STORED.values() for event in history.events]
    signals = {
        event.workflow_execution_signaled_event_attributes.signal_name
        for event in events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    }
    assert {"cancel", "pause", "resume"} <= signals
    assert any(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        for event in events
    )


def test_the_stored_histories_cover_items_on_both_paths_and_cancelled() -> None:
    kinds: dict[str, list[set[int]]] = {}
    for history in STORED.values():
        started = history.events[0].workflow_execution_started_event_attributes
        kinds.setdefault(started.workflow_type.name, []).append(
            {event.event_type for event in history.events}
        )
    items = kinds["BatchItemWorkflow"]
    assert any(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED in events for events in items)
    assert any(EventType.EVENT_TYPE_MARKER_RECORDED in events for events in items)
    # A cancelled batch's running item: cancelled, or terminated as its parent ended.
    assert any(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in events
        or EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED in events
        for events in items
    )
    assert any(
        EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED in events
        or EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in events
        for events in kinds["BatchParentWorkflow"]
    )


@pytest.mark.parametrize("name", sorted(STORED))
async def test_stored_history_replays(name: str) -> None:
    await replay([STORED[name]])
