"""Scoring and reporting for ``bench/parse_quality.py``: each file's scores
(``bench/quality_scores.py``), their means per group against the issue's targets, CPU
per page, and the report and table of both engines side by side."""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from bench import harness
from bench import quality_scores as scores
from bench.parse_quality_files import Item
from bench.parse_quality_workers import ENGINES, Parsed

GROUPS = {
    "layout": "layout PDFs",
    "rtl": "RTL PDF",
    "tables": "tables/",
    "formats": "formats/",
    "corpus_pdf": "corpus PDFs",
    "corpus_legacy": "corpus .doc/.odt/.rtf",
}

# (group, score, label, target): the targets for docbatch's engine.
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("layout", "words", "layout PDFs: words", 0.95),
    ("layout", "order", "layout PDFs: order", 0.85),
    ("layout", "headings", "layout PDFs: headings", 0.6),
    ("layout", "table_cells", "layout PDFs: table cells", 0.6),
    ("rtl", "words", "RTL PDF: words", 0.9),
    ("tables", "table_cells", "tables/: cell F1", 0.75),
    ("tables", "tables_found", "tables/: tables found", 0.8),
    ("tables", "body_recall", "tables/: body recall", 0.95),
    ("formats", "words", "formats/: words", 0.9),
    ("corpus_legacy", "words", "corpus .doc/.odt/.rtf: words (vs LibreOffice's text)", 0.9),
)
CPU_TARGET = 0.3


@dataclass
class FileResult:
    """One file's outcome and scores for one engine."""

    group: str
    file: str
    engine: str
    ok: bool
    error: str | None
    cpu_seconds: float
    pages: int | None
    scores: dict[str, float | None] = field(default_factory=dict)

    @property
    def cpu_per_page(self) -> float | None:
        """CPU seconds per page of a parsed paged file."""
        if not self.ok or not self.pages:
            return None
        return self.cpu_seconds / self.pages


# -------------------------------------------------------------------- scoring


def score_item(
    item: Item, parsed: Parsed, text_reference: str | None = None
) -> dict[str, float | None]:
    """The item's scores (a failed parse scores 0 on everything it would be scored on).

    ``text_reference`` stands in for a missing reference file: plain text, words only.
    """
    if item.reference is None:
        if text_reference is None:
            return {}
        found_words = 0.0 if parsed.error else scores.word_f1(parsed.markdown, text_reference)
        return {"words": found_words}
    if item.reference.suffix == ".json":
        blocks = json.loads(item.reference.read_text(encoding="utf-8"))
        found: dict[str, float | None] = asdict(scores.score_blocks(parsed.markdown, blocks))
    else:
        reference = item.reference.read_text(encoding="utf-8")
        found = asdict(scores.score_markdown(parsed.markdown, reference))
    if parsed.error is not None:
        found = {name: None if value is None else 0.0 for name, value in found.items()}
    return found


def mean(values: Sequence[float | None]) -> float | None:
    """The mean of the values that are not None (None if there are none)."""
    present = [value for value in values if value is not None]
    return statistics.fmean(present) if present else None


def group_score(results: Sequence[FileResult], group: str, engine: str, name: str) -> float | None:
    """The mean of one score over a group's files for one engine."""
    return mean([r.scores.get(name) for r in results if r.group == group and r.engine == engine])


def cpu_per_page(results: Sequence[FileResult], groups: Sequence[str], engine: str) -> float | None:
    """Median over parsed files of CPU seconds ÷ pages."""
    values = [
        per_page
        for r in results
        if r.group in groups and r.engine == engine and (per_page := r.cpu_per_page) is not None
    ]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------- report


