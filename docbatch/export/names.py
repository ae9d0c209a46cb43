"""Where an exported output goes: item names made into relative paths that stay inside
the export folder."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from docbatch.models import JobType

MAX_COMPONENT_BYTES = 200
"""A path component's longest encoding: NAME_MAX (255 bytes) leaves room for the suffix,
a duplicate's item id and a temporary file's affixes."""


def output_suffix(job_type: JobType) -> str:
    """The suffix an exported output file adds to its item's name."""
    return ".md" if job_type == JobType.PARSE else ".json"


def _component(part: str) -> str:
    part = part.replace("\0", "%00")
    if part == "..":
        return "%2E%2E"
    encoded = part.encode()
    if len(encoded) <= MAX_COMPONENT_BYTES:
        return part
    digest = hashlib.sha256(encoded).hexdigest()[:16]
    kept = encoded[: MAX_COMPONENT_BYTES - len(digest) - 1].decode(errors="ignore")
    return f"{kept}~{digest}"


def safe_relative_path(name: str) -> PurePosixPath | None:
    """``name`` as a relative path that stays inside any folder it is joined to.

    Backslashes separate like slashes; empty and ``.`` components (hence a leading
    ``/``) are dropped; ``..`` becomes ``%2E%2E``, so ``../x`` lands apart from ``x``;
    NUL becomes ``%00``; a component over ``MAX_COMPONENT_BYTES`` is cut and ends with
    a hash of the whole. None when nothing is left of the name.
    """
    parts = [_component(p) for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def output_relative_path(
    name: str, item_id: str, job_type: JobType, *, duplicate: bool = False
) -> PurePosixPath:
    """Where an item's output goes in an export folder, relative to it.

    ``duplicate``: other items of the job have the same name; the item id then tells
    their files apart (``report.pdf~dfl-….md``). A name with nothing left becomes the
    item id.
    """
    path = safe_relative_path(name)
    if path is None:
        path, duplicate = PurePosixPath(_component(item_id)), False
    stem = f"{path.name}~{_component(item_id)}" if duplicate else path.name
    return path.with_name(stem + output_suffix(job_type))
