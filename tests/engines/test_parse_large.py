"""A 500-page PDF parses page by page in bounded memory, reporting progress as it goes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from docbatch.engines.base import read_progress
from tests.engines.pdf_factory import make_pdf

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = 500
MAX_RSS_GROWTH_MB = 200

# Run in a fresh interpreter so that its peak RSS belongs to this parse alone (the test
# process has converted many documents before). A one-page parse first loads every
# library, so the growth measured after it is what the 500 pages cost.
_MEASURE = """
import json, resource, sys
from docbatch.engines.base import EngineRequest
from docbatch.engines.parse import parse_document

pdf, warm_up, progress = sys.argv[1:4]
parse_document(EngineRequest(path=warm_up, file_name="warm-up.pdf", job_type="parse"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = parse_document(
    EngineRequest(path=pdf, file_name="long.pdf", job_type="parse", progress_file=progress)
)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
document = json.loads(result.content)
print(json.dumps({
    "growth_kib": after - before,
    "page_count": document["page_count"],
    "pages": len(document["pages"]),
    "last_page": document["pages"][-1],
    "metadata_pages": result.metadata["pages"],
}))
"""


def test_five_hundred_page_pdf_parses_in_bounded_memory_with_progress(tmp_path: Path) -> None:
    pages = [
        f"Chapter {n} of the long report\nLine two of page {n}\nLine three closes page {n}"
        for n in range(1, PAGES + 1)
    ]
    long_pdf = tmp_path / "long.pdf"
    long_pdf.write_bytes(make_pdf(pages))
    warm_up = tmp_path / "warm-up.pdf"
    warm_up.write_bytes(make_pdf(["Warm up"]))
    progress = tmp_path / "progress.json"

    completed = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(long_pdf), str(warm_up), str(progress)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    measured = json.loads(completed.stdout.strip().splitlines()[-1])

    assert measured["page_count"] == PAGES
    assert measured["pages"] == PAGES
    assert measured["metadata_pages"] == PAGES
    assert measured["last_page"]["page"] == PAGES
    assert measured["last_page"]["text"].startswith(f"Chapter {PAGES} of the long report")
    assert read_progress(str(progress)) == {"done": PAGES, "total": PAGES}
    # ru_maxrss is in KiB on Linux.
    assert measured["growth_kib"] < MAX_RSS_GROWTH_MB * 1024, measured
