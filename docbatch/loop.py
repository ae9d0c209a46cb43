"""The event loop docbatch's processes run on: uvloop where it is installed (it comes
with ``uvicorn[standard]``), else asyncio's own.

A worker's loop is woken from other threads all the time: by every aiosqlite query's
result, every engine result and the Temporal SDK core's callbacks. asyncio's selector
loop pays a Python-level self-pipe write per wake-up (the worker profile's top function);
libuv's async handle does it in C.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_main(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when it is available."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a dependency everywhere but on Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
