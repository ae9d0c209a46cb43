"""Legacy and OpenDocument files through the real LibreOffice installed here.

The documents are made in each test: OpenDocument packages written by hand, RTF by
hand, and the 97-2003 formats converted from those by ``soffice`` itself. Two OOXML
packages that markitdown fails on (an image linked from outside a .docx, a shape
python-pptx cannot classify) are made here too.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.quality_scores import word_f1
from docbatch.engines import office
from docbatch.engines.parse import convert_document, count_pages
from docbatch.errors import DocumentError
from tests.engines.parsing import output, parse

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMATS = REPO_ROOT.parent / "shared" / "quality" / "formats"
FORMAT_FILES = sorted(p for p in FORMATS.iterdir() if p.suffix != ".md") if FORMATS.is_dir() else []

needs_soffice = pytest.mark.skipif(
    not office.installed(), reason="LibreOffice (soffice) not installed"
)


# ------------------------------------------------------------------ documents

_ODF_NAMESPACES = " ".join(
    f'xmlns:{prefix}="urn:oasis:names:tc:opendocument:xmlns:{name}"'
    for prefix, name in {
        "office": "office:1.0",
        "text": "text:1.0",
        "table": "table:1.0",
        "draw": "drawing:1.0",
        "presentation": "presentation:1.0",
        "style": "style:1.0",
        "svg": "svg-compatible:1.0",
    }.items()
)
_ODF_FAMILY = {"odt": "text", "ods": "spreadsheet", "odp": "presentation"}


def write_odf(
    path: Path, kind: str, body: str, *, styles: str | None = None, encrypted: bool = False
) -> Path:
    """A minimal OpenDocument package: ``mimetype`` first and stored, then the XML parts."""
    mimetype = f"application/vnd.oasis.opendocument.{_ODF_FAMILY[kind]}"
    parts = {
        "content.xml": f'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        f'{_ODF_NAMESPACES} office:version="1.2"><office:body>{body}</office:body>'
        "</office:document-content>"
    }
    if styles is not None:
        parts["styles.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {_ODF_NAMESPACES} '
            f'office:version="1.2"><office:styles>{styles}</office:styles>'
            "</office:document-styles>"
        )
    encryption = "<manifest:encryption-data/>" if encrypted else ""
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml">'
        f"{encryption}</manifest:file-entry>"
        for name in parts
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
        f"{entries}</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), mimetype, zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", manifest)
        for name, xml in parts.items():
            package.writestr(name, xml)
    return path


def cell(value: str | int) -> str:
    """One ODF table cell."""
    if isinstance(value, int):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return (
        f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'
    )


def table(name: str, rows: list[list[str | int]]) -> str:
    """An ODF table (a Writer table, or a Calc sheet)."""
    columns = f'<table:table-column table:number-columns-repeated="{len(rows[0])}"/>'
    body = "".join(f"<table:table-row>{''.join(map(cell, row))}</table:table-row>" for row in rows)
    return f'<table:table table:name="{name}">{columns}{body}</table:table>'


def write_odt(path: Path) -> Path:
    """A text: a "Heading 1", a paragraph, a table, a closing paragraph."""
    body = (
        "<office:text>"
        '<text:h text:style-name="Heading_20_1" text:outline-level="1">Quarterly Report</text:h>'
        "<text:p>Revenue grew in every region this quarter.</text:p>"
        + table("Figures", [["Region", "Revenue"], ["North", 1200], ["South", 800]])
        + "<text:p>Closing remarks follow the table.</text:p></office:text>"
    )
    heading = (
        '<style:style style:name="Heading_20_1" style:display-name="Heading 1" '
        'style:family="paragraph" style:default-outline-level="1"/>'
    )
    return write_odf(path, "odt", body, styles=heading)


def write_ods(path: Path) -> Path:
    """A workbook of two sheets."""
    body = (
        "<office:spreadsheet>"
        + table("Revenue", [["Region", "Amount"], ["North", 1200], ["South", 800]])
        + table("Costs", [["Item", "Amount"], ["Rent", 300]])
        + "</office:spreadsheet>"
    )
    return write_odf(path, "ods", body)


def write_odp(path: Path) -> Path:
    """A deck of two slides, each with a title frame and a text frame."""

    def slide(name: str, title: str, text: str) -> str:
        frame = '<draw:frame presentation:class="{}" svg:x="1cm" svg:y="{}cm" svg:width="20cm" '
        return (
            f'<draw:page draw:name="{name}">'
            + frame.format("title", 1)
            + f'svg:height="3cm"><draw:text-box><text:p>{title}</text:p></draw:text-box>'
            "</draw:frame>"
            + frame.format("outline", 5)
            + f'svg:height="9cm"><draw:text-box><text:p>{text}</text:p></draw:text-box>'
            "</draw:frame></draw:page>"
        )

    body = (
        "<office:presentation>"
        + slide("s1", "Opening slide", "Agenda for the meeting")
        + slide("s2", "Budget slide", "Travel costs rose sharply")
        + "</office:presentation>"
    )
    return write_odf(path, "odp", body)


RTF = (
    r"{\rtf1\ansi\deff0{\fonttbl{\f0\fswiss Helvetica;}}"
    r"\f0\pard{\b Invoice 4711}\par Total due: 99 EUR by March\par}"
)


def soffice_convert(source: Path, target: str) -> Path:
    """``source`` converted by LibreOffice to ``target`` (``doc``, ``ppt``…) beside it."""
    program = office.soffice()
    assert program is not None
    profile = source.parent / f"profile-{target}"
    subprocess.run(
        [
            program,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            target,
            "--outdir",
            str(source.parent),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(source.parent)},
    )
    converted = source.with_suffix(f".{target}")
    assert converted.is_file()
    return converted


def python_pptx_deck(path: Path) -> Path:
    """A deck of two slides made with python-pptx: title placeholders and body text."""
    from pptx import Presentation

    deck = Presentation()
    for title, body in (("Opening slide", "Agenda for the meeting"), ("Budget slide", "Costs")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(path))
    return path


# ------------------------------------------------------------------ formats


@needs_soffice
def test_odt_keeps_its_heading_paragraphs_and_table(tmp_path: Path) -> None:
    result = parse(write_odt(tmp_path / "report.odt"))
    document = output(result)
    markdown = document["markdown"]
    assert markdown.startswith("# Quarterly Report\n")
    assert "Revenue grew in every region this quarter." in markdown
    assert "| Region | Revenue |" in markdown
    assert "| North | 1200 |" in markdown
    assert markdown.endswith("Closing remarks follow the table.")
    assert "Quarterly Report" in document["text"]
    assert result.metadata["source_format"] == "odt"
    assert document["page_count"] == 1


@needs_soffice
def test_rtf_is_read_as_text_not_as_control_words(tmp_path: Path) -> None:
    path = tmp_path / "invoice.rtf"
    path.write_text(RTF)
    result = parse(path)
    markdown = output(result)["markdown"]
    assert "Invoice 4711" in markdown
    assert "Total due: 99 EUR by March" in markdown
    assert "\\rtf" not in markdown and "fonttbl" not in markdown
    assert result.metadata["source_format"] == "rtf"


@needs_soffice
def test_word_97_document_reads_like_the_text_it_was_saved_from(tmp_path: Path) -> None:
    doc = soffice_convert(write_odt(tmp_path / "report.odt"), "doc")
    assert doc.read_bytes().startswith(b"\xd0\xcf\x11\xe0")  # a real OLE2 Word file
    result = parse(doc)
    markdown = output(result)["markdown"]
    assert markdown.startswith("# Quarterly Report\n")
    assert "| North | 1200 |" in markdown
    assert "Closing remarks follow the table." in markdown
    assert result.metadata["source_format"] == "doc"


@needs_soffice
def test_ods_sheets_become_pages(tmp_path: Path) -> None:
    result = parse(write_ods(tmp_path / "budget.ods"))
    document = output(result)
    pages = document["pages"]
    assert [page["page"] for page in pages] == [1, 2]
    assert pages[0]["markdown"].startswith("## Revenue\n")
    assert "| North | 1200 |" in pages[0]["markdown"]
    assert pages[1]["markdown"].startswith("## Costs\n")
    assert "| Rent | 300 |" in pages[1]["markdown"]
    assert document["page_count"] == 2
    assert result.metadata["source_format"] == "ods"
    assert result.metadata["pages"] == 2


@needs_soffice
def test_odp_slides_become_pages(tmp_path: Path) -> None:
    result = parse(write_odp(tmp_path / "deck.odp"), target_pages="1")
    document = output(result)
    assert document["page_count"] == 2
    (page,) = document["pages"]
    assert page["page"] == 2
    assert "Budget slide" in page["markdown"]
    assert "Travel costs rose sharply" in page["markdown"]
    assert "Opening slide" not in document["markdown"]
    assert result.metadata["source_format"] == "odp"
    assert result.metadata["pages_parsed"] == 1


@needs_soffice
@pytest.mark.parametrize("target", ["ppt", "odp"])
def test_saved_decks_keep_slide_titles_as_headings(tmp_path: Path, target: str) -> None:
    deck = soffice_convert(python_pptx_deck(tmp_path / "deck.pptx"), target)
    document = output(parse(deck))
    assert [page["markdown"].splitlines()[:2] for page in document["pages"]] == [
        ["<!-- Slide number: 1 -->", "# Opening slide"],
        ["<!-- Slide number: 2 -->", "# Budget slide"],
    ]
    assert "Agenda for the meeting" in document["markdown"]


def test_page_count_is_not_known_before_conversion(tmp_path: Path) -> None:
    # As for .pptx and .xlsx: only PDFs and images are counted without converting.
    assert count_pages(write_ods(tmp_path / "budget.ods")) is None


@needs_soffice
def test_stored_path_without_extension_and_a_hostile_name(tmp_path: Path) -> None:
    blob = tmp_path / "blob-0001"
    write_odt(blob)
    name = "$(touch pwned); rm -rf ~ `id` 'quoted' \"x\" -- --help\n..odt"
    result = parse(blob, file_name=name)
    assert output(result)["markdown"].startswith("# Quarterly Report")
    assert result.metadata["source_format"] == "odt"
    assert not (Path.cwd() / "pwned").exists()
    assert not (tmp_path / "pwned").exists()


@needs_soffice
def test_conversions_at_once_do_not_share_a_profile_and_leave_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    paths = [write_odt(tmp_path / f"report-{n}.odt") for n in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        converted = list(pool.map(lambda path: office.convert(path, "odt"), paths))
    for data in converted:
        with zipfile.ZipFile(io.BytesIO(data)) as docx:
            assert b"Quarterly Report" in docx.read("word/document.xml")
    assert list(scratch.iterdir()) == []


# ------------------------------------------------------------------ failures


def test_random_bytes_are_a_corrupted_file_without_starting_libreoffice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LibreOffice would import them as plain text; the container is checked first.
    monkeypatch.setattr(office, "SOFFICE_COMMANDS", ("soffice-must-not-run",))
    noise = os.urandom(4096)
    expected = {
        "odt": "corrupted file: the .odt file is not a valid OpenDocument package",
        "ods": "corrupted file: the .ods file is not a valid OpenDocument package",
        "doc": "corrupted file: the .doc file is not a Word 97-2003 document",
        "ppt": "corrupted file: the .ppt file is not a PowerPoint 97-2003 presentation",
        "rtf": "corrupted file: the .rtf file is not RTF",
    }
    for fmt, message in expected.items():
        path = tmp_path / f"noise.{fmt}"
        path.write_bytes(b"\x00" + noise)
        started = time.monotonic()
        with pytest.raises(DocumentError) as failure:
            parse(path)
        assert str(failure.value).startswith(message)
        assert time.monotonic() - started < 5


def test_ole_container_of_another_kind_is_not_a_word_document(tmp_path: Path) -> None:
    path = tmp_path / "noise.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096))
    with pytest.raises(DocumentError, match=r"^corrupted file: the \.doc file is an OLE2 "):
        parse(path)


def test_encrypted_odf_is_password_protected(tmp_path: Path) -> None:
    path = write_odf(tmp_path / "locked.odt", "odt", "<office:text/>", encrypted=True)
    with pytest.raises(DocumentError) as failure:
        parse(path)
    assert str(failure.value) == "encrypted document: the .odt file is password-protected"


def test_spreadsheet_named_odt_says_which_extension_it_needs(tmp_path: Path) -> None:
    path = write_ods(tmp_path / "budget.odt")
    with pytest.raises(DocumentError) as failure:
        parse(path)
    assert str(failure.value) == (
        "wrong extension: the .odt file is an OpenDocument spreadsheet (rename it to .ods)"
    )


@needs_soffice
def test_package_libreoffice_cannot_load_fails_with_its_reason(tmp_path: Path) -> None:
    # A part missing from the manifest: LibreOffice refuses the package as broken.
    path = tmp_path / "broken.odt"
    write_odt(path)
    with zipfile.ZipFile(path, "a") as package:
        package.writestr("unlisted.xml", "<x/>")
    manifest = zipfile.ZipFile(path).read("META-INF/manifest.xml")
    assert b"unlisted" not in manifest
    started = time.monotonic()
    with pytest.raises(DocumentError) as failure:
        parse(path)
    message = str(failure.value)
    assert message.startswith(
        "corrupted file: LibreOffice could not convert the .odt file; it is damaged, "
        "password-protected or not an OpenDocument text"
    )
    assert len(message) <= 300 and "\n" not in message
    assert time.monotonic() - started < 60


def test_missing_libreoffice_is_named_with_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(office, "SOFFICE_COMMANDS", ("soffice-not-installed-here",))
    assert not office.installed()
    with pytest.raises(DocumentError) as failure:
        parse(write_odt(tmp_path / "report.odt"))
    assert str(failure.value) == (
        "LibreOffice is not installed (the soffice program): .odt files need it; "
        "install it with scripts/install-system-deps.sh"
    )


def fake_soffice(tmp_path: Path, script: str) -> Path:
    """An executable shell script standing in for soffice."""
    program = tmp_path / "fake-soffice"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def gone(pid: int) -> bool:
    """Whether process ``pid`` no longer runs (exited, or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


def test_timeout_stops_libreoffice_and_everything_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "record"
    record.mkdir()
    program = fake_soffice(
        tmp_path,
        f'echo "$HOME" > {record}/home\nsleep 300 &\necho $! > {record}/child\nwait\n',
    )
    monkeypatch.setattr(office, "SOFFICE_COMMANDS", (str(program),))
    started = time.monotonic()
    with pytest.raises(DocumentError) as failure:
        office.convert(write_odt(tmp_path / "report.odt"), "odt", timeout=1.5)
    assert str(failure.value) == "LibreOffice timed out after 1.5s converting the .odt file"
    assert time.monotonic() - started < 10
    child = int((record / "child").read_text())
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child), "the program's child survived the timeout"
    home = Path((record / "home").read_text().strip())
    assert home.name == "home"
    assert not home.parent.exists(), "the conversion's directory was left behind"


