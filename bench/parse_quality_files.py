"""The files ``bench/parse_quality.py`` parses, by group, each with its reference: the
development set of ``../shared/quality`` and the corpus's PDFs and legacy files (whose
words are scored against the text LibreOffice exports from them)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RTL = "right_to_left_01"
LEGACY_SUFFIXES = (".doc", ".odt", ".rtf")
SMOKE_FILES = {
    "layout": "2305.03393v1-pg9.pdf",
    "rtl": f"{RTL}.pdf",
    "tables": "000.pdf",
    "formats": "text_document_01.odt",
    "corpus_pdf": "fake-memo.pdf",
    "corpus_legacy": "fake.odt",
}


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
