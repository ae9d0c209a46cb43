"""What the benchmarks measure of the processes they start, read from ``/proc`` (CPU
seconds, memory, child and engine processes), and of time (percentiles, a stopwatch)
(``bench.harness``)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and of the children it waited for; 0 if gone.

    Waited-for children count so that an engine's helper programs (``tesseract``) are
    charged to the engine process that ran them.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def status_mb(pid: int, key: str) -> float:
    """A ``/proc/<pid>/status`` memory figure (``VmRSS``, ``VmHWM``) in MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children_of(pid: int) -> list[int]:
    """The direct child processes of ``pid``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return sorted(set(found))


def command_of(pid: int) -> str:
    """A process's command line, shortened."""
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return raw.strip()[:120]
    return "?"


class CpuMeter:
    """CPU seconds used by named processes (or groups of processes) inside a ``with``."""

    def __init__(self, pids: Mapping[str, int | Sequence[int]]) -> None:
        self._pids = {
            name: [pid] if isinstance(pid, int) else list(pid) for name, pid in pids.items()
        }
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(map(cpu_seconds, pids)) for name, pids in self._pids.items()}

    def __enter__(self) -> CpuMeter:
        self._before = self._now()
        return self

    def __exit__(self, *_: object) -> None:
        self.used = {name: seconds - self._before[name] for name, seconds in self._now().items()}


def engine_processes_of(pid: int) -> list[int]:
    """The engine processes (spawned by multiprocessing) a process started."""
    return [
        child
        for child in children_of(pid)
        if "multiprocessing" in command_of(child) and "resource_tracker" not in command_of(child)
    ]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0-100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as elapsed: …`` then ``elapsed[0]`` is the wall time in seconds."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)
