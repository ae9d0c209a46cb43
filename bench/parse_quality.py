"""Parse quality: docbatch's parse engine and plain markitdown against reference output.

    .venv/bin/python bench/parse_quality.py [--timeout 180] [--workers 2] [--smoke]

Every file of ``../shared/quality`` (see its README) is parsed twice, in worker
processes that time themselves:

- **docbatch**: the parse engine as a job runs it (``run_engine`` with the default parse
  job's engine config: OCR on, pages split) → the output JSON's ``markdown``;
- **markitdown**: ``MarkItDown().convert(path).text_content``, the library alone.

and scored by ``bench/quality_scores.py`` (content, 0–1): ``layout/`` PDFs for words,
order, headings and table cells (the right-to-left Arabic page apart, for words);
``tables/`` for cell F1, tables found and body-text recall against the LaTeX truth;
``formats/`` (.doc, .odt, .ods, .odp) for words and whether they parse at all. The
corpus's legacy files (``.doc``, ``.odt``, ``.rtf``) have no reference: their words are
scored against the plain text LibreOffice exports from them, and whether they parse is
reported. CPU seconds per page (``time.process_time`` of the worker process
plus the CPU of the programs it waited for, i.e. ``tesseract``) come from ``tables/`` and
the corpus's PDFs; the report gives the median over files of CPU ÷ pages.

A file that fails or passes ``--timeout`` (the worker is killed and replaced) scores 0
and is listed. ``--smoke`` parses one file per group and writes nothing unless
``--results`` says where; ``--json`` writes the report, with every file's scores under
``parameters``→``files``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import multiprocessing.connection
import os
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import harness
from bench import quality_scores as scores

QUALITY = harness.ROOT.parent / "shared" / "quality"
ENGINES = ("docbatch", "markitdown")
RTL = "right_to_left_01"
LEGACY_SUFFIXES = (".doc", ".odt", ".rtf")
DEFAULT_TIMEOUT = 180.0
SMOKE_FILES = {
    "layout": "2305.03393v1-pg9.pdf",
    "rtl": f"{RTL}.pdf",
    "tables": "000.pdf",
    "formats": "text_document_01.odt",
    "corpus_pdf": "fake-memo.pdf",
    "corpus_legacy": "fake.odt",
}
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


@dataclass(frozen=True)
class Item:
    """One file to parse: its group, path and reference (None: only whether it parses)."""

    group: str
    path: Path
    reference: Path | None

    @property
    def name(self) -> str:
        """The file's path relative to its data folder."""
        return f"{self.path.parent.name}/{self.path.name}"


@dataclass
class Parsed:
    """One engine's output for one file, or why there is none."""

    markdown: str = ""
    error: str | None = None
    cpu: float = 0.0
    wall: float = 0.0
    pages: int | None = None


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


# ------------------------------------------------------------------ the files


def collect_items(quality: Path, corpus: Path, *, smoke: bool) -> list[Item]:
    """The files of every group, each with its reference file."""
    items: list[Item] = []
    for pdf in sorted((quality / "layout").glob("*.pdf")):
        group = "rtl" if pdf.stem == RTL else "layout"
        items.append(Item(group, pdf, pdf.with_suffix(".md")))
    for pdf in sorted((quality / "tables").glob("*.pdf")):
        items.append(Item("tables", pdf, pdf.with_suffix(".json")))
    for document in sorted((quality / "formats").iterdir()):
        if document.suffix != ".md":
            items.append(Item("formats", document, document.with_name(document.name + ".md")))
    if corpus.is_dir():
        for document in sorted(corpus.iterdir()):
            suffix = document.suffix.lower()
            if suffix == ".pdf":
                items.append(Item("corpus_pdf", document, None))
            elif suffix in LEGACY_SUFFIXES:
                items.append(Item("corpus_legacy", document, None))
    if smoke:
        items = [item for item in items if SMOKE_FILES.get(item.group) == item.path.name]
    return items


def pdf_pages(path: Path) -> int | None:
    """A PDF's page count (None if it cannot be read)."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(str(path))
    except Exception:
        return None
    try:
        return len(document)
    finally:
        document.close()


def libreoffice_text(document: Path, into: Path) -> str | None:
    """The text LibreOffice itself exports from ``document`` (None without LibreOffice).

    The corpus's legacy files have no reference output; their plain-text export by the
    program that reads them is the text they hold, and docbatch's markdown (LibreOffice
    to OOXML, then markitdown) must keep its words.
    """
    program = shutil.which("soffice")
    if program is None:
        return None
    profile = into / "profile"
    into.mkdir(parents=True, exist_ok=True)
    command = [
        program,
        "--headless",
        f"-env:UserInstallation={profile.as_uri()}",
        "--convert-to",
        "txt:Text (encoded):UTF8",
        "--outdir",
        str(into),
        str(document),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    exported = into / f"{document.stem}.txt"
    return exported.read_text(encoding="utf-8-sig") if exported.is_file() else None


# -------------------------------------------------------------------- parsing


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


def main() -> int:
    """Parse, score, print and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.common_arguments(parser)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per file, s")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--quality", type=Path, default=QUALITY, help="the development set")
    arguments = parser.parse_args()
    items = collect_items(arguments.quality, harness.CORPUS, smoke=arguments.smoke)
    if not items:
        print(f"no files under {arguments.quality}", file=sys.stderr)
        return 1
    with harness.workdir(arguments) as root:
        warm_up = root / "warm-up.txt"
        warm_up.write_text("Warm-up\n\nA line of text.\n")
        print(f"parsing {len(items)} files with {', '.join(ENGINES)}")
        parsed = parse_all(
            items, workers=arguments.workers, timeout=arguments.timeout, warm_up=warm_up
        )
        texts = {
            item.name: text
            for item in items
            if item.group == "corpus_legacy"
            and (text := libreoffice_text(item.path, root / "text")) is not None
        }
    results: list[FileResult] = []
    for item in items:
        pages = pdf_pages(item.path) if item.path.suffix.lower() == ".pdf" else None
        for engine in ENGINES:
            outcome = parsed[(item.name, engine)]
            results.append(
                FileResult(
                    group=item.group,
                    file=item.name,
                    engine=engine,
                    ok=outcome.error is None,
                    error=outcome.error,
                    cpu_seconds=outcome.cpu,
                    pages=pages or outcome.pages,
                    scores=score_item(item, outcome, texts.get(item.name)),
                )
            )
    print_table(results)
    report = build_report(results, items, arguments)
    return finish(report, arguments, results)


def finish(
    report: harness.Report, arguments: argparse.Namespace, results: Sequence[FileResult]
) -> int:
    """``harness.finish``, with every file's scores added to the ``--json`` output."""
    status = harness.finish(report, arguments)
    if arguments.json is not None:
        data = json.loads(arguments.json.read_text())
        data["files"] = [asdict(r) | {"cpu_per_page": r.cpu_per_page} for r in results]
        arguments.json.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return status


if __name__ == "__main__":
    sys.exit(main())
