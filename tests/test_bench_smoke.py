"""The benchmarks in ``bench/`` still run: each in its ``--smoke`` mode (tiny N).

Each benchmark runs as its own process, as ``make bench`` runs it, with its own Temporal
dev server, worker process and (where it has one) API process. The tests check that it
exits 0, reports its figures and that its invariants hold (every item completed, counts
right); never a timing, which on a shared machine means nothing at this size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

SMOKE_TIMEOUT = 240


def run_smoke(name: str, tmp_path: Path) -> dict[str, Any]:
    """Run ``bench/<name>.py --smoke``; return its JSON report after the common checks."""
    report_path = tmp_path / f"{name}.json"
    results = tmp_path / "RESULTS.md"
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / f"{name}.py"),
            "--smoke",
            "--json",
            str(report_path),
            "--results",
            str(results),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SMOKE_TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: the benchmark then stops the processes it started.
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
    output = f"{stdout[-4000:]}\n{stderr[-4000:]}"
    assert process.returncode == 0, output
    report: dict[str, Any] = json.loads(report_path.read_text())
    assert report["key"] == name
    assert report["invariants"], output
    failed = [check for check, held in report["invariants"].items() if not held]
    assert not failed, output
    assert f"<!-- bench:{name} -->" in results.read_text()
    return report


def figure(report: dict[str, Any], name: str) -> Any:
    """The value of a reported figure (KeyError if the benchmark no longer reports it)."""
    return report["figures"][name]["value"]


def test_real_documents_smoke_parses_every_copy_alike(tmp_path: Path) -> None:
    report = run_smoke("real_documents", tmp_path)
    parameters = report["parameters"]
    documents = parameters["documents per round"] * parameters["rounds"]
    assert parameters["documents per round"] == parameters["copies per round"] * 4
    assert figure(report, "documents that succeed in both") == documents
    assert figure(report, "wall(docbatch) ÷ wall(plain pool), median") > 0


def test_orchestration_smoke_reports_three_rates_per_server(tmp_path: Path) -> None:
    report = run_smoke("orchestration", tmp_path)
    for kind in ("persistent (WAL)", "in-memory"):
        for name in ("docbatch", "bare child ceiling", "plain activities"):
            assert figure(report, f"{name}, {kind}") > 0
        assert figure(report, f"docbatch ÷ bare child, {kind}") > 0
    assert len(report["invariants"]) == 6


def test_dedup_smoke_rerun_starts_no_child(tmp_path: Path) -> None:
    report = run_smoke("dedup", tmp_path)
    assert figure(report, "child workflows started by the re-run") == 0
    assert figure(report, "re-run") > 0


def test_scale_smoke_reports_history_and_memory(tmp_path: Path) -> None:
    report = run_smoke("scale", tmp_path)
    sizes = [10, 20]
    for n in sizes:
        assert figure(report, f"{n} items: parent history per run (max)") > 0
        assert figure(report, f"{n} items: worker peak RSS") > 0
    assert figure(report, "time(20) ÷ time(10)") > 0


def test_cancel_smoke_cancels_every_item(tmp_path: Path) -> None:
    report = run_smoke("cancel", tmp_path)
    for label in ("docbatch.service.cancel_job", "HTTP POST …/cancel"):
        assert figure(report, f"{label}: to store cancelled, max") > 0


def test_status_latency_smoke_reads_during_the_run(tmp_path: Path) -> None:
    report = run_smoke("status_latency", tmp_path)
    assert report["parameters"]["reads under load"] >= 2
    assert figure(report, "p99 under load") > 0


def test_results_jsonl_smoke_streams_a_line_per_item(tmp_path: Path) -> None:
    report = run_smoke("results_jsonl", tmp_path)
    assert report["parameters"]["items"] == 300
    assert report["invariants"]["one line per item (300)"]
    assert figure(report, "lines/s") > 0
    assert figure(report, "API RSS peak while streaming") > 0


def test_writing_a_section_keeps_the_prose_and_the_other_sections(tmp_path: Path) -> None:
    from bench.harness import RESULTS_HEADER, Report, write_section

    results = tmp_path / "RESULTS.md"
    summary = "## Where each target stands\n\nwritten by hand, kept by every benchmark\n"
    write_section(results, Report(key="scale", title="Scale", parameters={"items": 1}))
    text = results.read_text()
    assert text.startswith(RESULTS_HEADER) and "<!-- bench:scale -->" in text
    results.write_text(text.replace(RESULTS_HEADER, RESULTS_HEADER + "\n" + summary))
    write_section(results, Report(key="dedup", title="Dedup", parameters={"items": 2}))
    write_section(results, Report(key="scale", title="Scale", parameters={"items": 3}))
    text = results.read_text()
    assert summary in text
    assert text.index(summary) < text.index("<!-- bench:dedup -->") < text.index("bench:scale")
    assert "items=3" in text and "items=1" not in text and "items=2" in text
    assert text.count("<!-- bench:scale -->") == 1


def test_parse_quality_smoke_scores_every_group(tmp_path: Path) -> None:
    report = run_smoke("parse_quality", tmp_path)
    groups = {"layout", "rtl", "tables", "formats", "corpus_pdf", "corpus_legacy"}
    for engine in ("docbatch", "markitdown"):
        files = [f for f in report["files"] if f["engine"] == engine]
        assert {f["group"] for f in files} == groups
        scored = {f["group"] for f in files if f["scores"]}
        # The corpus's legacy files are scored against LibreOffice's text export.
        assert scored == {"layout", "rtl", "tables", "formats", "corpus_legacy"}
        for label in ("layout PDFs: words", "RTL PDF: words", "tables/: cell F1"):
            assert 0 <= figure(report, f"{label} — {engine}") <= 1
        assert 0 <= figure(report, f"formats/: words — {engine}") <= 1
        legacy = f"corpus .doc/.odt/.rtf: words (vs LibreOffice's text) — {engine}"
        assert 0 <= figure(report, legacy) <= 1