def test_libreoffice_dies_with_its_time_limit_when_the_engine_process_is_killed(
    tmp_path: Path,
) -> None:
    record = tmp_path / "record"
    record.mkdir()
    program = fake_soffice(tmp_path, f"sleep 300 &\necho $! > {record}/child\nwait\n")
    source = write_odt(tmp_path / "report.odt")
    # An engine process converting, then killed by its pool (SIGKILL: no cleanup runs).
    engine = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from docbatch.engines import office; "
            f"office.SOFFICE_COMMANDS = ({str(program)!r},); "
            f"office.convert(Path({str(source)!r}), 'odt', timeout=1.0)",
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    deadline = time.monotonic() + 20
    while not (record / "child").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.kill()
    engine.wait()
    child = int((record / "child").read_text())
    deadline = time.monotonic() + 1.0 + office.WATCHDOG_GRACE_SECONDS + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(child), "LibreOffice outlived the engine process past its time limit"


def test_no_output_file_fails_with_the_programs_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = fake_soffice(
        tmp_path,
        "echo 'Warning: failed to launch javaldx - java may not function correctly' >&2\n"
        "echo 'Error: source file could not be loaded' >&2\n",
    )
    monkeypatch.setattr(office, "SOFFICE_COMMANDS", (str(program),))
    with pytest.raises(DocumentError) as failure:
        parse(write_odt(tmp_path / "report.odt"))
    assert str(failure.value) == (
        "corrupted file: LibreOffice could not convert the .odt file; it is damaged, "
        "password-protected or not an OpenDocument text (Error: source file could not be loaded)"
    )


