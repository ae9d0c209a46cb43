"""py-spy on a benchmark's worker process: record while a phase runs, then summarise.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;… count``); the
summary ranks functions by *self* samples (where the CPU was) and by *inclusive* samples
(which call paths it was under). Idle samples (threads waiting) are not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import linecache
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

RATE = 100
"""Samples per second (py-spy's default); ``--nonblocking`` so the worker never pauses."""


def py_spy() -> str | None:
    """The py-spy binary (venv first, then PATH), or None when it is not installed."""
    beside_python = Path(sys.executable).parent / "py-spy"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("py-spy")


@dataclass
class Profile:
    """A recorded profile: where its raw stacks are, once recording stopped."""

    raw: Path
    error: str | None = None
    summary: ProfileSummary | None = field(default=None)


@contextlib.asynccontextmanager
async def recording(pid: int, raw: Path) -> AsyncIterator[Profile]:
    """Record ``pid`` with py-spy while the block runs (a no-op if py-spy is missing)."""
    profile = Profile(raw=raw)
    binary = py_spy()
    if binary is None:
        profile.error = "py-spy is not installed (.venv/bin/pip install py-spy)"
        yield profile
        return
    raw.parent.mkdir(parents=True, exist_ok=True)
    log = raw.with_suffix(".log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(RATE),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield profile
    finally:
        # SIGINT makes py-spy stop sampling and write what it has.
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 60)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if raw.exists():
            profile.summary = summarise(raw.read_text())
        else:
            profile.error = f"py-spy wrote no profile: {log.read_text(errors='replace')[-500:]}"


_LOCATION = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_WAIT_CALL = re.compile(r"\.(get|wait|select|poll|acquire|recv|recv_bytes|read|accept)\(|\bpoll\(")
_SEARCH_PATH = [
    Path(__file__).resolve().parents[1],  # the repository: activities/, docbatch/, …
    Path(sysconfig.get_paths()["purelib"]),
    Path(sysconfig.get_paths()["stdlib"]),
]

COMPONENTS: tuple[tuple[str, str], ...] = (
    ("docbatch code", r"^(activities|workflows|docbatch|worker\.py|bench)/?"),
    ("SQLAlchemy", r"^sqlalchemy/"),
    ("SQLite (aiosqlite thread)", r"^aiosqlite/"),
    ("Temporal workflow sandbox", r"^temporalio/worker/workflow_sandbox/"),
    ("Temporal SDK, workflows", r"^temporalio/worker/_workflow"),
    ("Temporal SDK, activities", r"^temporalio/worker/_activity"),
    ("Temporal SDK, other", r"^temporalio/"),
    ("pydantic", r"^pydantic"),
    ("structlog/logging", r"^(structlog|logging)/"),
    ("asyncio event loop", r"^asyncio/"),
)
"""Which component an on-CPU sample is charged to: the first match from the leaf up."""


@dataclass(frozen=True)
class Frame:
    """One frame of a py-spy stack: function, file (as py-spy shortens it) and line."""

    function: str
    file: str
    line: int

    @property
    def name(self) -> str:
        """``function (file)``: how the summary names it."""
        return f"{self.function} ({self.file})"

    def source(self) -> str:
        """The frame's source line, if the file can be found here."""
        for root in _SEARCH_PATH:
            text = linecache.getline(str(root / self.file), self.line)
            if text:
                return text.strip()
        return ""

    def is_wait(self) -> bool:
        """Whether this (innermost) frame is a thread blocked in a wait, not working.

        py-spy drops idle threads, but on a busy machine a thread just woken and waiting
        for a CPU still counts as active: such samples sit on a blocking call (a queue's
        ``get``, ``select``/``poll``, a condition's ``wait``).
        """
        return bool(_WAIT_CALL.search(self.source())) or self.function.endswith(".select")


def parse_frame(text: str) -> Frame:
    """A raw py-spy frame ``function (path/file.py:123)``."""
    match = _LOCATION.match(text.strip())
    if match is None:
        return Frame(text.strip(), "", 0)
    return Frame(match["function"], match["file"], int(match["line"] or 0))


@dataclass
class ProfileSummary:
    """On-CPU samples by function (self and inclusive) and by component; waits apart."""

    samples: int
    waiting: int
    self_samples: Counter[str]
    inclusive_samples: Counter[str]
    components: Counter[str]

    @property
    def on_cpu(self) -> int:
        """Samples of a thread doing work (not blocked in a wait)."""
        return self.samples - self.waiting

    def share(self, count: int) -> str:
        """``count`` as a percentage of the on-CPU samples."""
        return f"{100 * count / max(1, self.on_cpu):5.1f}%"

    def top(self, n: int = 15) -> str:
        """The components, then the ``n`` top functions by self and by inclusive samples."""
        lines = [
            f"{self.samples} samples at {RATE} Hz; {self.waiting} in waits (threads woken but "
            f"not yet running) left out; {self.on_cpu} on-CPU = {self.on_cpu / RATE:.1f} s "
            "of Python (native threads not seen)",
            "on-CPU by component (innermost known frame):",
        ]
        lines += [f"  {self.share(c)}  {name}" for name, c in self.components.most_common()]
        lines.append("top self (on-CPU):")
        lines += [f"  {self.share(c)}  {name}" for name, c in self.self_samples.most_common(n)]
        lines.append("docbatch's own functions, inclusive (on-CPU):")
        ours = re.compile(r"\((activities|workflows|docbatch)/")
        lines += [
            f"  {self.share(c)}  {name}"
            for name, c in self.inclusive_samples.most_common()
            if ours.search(name)
        ][:n]
        lines.append("top inclusive (on-CPU):")
        lines += [f"  {self.share(c)}  {name}" for name, c in self.inclusive_samples.most_common(n)]
        return "\n".join(lines)


def component_of(frames: list[Frame]) -> str:
    """The component a stack's time is charged to: the first known one from the leaf up."""
    for frame in reversed(frames):
        for name, pattern in COMPONENTS:
            if re.match(pattern, frame.file):
                return name
    return "other (stdlib, json, …)"


def summarise(raw: str) -> ProfileSummary:
    """Aggregate py-spy's raw (collapsed) stacks: waits apart, then by function/component."""
    summary = ProfileSummary(0, 0, Counter(), Counter(), Counter())
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        # A stack may start with the thread ("process 1:", "thread (0x…)") when asked for.
        frames = [
            parse_frame(f)
            for f in stack.split(";")
            if f.strip() and not f.startswith(("process ", "thread "))
        ]
        summary.samples += count
        if not frames or frames[-1].is_wait():
            summary.waiting += count
            continue
        summary.self_samples[frames[-1].name] += count
        for name in {frame.name for frame in frames}:
            summary.inclusive_samples[name] += count
        summary.components[component_of(frames)] += count
    return summary