def build_report(
    results: Sequence[FileResult], items: Sequence[Item], arguments: argparse.Namespace
) -> harness.Report:
    """The figures (both engines, targets beside docbatch's), checks and failures."""
    report = harness.Report(
        key="parse_quality",
        title="Parse quality",
        parameters={
            "files": len(items),
            "groups": ", ".join(
                f"{GROUPS[g]} {sum(1 for i in items if i.group == g)}"
                for g in GROUPS
                if any(i.group == g for i in items)
            ),
            "timeout": f"{arguments.timeout:g} s",
            "workers": arguments.workers,
        },
    )
    for group, name, label, target in TARGETS:
        for engine in ENGINES:
            value = group_score(results, group, engine, name)
            if value is None:
                continue
            if engine == "docbatch":
                report.add(harness.at_least(f"{label} — {engine}", value, target))
            else:
                report.add(harness.Figure(f"{label} — {engine}", value, target="baseline"))
    for result in results:
        if result.group == "formats" and result.engine == "docbatch":
            for engine in ENGINES:
                other = next(r for r in results if r.file == result.file and r.engine == engine)
                parsed = "parsed" if other.ok else "failed"
                report.add(
                    harness.Figure(
                        f"formats/ {result.file.split('/')[-1]}: words — {engine}",
                        other.scores.get("words") or 0.0,
                        target=parsed,
                    )
                )
    for engine in ENGINES:
        for label, groups in (("tables/", ("tables",)), ("corpus PDFs", ("corpus_pdf",))):
            value = cpu_per_page(results, groups, engine)
            if value is None:
                continue
            name = f"CPU per page, {label} (median) — {engine}"
            if engine == "docbatch":
                report.add(harness.at_most(name, value, CPU_TARGET, "s"))
            else:
                report.add(harness.Figure(name, value, "s", "baseline"))
    for engine in ENGINES:
        legacy = [r for r in results if r.group == "corpus_legacy" and r.engine == engine]
        if legacy:
            parsed_count = sum(r.ok for r in legacy)
            report.add(
                harness.Figure(
                    f"corpus .doc/.odt/.rtf parsed — {engine}",
                    parsed_count,
                    target=f"of {len(legacy)}",
                )
            )
    expected = {(item.name, engine) for item in items for engine in ENGINES}
    report.check(
        "every file scored by both engines",
        {(r.file, r.engine) for r in results} == expected and bool(expected),
    )
    report.check(
        "every score within 0-1",
        all(0 <= v <= 1 for r in results for v in r.scores.values() if v is not None),
    )
    for engine in ENGINES:
        failed = [r for r in results if r.engine == engine and not r.ok]
        if failed:
            listed = "; ".join(f"{r.file} ({(r.error or '')[:90]})" for r in failed)
            report.notes.append(f"{engine} failed on {len(failed)} file(s), scored 0: {listed}")
    report.notes.append(
        "Scores are means over each group's files (bench/quality_scores.py: token F1, "
        "1 - token Levenshtein ÷ max length, share of reference `#` headings found as "
        "headings, cell F1 of all tables, share of truth tables matched with cell F1 ≥ 0.5, "
        "recall of the text blocks' words). CPU is the parsing process's plus tesseract's; "
        "markitdown figures are the baseline (no target)."
    )
    return report


def print_table(results: Sequence[FileResult]) -> None:
    """Per-group scores of both engines side by side (rich)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Parse quality (mean per group)")
    table.add_column("figure")
    table.add_column("target")
    for engine in ENGINES:
        table.add_column(engine, justify="right")

    def shown(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    for group, name, label, target in TARGETS:
        values = [group_score(results, group, engine, name) for engine in ENGINES]
        if any(value is not None for value in values):
            table.add_row(label, f"≥ {target:g}", *map(shown, values))
    for label, groups in (
        ("CPU s/page, tables/", ("tables",)),
        ("CPU s/page, corpus PDFs", ("corpus_pdf",)),
    ):
        table.add_row(
            label, f"≤ {CPU_TARGET:g}", *(shown(cpu_per_page(results, groups, e)) for e in ENGINES)
        )
    Console(width=120).print(table)