# ------------------------------------------------------------------ OOXML repairs

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DOCUMENT_NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    f'xmlns:r="{_RELS}" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
    'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'
)
_DRAWING = (
    '<w:r><w:drawing><wp:inline><wp:extent cx="914400" cy="914400"/>'
    '<wp:docPr id="1" name="Picture 1" descr="Company logo"/><a:graphic><a:graphicData '
    'uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr>'
    '<pic:cNvPr id="1" name="logo.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>'
    '<a:blip r:embed="rIdImage"/></pic:blipFill><pic:spPr/></pic:pic></a:graphicData>'
    "</a:graphic></wp:inline></w:drawing></w:r>"
)
_VML_PICTURE = (
    '<w:r><w:pict><v:shape style="width:72pt;height:72pt"><v:imagedata r:id="rIdImage" '
    'o:title="logo"/></v:shape></w:pict></w:r>'
)


def write_docx(path: Path, picture: str, image_relationship: str) -> Path:
    """A .docx of three paragraphs, the middle one a picture from ``image_relationship``."""
    paragraphs = "".join(
        f"<w:p>{run}</w:p>"
        for run in (
            "<w:r><w:t>Quarterly report before the picture</w:t></w:r>",
            picture,
            '<w:r><w:t>Closing words, see </w:t></w:r><w:hyperlink r:id="rIdLink"><w:r>'
            "<w:t>the website</w:t></w:r></w:hyperlink>",
        )
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{_RELS}/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        package.writestr(
            "word/_rels/document.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            f'openxmlformats.org/package/2006/relationships">{image_relationship}'
            f'<Relationship Id="rIdLink" Type="{_RELS}/hyperlink" '
            'Target="https://example.com/" TargetMode="External"/></Relationships>',
        )
        package.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document {_DOCUMENT_NAMESPACES}>'
            f"<w:body>{paragraphs}</w:body></w:document>",
        )
    return path


