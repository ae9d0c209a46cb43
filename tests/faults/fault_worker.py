"""``python -m tests.faults.fault_worker``: ``worker.py`` with the fault-injection engine.

A worker *process* whose engine can hang (see ``tests.faults.engines``), so a test can
kill the process that runs a hung item. Everything else is ``worker.py``'s: the same
resources, ``build_worker`` and environment settings.
"""

from __future__ import annotations

import asyncio

import worker as worker_module
from tests.faults.engines import fault_engine

if __name__ == "__main__":
    asyncio.run(worker_module.main(engine=fault_engine))
