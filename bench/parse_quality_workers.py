"""Parsing for ``bench/parse_quality.py``: docbatch's parse engine and plain markitdown,
each file in a worker process that times itself, several workers in parallel; a file
past the timeout kills its worker, which another replaces."""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.parse_quality_files import Item

ENGINES = ("docbatch", "markitdown")


@dataclass
class Parsed:
    """One engine's output for one file, or why there is none."""

    markdown: str = ""
    error: str | None = None
    cpu: float = 0.0
    wall: float = 0.0
    pages: int | None = None


def _docbatch(path: Path) -> tuple[str, int | None]:
    from docbatch.engines.base import EngineRequest
    from docbatch.engines.registry import run_engine
    from docbatch.models import engine_config, load_job_config

    config = engine_config(load_job_config({}))
    request = EngineRequest(path=str(path), file_name=path.name, job_type="parse", config=config)
    result = run_engine(request)
    document = json.loads(result.content)
    return str(document["markdown"]), result.metadata.get("pages_parsed")


@functools.cache
def _markitdown_instance() -> Any:
    from markitdown import MarkItDown

    return MarkItDown()


def _markitdown(path: Path) -> tuple[str, int | None]:
    return str(_markitdown_instance().convert(str(path)).text_content), None


PARSERS: dict[str, Callable[[Path], tuple[str, int | None]]] = {
    "docbatch": _docbatch,
    "markitdown": _markitdown,
}


def _cpu_now() -> float:
    """CPU of this process and of the children it waited for (tesseract)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def _serve(connection: multiprocessing.connection.Connection) -> None:
    """A worker process: parse ``(engine, path)`` requests until ``None`` arrives."""
    with contextlib.suppress(Exception):
        from docbatch.engines.formats import quiet_third_party_output

        quiet_third_party_output()
    while (request := connection.recv()) is not None:
        engine, path = request
        cpu, wall = _cpu_now(), time.perf_counter()
        try:
            markdown, pages = PARSERS[engine](Path(path))
            error = None
        except BaseException as exc:
            markdown, pages = "", None
            error = f"{type(exc).__name__}: {exc}".strip()[:300] or traceback.format_exc()[-300:]
        connection.send(
            Parsed(markdown, error, _cpu_now() - cpu, time.perf_counter() - wall, pages)
        )


class Worker:
    """A worker process; a request past the timeout kills it and starts another."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self._connection, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()

    def parse(self, engine: str, path: Path, timeout: float) -> Parsed:
        """Parse ``path`` with ``engine`` in the worker process."""
        started = time.perf_counter()
        try:
            self._connection.send((engine, str(path)))
            if self._connection.poll(timeout):
                parsed: Parsed = self._connection.recv()
                return parsed
            error = f"timeout: no result after {timeout:.0f} s"
        except (EOFError, OSError) as exc:
            error = f"worker process died: {type(exc).__name__} {exc}"
        self.kill()
        self._start()
        return Parsed(error=error, wall=time.perf_counter() - started)

    def kill(self) -> None:
        """Stop the worker process at once."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)
        self._connection.close()

    def close(self) -> None:
        """Ask the worker process to finish, then make sure it has."""
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self._process.join(10)
        self.kill()


def parse_all(
    items: Sequence[Item], *, workers: int, timeout: float, warm_up: Path
) -> dict[tuple[str, str], Parsed]:
    """Every item parsed by every engine, ``workers`` worker processes in parallel.

    Each worker first parses ``warm_up`` with each engine (untimed), so that imports and
    model loads are not charged to the first file.
    """
    tasks: queue.Queue[tuple[Item, str]] = queue.Queue()
    for item in items:
        for engine in ENGINES:
            tasks.put((item, engine))
    parsed: dict[tuple[str, str], Parsed] = {}
    lock = threading.Lock()

    def run() -> None:
        worker = Worker()
        try:
            for engine in ENGINES:
                worker.parse(engine, warm_up, timeout)
            while True:
                try:
                    item, engine = tasks.get_nowait()
                except queue.Empty:
                    return
                result = worker.parse(engine, item.path, timeout)
                with lock:
                    parsed[(item.name, engine)] = result
                    status = "ok" if result.error is None else f"FAILED {result.error[:80]}"
                    print(f"  {engine:<10} {item.name:<45} {result.wall:6.1f} s  {status}")
        finally:
            worker.close()

    threads = [threading.Thread(target=run) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return parsed