EXTERNAL_IMAGE = (
    f'<Relationship Id="rIdImage" Type="{_RELS}/image" '
    'Target="https://example.invalid/logo.png" TargetMode="External"/>'
)
MISSING_IMAGE = f'<Relationship Id="rIdImage" Type="{_RELS}/image" Target="media/image1.png"/>'


@pytest.mark.parametrize(
    ("picture", "relationship"),
    [(_DRAWING, EXTERNAL_IMAGE), (_VML_PICTURE, EXTERNAL_IMAGE), (_DRAWING, MISSING_IMAGE)],
    ids=["drawing-external", "vml-external", "drawing-missing-part"],
)
def test_docx_with_an_image_outside_the_package_keeps_its_text(
    tmp_path: Path, picture: str, relationship: str
) -> None:
    path = write_docx(tmp_path / "report.docx", picture, relationship)
    markdown = output(parse(path))["markdown"]
    assert markdown == (
        "Quarterly report before the picture\n\n"
        "Closing words, see [the website](https://example.com/)"
    )


def test_repair_leaves_a_sound_docx_alone(tmp_path: Path) -> None:
    image = f'<Relationship Id="rIdImage" Type="{_RELS}/image" Target="media/image1.png"/>'
    path = write_docx(tmp_path / "report.docx", "", image)
    with zipfile.ZipFile(path, "a") as package:
        package.writestr("word/media/image1.png", b"\x89PNG\r\n\x1a\n")
    assert office.repair_package(path.read_bytes(), "docx") is None


