"""The processes' event loop (docbatch.loop): uvloop, and it runs a coroutine to its end."""

from __future__ import annotations

import asyncio

import uvloop

from docbatch.loop import run_main


async def _loop_type_after_a_thread_hop() -> type:
    await asyncio.to_thread(lambda: None)  # a wake-up from another thread, as aiosqlite does
    return type(asyncio.get_running_loop())


def test_run_main_runs_on_uvloop() -> None:
    assert run_main(_loop_type_after_a_thread_hop()) is uvloop.Loop
