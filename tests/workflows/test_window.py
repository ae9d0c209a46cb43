"""The parent's adaptive window of children, step by step (the decision alone; the
stub-activity tests run it in a workflow)."""

from __future__ import annotations

from docbatch.messages import ParentState
from workflows.batch_parent import MIN_WINDOW, BatchParentWorkflow


def _parent(window: int, most: int = 10) -> BatchParentWorkflow:
    parent = BatchParentWorkflow()
    parent._state = ParentState(window=window, max_concurrent_children=most)
    return parent


def _windows(parent: BatchParentWorkflow, queued: str) -> list[int]:
    """The window after each child: ``q`` queued, ``.`` taken up at once."""
    seen = []
    for mark in queued:
        parent._adapt_window(queued=mark == "q")
        seen.append(parent._window())
    return seen


def test_the_window_widens_per_window_of_children_and_narrows_per_queued_child() -> None:
    parent = _parent(4)
    assert _windows(parent, ".........") == [4, 4, 4, 5, 5, 5, 5, 5, 6]
    assert _windows(parent, "..qq") == [6, 6, 5, 4]  # a queued child resets the count
    assert _windows(parent, "....") == [4, 4, 4, 5]


def test_the_window_stays_within_its_bounds() -> None:
    parent = _parent(5, most=6)
    assert _windows(parent, "....." + "......" + "......") == [5] * 4 + [6] + [6] * 12
    assert _windows(parent, "qqqqqq") == [5, 4, 3, MIN_WINDOW, MIN_WINDOW, MIN_WINDOW]
    narrow = _parent(1, most=1)
    assert _windows(narrow, "q.q.") == [1, 1, 1, 1]


def test_a_run_that_does_not_adapt_keeps_the_most_children_in_flight() -> None:
    parent = _parent(0, most=7)  # recorded before the window adapted
    assert _windows(parent, ".q.q") == [7, 7, 7, 7]
