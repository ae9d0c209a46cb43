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

The parts: ``bench/parse_quality_files.py`` (the files and their references),
``bench/parse_quality_workers.py`` (parsing them), ``bench/parse_quality_report.py``
(scores, figures, the table); this module's ``main`` runs them in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import harness
from bench.parse_quality_files import collect_items, libreoffice_text, pdf_pages
from bench.parse_quality_report import FileResult, build_report, print_table, score_item
from bench.parse_quality_workers import ENGINES, parse_all

QUALITY = harness.ROOT.parent / "shared" / "quality"
DEFAULT_TIMEOUT = 180.0


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
