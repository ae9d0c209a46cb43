"""OCR with the Tesseract command-line program: languages, availability and one image → words.

The ``tesseract`` binary is called through ``subprocess`` (no Python wrapper needed: the
wrapper libraries do exactly this). Images travel on stdin as uncompressed PNM, which
Leptonica reads without a temporary file and without PNG encoding time; the words come
back as Tesseract's TSV, with their boxes, for the layout engine to arrange.

Image files are prepared here too (frames counted, transparency flattened onto white,
the declared resolution passed on).

Language codes of the reference API (``"en"``, ``"ch_sim"``, ``"rs_latin"``…) map to
Tesseract models (``eng``, ``chi_sim``, ``srp_latn``…). Languages without a model of their
own use Tesseract's model for their script (for example Avar → ``script/Cyrillic``).
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docbatch.errors import DocumentError

if TYPE_CHECKING:
    from PIL.Image import Image

TESSERACT_COMMAND = "tesseract"
"""The program run for OCR, looked up on ``PATH``."""
DEFAULT_LANGUAGE = "eng"
PAGE_TIMEOUT_SECONDS = 600.0
"""A single page that takes longer than this is treated as a failed page."""
NOT_INSTALLED = "OCR is not available (tesseract not installed)"

# Reference language code → Tesseract model.
LANGUAGE_MODELS: dict[str, str] = {
    "af": "afr", "az": "aze", "bs": "bos", "cs": "ces", "cy": "cym", "da": "dan",
    "de": "deu", "en": "eng", "es": "spa", "et": "est", "fr": "fra", "ga": "gle",
    "hr": "hrv", "hu": "hun", "id": "ind", "is": "isl", "it": "ita", "ku": "kmr",
    "la": "lat", "lt": "lit", "lv": "lav", "mi": "mri", "ms": "msa", "mt": "mlt",
    "nl": "nld", "no": "nor", "oc": "oci", "pi": "script/Latin", "pl": "pol",
    "pt": "por", "ro": "ron", "rs_latin": "srp_latn", "sk": "slk", "sl": "slv",
    "sq": "sqi", "sv": "swe", "sw": "swa", "tl": "tgl", "tr": "tur", "uz": "uzb",
    "vi": "vie", "ar": "ara", "fa": "fas", "ug": "uig", "ur": "urd", "bn": "ben",
    "as": "asm", "mni": "script/Bengali", "ru": "rus", "rs_cyrillic": "srp",
    "be": "bel", "bg": "bul", "uk": "ukr", "mn": "mon", "abq": "script/Cyrillic",
    "ady": "script/Cyrillic", "kbd": "script/Cyrillic", "ava": "script/Cyrillic",
    "dar": "script/Cyrillic", "inh": "script/Cyrillic", "che": "script/Cyrillic",
    "lbe": "script/Cyrillic", "lez": "script/Cyrillic", "tab": "script/Cyrillic",
    "tjk": "tgk", "hi": "hin", "mr": "mar", "ne": "nep", "bh": "script/Devanagari",
    "mai": "script/Devanagari", "ang": "script/Devanagari", "bho": "script/Devanagari",
    "mah": "script/Devanagari", "sck": "script/Devanagari", "new": "script/Devanagari",
    "gom": "script/Devanagari", "sa": "san", "bgc": "script/Devanagari", "th": "tha",
    "ch_sim": "chi_sim", "ch_tra": "chi_tra", "ja": "jpn", "ko": "kor", "ta": "tam",
    "te": "tel", "kn": "kan",
}  # fmt: skip

# Debian/Ubuntu package suffix of each script model (tesseract-ocr-script-<suffix>).
_SCRIPT_PACKAGES = {
    "script/Latin": "latn",
    "script/Cyrillic": "cyrl",
    "script/Devanagari": "deva",
    "script/Bengali": "beng",
}
_MODEL_NAME = re.compile(r"^(?:[a-z]{3}(?:_[a-z]+)?|script/[A-Z][A-Za-z_]+)$")


@dataclass(frozen=True, slots=True)
class Tesseract:
    """An installed Tesseract: where it is, its version and the models it has."""

    path: str
    version: str
    models: frozenset[str]


def tesseract() -> Tesseract | None:
    """The installed Tesseract, or None when ``TESSERACT_COMMAND`` is not on ``PATH``."""
    return _probe(TESSERACT_COMMAND)


def tesseract_languages(codes: Iterable[str]) -> str:
    """The ``-l`` argument for reference language ``codes`` (``eng`` when there are none).

    Raises ``DocumentError`` when Tesseract is missing, a code is unknown or its
    language pack is not installed.
    """
    installed = tesseract()
    if installed is None:
        raise DocumentError(f"no extractable text: {NOT_INSTALLED}")
    wanted: dict[str, str] = {}  # model → the code that asked for it, in order
    for code in codes:
        wanted.setdefault(model_for(code), code)
    if not wanted:
        wanted[DEFAULT_LANGUAGE] = "en"
    for model, code in wanted.items():
        if model not in installed.models:
            installed = _refresh()
            if installed is None or model not in installed.models:
                raise DocumentError(
                    f"OCR language pack missing for {code!r} (tesseract {model!r}): "
                    f"install {package_for(model)}"
                )
    return "+".join(wanted)


def model_for(code: str) -> str:
    """The Tesseract model for a reference code; Tesseract model names pass through."""
    normalized = code.strip()
    model = LANGUAGE_MODELS.get(normalized.lower())
    if model is not None:
        return model
    if _MODEL_NAME.match(normalized):
        return normalized
    raise DocumentError(
        f"unknown OCR language {code[:40]!r}: use codes such as 'en', 'de', 'ch_sim' "
        "or Tesseract model names such as 'eng'"
    )


def package_for(model: str) -> str:
    """The Debian/Ubuntu package that installs a Tesseract model."""
    if model in _SCRIPT_PACKAGES:
        return f"tesseract-ocr-script-{_SCRIPT_PACKAGES[model]}"
    return "tesseract-ocr-" + model.lower().replace("_", "-").replace("/", "-")


@dataclass(frozen=True, slots=True)
class OcrWord:
    """One word Tesseract read: its text, its box in pixels and the line it is on."""

    text: str
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]
    """(block, paragraph, line) numbers: words of one line share them."""
    line_height: int
    """The height of the word's whole line (a steadier font size than the word's own)."""


def ocr_words(image: Image, languages: str, *, dpi: int | None = None) -> list[OcrWord]:
    """The words Tesseract reads in ``image`` (greyscale or RGB) with ``languages``, with
    their boxes, in its reading order.

    A Tesseract failure on this image raises ``DocumentError``; a missing binary too.
    """
    rows = _tesseract_tsv(image, languages, dpi).splitlines()
    line_heights: dict[tuple[int, int, int], int] = {}
    words: list[OcrWord] = []
    for row in rows[1:]:
        fields = row.split("\t")
        if len(fields) < 12 or not fields[0].isdigit():
            continue
        level = int(fields[0])
        key = (int(fields[2]), int(fields[3]), int(fields[4]))
        left, top, width, height = (int(value) for value in fields[6:10])
        if level == 4:
            line_heights[key] = height
        elif level == 5 and (text := fields[11].strip()):
            words.append(
                OcrWord(text, left, top, width, height, key, line_heights.get(key, height))
            )
    return words


def _tesseract_tsv(image: Image, languages: str, dpi: int | None) -> str:
    installed = tesseract()
    if installed is None:
        raise DocumentError(f"no extractable text: {NOT_INSTALLED}")
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    command = [installed.path, "stdin", "stdout", "-l", languages]
    if dpi:
        # Without it Tesseract guesses the resolution from the text height, worse on
        # pages that hold little text.
        command += ["--dpi", str(dpi)]
    command.append("tsv")
    try:
        completed = subprocess.run(
            command,
            input=buffer.getvalue(),
            capture_output=True,
            timeout=PAGE_TIMEOUT_SECONDS,
            check=False,
            env=_environment(),
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(f"OCR timed out after {PAGE_TIMEOUT_SECONDS:g}s") from None
    if completed.returncode != 0:
        detail = _last_line(completed.stderr) or f"exit status {completed.returncode}"
        raise DocumentError(f"OCR failed: {detail}")
    return completed.stdout.decode("utf-8", errors="replace")


def prepare_image(image: Image) -> Image:
    """The current frame as greyscale or RGB, transparency flattened onto white.

    Colour stays colour: Tesseract's own binarisation reads dark text on coloured table
    cells that a plain greyscale conversion loses.
    """
    from PIL import Image as PILImage

    if image.mode in ("1", "L"):
        return image.convert("L")
    frame = image
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = PILImage.alpha_composite(background, rgba)
    return frame.convert("RGB")


def declared_dpi(image: Image) -> int | None:
    """The resolution an image declares, when plausible for a scan or screenshot."""
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and dpi and isinstance(dpi[0], int | float):
        value = round(float(dpi[0]))
        if 70 <= value <= 2400:
            return value
    return None


def frame_count(path: Path) -> int | None:
    """How many frames (pages) an image file holds, or None when Pillow cannot read it."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with PILImage.open(path) as image:
                return int(getattr(image, "n_frames", 1))
    except (UnidentifiedImageError, PILImage.DecompressionBombError, SyntaxError):
        return None