_ODD_SHAPES = {
    # Neither preset nor custom geometry nor a text box: python-pptx cannot classify it.
    "no-geometry": (
        '<p:sp><p:nvSpPr><p:cNvPr id="90" name="Odd"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr>'
        '<p:spPr><a:xfrm><a:off x="100" y="100"/><a:ext cx="100" cy="100"/></a:xfrm>'
        "</p:spPr><p:txBody><a:bodyPr/><a:p><a:r><a:t>Text in a shape without geometry"
        "</a:t></a:r></a:p></p:txBody></p:sp>"
    ),
    # Ink: a content part, which python-pptx has no shape class for.
    "ink": f'<p:contentPart xmlns:r="{_RELS}" r:id="rIdInk"/>',
}


def rewrite_first_slide(path: Path, change: Callable[[bytes], bytes]) -> Path:
    """A two-slide python-pptx deck at ``path`` whose first slide's XML ``change`` edits."""
    python_pptx_deck(path)
    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "ppt/slides/slide1.xml":
                content = change(content)
            target.writestr(info, content)
    return path


def write_odd_deck(path: Path, odd_shape: str) -> Path:
    """A two-slide python-pptx deck with ``odd_shape`` added to the first slide."""
    return rewrite_first_slide(
        path, lambda xml: xml.replace(b"</p:spTree>", odd_shape.encode() + b"</p:spTree>")
    )


