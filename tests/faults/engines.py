"""Engines for fault injection, run in the worker's engine process pool.

Module-level functions, so the spawned pool processes can import them. Behaviour is
chosen by the file name, so one engine serves a whole batch of mixed documents:

- a name containing ``hang-once`` sleeps forever the first time it is run, and is
  processed normally when run again (an attempt that hung on a worker that died);
- any other name containing ``hang`` sleeps forever (an engine that never returns);
- a name containing ``gate`` waits until a file ``.gate-open`` exists beside the document
  (hidden files are not registered by a folder scan), so a test decides when it finishes;
- anything else runs the real engine.

Hanging and gated documents first leave a marker (``.<name>.started``) beside the
document, so a test knows the engine is really running them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NoReturn

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.registry import run_engine

GATE_FILE = ".gate-open"
_POLL_SECONDS = 0.05


def started_marker(document: Path) -> Path:
    """The file an engine creates when it starts on a hanging or gated document."""
    return document.with_name(f".{document.name}.started")


def fault_engine(request: EngineRequest) -> EngineResult:
    """The real engine, except for documents named to hang or to wait on the gate."""
    document = Path(request.path)
    name = Path(request.file_name).name
    marker = started_marker(document)
    if "hang-once" in name:
        if marker.exists():
            return run_engine(request)
        marker.write_text(str(os.getpid()))
        _hang()
    if "hang" in name or "gate" in name:
        marker.write_text(str(os.getpid()))
    if "hang" in name:
        _hang()
    if "gate" in name:
        gate = document.parent / GATE_FILE
        while not gate.exists():
            time.sleep(_POLL_SECONDS)
    return run_engine(request)


def echo_engine(request: EngineRequest) -> EngineResult:
    """A trivial engine (no parsing): the document's text, at once."""
    return EngineResult(
        content=Path(request.path).read_text(), content_type="text/plain", extension="txt"
    )


def _hang() -> NoReturn:
    while True:
        time.sleep(3600)


def open_gate(folder: Path) -> None:
    """Let every gated document of ``folder`` finish."""
    (folder / GATE_FILE).touch()


INVOCATION_LOG_VARIABLE = "DOCBATCH_TEST_INVOCATION_LOG"
"""File to which ``logging_engine`` appends one line per invocation."""
WORKER_NAME_VARIABLE = "DOCBATCH_TEST_WORKER_NAME"
"""Name of the worker process whose engine pool runs the engine (inherited from it)."""


def logging_engine(request: EngineRequest) -> EngineResult:
    """``echo_engine``, first appending ``<document name> <worker name>`` to the invocation
    log, so a test can see how often each document ran and on which worker.

    One short ``O_APPEND`` write per line: lines of concurrent processes never interleave.
    """
    line = f"{Path(request.file_name).name} {os.environ.get(WORKER_NAME_VARIABLE, '?')}\n"
    with open(os.environ[INVOCATION_LOG_VARIABLE], "a") as log:
        log.write(line)
    return echo_engine(request)
