"""Stored parent histories replay on today's workflow code.

Each history under ``histories/`` is a run of ``BatchParentWorkflow`` recorded by the
tests that make it (``DOCBATCH_RECORD_HISTORIES=1``): cancel signals with no input, a
plain string and a reason of the wrong type; pause and resume with no input; a pause
carried through continue-as-new, a SIGKILLed worker and a server restart. A change to
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


@pytest.mark.parametrize("name", sorted(STORED))
async def test_stored_history_replays(name: str) -> None:
    await replay([STORED[name]])