@pytest.mark.parametrize("shape", list(_ODD_SHAPES), ids=list(_ODD_SHAPES))
def test_pptx_with_a_shape_python_pptx_cannot_read_keeps_its_text(
    tmp_path: Path, shape: str
) -> None:
    path = write_odd_deck(tmp_path / "deck.pptx", _ODD_SHAPES[shape])
    document = output(parse(path))
    first, second = (page["markdown"] for page in document["pages"])
    assert "# Opening slide" in first
    assert "Agenda for the meeting" in first
    assert ("Text in a shape without geometry" in first) == (shape == "no-geometry")
    assert "# Budget slide" in second


def test_pptx_chart_without_its_part_keeps_the_rest_of_the_slide(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Sales chart"
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("Sales", (1, 2))
    slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(4), Inches(3), data
    )
    box = slide.shapes.add_textbox(Inches(1), Inches(6), Inches(4), Inches(1))
    box.text_frame.text = "Caption under the chart"
    buffer = io.BytesIO()
    deck.save(buffer)
    path = tmp_path / "chart.pptx"
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(path, "w") as target,
    ):
        for info in source.infolist():
            if not info.filename.startswith("ppt/charts/"):
                target.writestr(info, source.read(info.filename))
    markdown = output(parse(path))["markdown"]
    assert "# Sales chart" in markdown
    assert "Caption under the chart" in markdown


def test_speaker_notes_are_not_slide_content(tmp_path: Path) -> None:
    from pptx import Presentation

    path = python_pptx_deck(tmp_path / "deck.pptx")
    deck = Presentation(str(path))
    deck.slides[0].notes_slide.notes_text_frame.text = "Remind them of the deadline"
    deck.save(str(path))
    conversion = convert_document(path)
    assert conversion.pages is not None
    assert [page.markdown.splitlines()[1:] for page in conversion.pages] == [
        ["# Opening slide", "Agenda for the meeting"],
        ["# Budget slide", "Costs"],
    ]
    assert "deadline" not in conversion.markdown


def test_unrepairable_deck_keeps_its_first_error(tmp_path: Path) -> None:
    path = rewrite_first_slide(tmp_path / "broken.pptx", lambda xml: xml[: len(xml) // 2])
    with pytest.raises(DocumentError, match=r"^corrupted file: malformed XML inside the \.pptx"):
        convert_document(path)


# ------------------------------------------------------------------ real documents


@needs_soffice
@pytest.mark.skipif(not FORMAT_FILES, reason="no ../shared/quality/formats here")
@pytest.mark.parametrize("path", FORMAT_FILES, ids=[p.name for p in FORMAT_FILES])
def test_quality_documents_read_close_to_their_reference(path: Path) -> None:
    result = parse(path)
    reference = path.with_name(path.name + ".md").read_text()
    assert word_f1(output(result)["markdown"], reference) >= 0.9
    assert result.metadata["source_format"] == path.suffix.lstrip(".")
