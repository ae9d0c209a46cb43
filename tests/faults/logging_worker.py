"""``python -m tests.faults.logging_worker``: ``worker.py`` with ``logging_engine``.

A worker *process* whose engine records every invocation (see
``tests.faults.engines.logging_engine``), so a test running several workers can tell
which documents ran, how often, and where. Everything else is ``worker.py``'s: the same
resources, ``build_worker`` and environment settings (store URL included).
"""

from __future__ import annotations

import asyncio

import worker as worker_module
from tests.faults.engines import logging_engine

if __name__ == "__main__":
    asyncio.run(worker_module.main(engine=logging_engine))
