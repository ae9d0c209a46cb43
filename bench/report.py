"""A benchmark's report: its figures against their targets, its checks and notes, with
how, when and where it ran, as Markdown (its section of ``RESULTS.md``) and as JSON
(``bench.harness``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stack import ROOT

SECTION_ORDER = (
    "real_documents",
    "orchestration",
    "dedup",
    "scale",
    "cancel",
    "status_latency",
    "results_jsonl",
    "parse_quality",
)


_OUTPUT_OPTIONS = ("--results", "--json", "--workdir", "--profile-dir")
"""Options that say where output goes, not what is measured: left out of the shown command."""


def invocation() -> str:
    """The command line that ran this benchmark, as run from the repository root."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    shown: list[str] = []
    arguments = iter(sys.argv[1:])
    for argument in arguments:
        if argument in _OUTPUT_OPTIONS:
            next(arguments, None)
        elif not argument.startswith(tuple(f"{o}=" for o in _OUTPUT_OPTIONS)):
            shown.append(argument)
    return shlex.join([".venv/bin/python", str(script), *shown])


def load_average() -> str:
    """The machine's 1-minute load average (other work on the shared cores)."""
    return f"{os.getloadavg()[0]:.1f}"


_LOAD_AT_START = load_average()
"""The load average when the benchmark started (``bench.harness``, which imports this
module, is imported first thing)."""


def git_commit() -> str:
    """The checked-out commit, marked when the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + uncommitted changes" if dirty else commit


def cores() -> str:
    """The machine's core count, and how many this process may use."""
    usable = len(os.sched_getaffinity(0))
    return f"{os.cpu_count()} cores ({usable} usable)"


@dataclass
class Figure:
    """One reported figure, its target and whether it is met (None: no target)."""

    name: str
    value: float | int | str
    unit: str = ""
    target: str = ""
    met: bool | None = None

    def shown(self) -> str:
        """The value with its unit, rounded for reading."""
        value = self.value
        if isinstance(value, float):
            text = f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
        else:
            text = str(value)
        return f"{text} {self.unit}".strip()


def at_most(name: str, value: float, target: float, unit: str = "") -> Figure:
    """A figure whose target is an upper bound."""
    return Figure(name, value, unit, f"≤ {target:g} {unit}".strip(), value <= target)


def at_least(name: str, value: float, target: float, unit: str = "") -> Figure:
    """A figure whose target is a lower bound."""
    return Figure(name, value, unit, f"≥ {target:g} {unit}".strip(), value >= target)


@dataclass
class Report:
    """A benchmark's figures, invariants and notes, as Markdown and JSON."""

    key: str
    title: str
    parameters: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    invariants: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    command: str = field(default_factory=invocation)
    date: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    commit: str = field(default_factory=git_commit)
    load_at_start: str = field(default_factory=lambda: _LOAD_AT_START)

    def add(self, figure: Figure) -> Figure:
        """Add a figure; return it."""
        self.figures.append(figure)
        return figure

    def check(self, name: str, holds: bool) -> bool:
        """Record an invariant (a correctness check, never a timing)."""
        self.invariants[name] = bool(holds)
        return bool(holds)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return all(self.invariants.values())

    def markdown(self) -> str:
        """The report as a Markdown section."""
        parameters = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        lines = [
            f"## {self.title}",
            "",
            f"`{self.command}` — {self.date}, commit {self.commit}, {cores()}, load average "
            f"{self.load_at_start} at start and {load_average()} at the end",
            "",
            f"Parameters: {parameters}",
            "",
            "| figure | value | target | met? |",
            "|---|---|---|---|",
        ]
        for figure in self.figures:
            met = {True: "yes", False: "**no**", None: ""}[figure.met]
            lines.append(f"| {figure.name} | {figure.shown()} | {figure.target} | {met} |")
        checks = ", ".join(
            f"{name}: {'ok' if held else 'FAILED'}" for name, held in self.invariants.items()
        )
        lines += ["", f"Checks: {checks}"]
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        """The report as plain data (what the smoke tests read)."""
        return {
            "key": self.key,
            "parameters": self.parameters,
            "figures": {
                f.name: {"value": f.value, "unit": f.unit, "target": f.target, "met": f.met}
                for f in self.figures
            },
            "invariants": self.invariants,
            "notes": self.notes,
            "commit": self.commit,
            "date": self.date,
        }


def write_section(path: Path, report: Report) -> None:
    """Replace (or add) this benchmark's section of ``RESULTS.md``.

    Everything else in the file stays as it was: the other benchmarks' sections and the
    prose written around them (the summary of where each target stands). A section not
    yet in the file goes before the first section that follows it in ``SECTION_ORDER``,
    else at the end.
    """
    text = path.read_text() if path.exists() else RESULTS_HEADER
    begin, end = f"<!-- bench:{report.key} -->", f"<!-- /bench:{report.key} -->"
    body = report.markdown().strip("\n")
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        start, stop = text.index(begin), text.index(end) + len(end)
        path.write_text(text[:start] + block + text[stop:])
        return
    later = SECTION_ORDER[SECTION_ORDER.index(report.key) + 1 :]
    for key in later:
        marker = f"<!-- bench:{key} -->"
        if marker in text:
            at = text.index(marker)
            path.write_text(text[:at] + block + "\n\n" + text[at:])
            return
    path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")


RESULTS_HEADER = """# Benchmark results

Written by the scripts in `bench/` (issue 6): each replaces its own section below;
`make bench` (`bench/run_all.py`) runs them all with their defaults. Every figure is a
ratio or a rate against a baseline measured in the same run, because the machine is
shared and noisy (each section gives the load average); compare ratios, not seconds.
Each script has `--smoke` (tiny N; `tests/test_bench_smoke.py` runs it) and `--help`.

| # | command | default N | target |
|---|---|---|---|
| 1 | `bench/real_documents.py` | 3 copies of the corpus | wall(docbatch) ÷ wall(direct) ≤ 1.25 |
| 2 | `bench/orchestration.py --profile` | 1,000 no-op items | docbatch ≥ 0.8 × bare child |
| 3 | `bench/dedup.py` | 2,000 items | re-run ≥ 1,000 items/s, no child |
| 4 | `bench/scale.py` | 10,000 and 100,000 items | history ≤ 4,000/run, RSS ≤ 300 MB, ≤ 11× |
| 5 | `bench/cancel.py` | 100 in flight, 5 trials/method | ≤ 2 s to `cancelled` |
| 6 | `bench/status_latency.py` | 10,000 items | p99 ≤ 50 ms |
| 7 | `bench/results_jsonl.py` | 10,000 items | API RSS growth < 50 MB |
"""