# ------------------------------------------------------------------ internals


@functools.cache
def _probe(command: str) -> Tesseract | None:
    """Find ``command`` and list its models once per process (each call forks)."""
    path = shutil.which(command)
    if path is None:
        return None
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, timeout=30, check=False
        ).stdout.decode("utf-8", errors="replace")
        listing = subprocess.run(
            [path, "--list-langs"], capture_output=True, timeout=30, check=False
        ).stdout.decode("utf-8", errors="replace")
    except (OSError, subprocess.SubprocessError):
        return None
    first = version.splitlines()[0].strip() if version.strip() else "tesseract"
    # The first line is a heading ("List of available languages in …"), then one per line.
    models = frozenset(line.strip() for line in listing.splitlines()[1:] if line.strip())
    return Tesseract(path=path, version=first, models=models)


def _refresh() -> Tesseract | None:
    # A language pack installed while the worker runs is found on the next miss.
    _probe.cache_clear()
    return tesseract()


def _environment() -> dict[str, str]:
    # Tesseract's OpenMP threads compete with the other engine processes of the worker
    # for the same cores; one thread per process is faster overall (Tesseract's advice
    # for running several instances at once).
    environment = dict(os.environ)
    environment.setdefault("OMP_THREAD_LIMIT", "1")
    return environment


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("Estimating resolution")]
    text = meaningful[-1] if meaningful else ""
    return text if len(text) <= 160 else text[:157] + "..."
