"""Results out, in bulk: a job's outputs as files in a folder, or as JSON lines.

:func:`export_job` writes one file per item with an output, at the item's path in its
directory: ``a/b/report.pdf`` becomes ``a/b/report.pdf.md`` for a parse job (the
markdown of the output) and ``a/b/report.pdf.json`` for classify and extract (the JSON
result), beside ``_docbatch.jsonl``, a manifest with one line per item of the job::

    {"name": "a/b/report.pdf", "item_id": "dfl-…", "status": "completed",
     "output": "a/b/report.pdf.md", "error_message": null, "skip_reason": null,
     "parameters_hash": "…", "result_id": "res-…"}

Items skipped as already processed have the output they reuse; failed ones have their
error and no file. Exporting again writes the same files and the same manifest, and
leaves files that are already identical untouched (their modification times too).
Every write goes to a temporary file renamed into place. Names never leave the folder:
``..`` components, absolute paths and backslashes are neutralized.

:func:`result_lines` yields the same job as JSON lines with each output inline (or a
reference to it), for ``GET …/{job_id}/results.jsonl``. Both page through the job's
items in bounded batches and hold one output at a time: memory stays flat whatever the
job's size.
"""

from docbatch.export.folder import (
    FOLLOW_EVERY_SECONDS,
    FOLLOW_OVERLAP,
    MANIFEST_NAME,
    ExportFollower,
    ExportPathError,
    ExportStats,
    export_job,
    following,
    write_if_changed,
)
from docbatch.export.jsonl import (
    INLINE_LIMIT_BYTES,
    ContentMode,
    processing_results_path,
    result_line,
    result_lines,
)
from docbatch.export.names import (
    MAX_COMPONENT_BYTES,
    output_relative_path,
    output_suffix,
    safe_relative_path,
)
from docbatch.export.reading import (
    PAGE_SIZE,
    READ_WINDOW,
    ItemResult,
    Read,
    inline_content,
    iter_item_results,
    read_outputs,
    render_output,
)

__all__ = [
    "FOLLOW_EVERY_SECONDS",
    "FOLLOW_OVERLAP",
    "INLINE_LIMIT_BYTES",
    "MANIFEST_NAME",
    "MAX_COMPONENT_BYTES",
    "PAGE_SIZE",
    "READ_WINDOW",
    "ContentMode",
    "ExportFollower",
    "ExportPathError",
    "ExportStats",
    "ItemResult",
    "Read",
    "export_job",
    "following",
    "inline_content",
    "iter_item_results",
    "output_relative_path",
    "output_suffix",
    "processing_results_path",
    "read_outputs",
    "render_output",
    "result_line",
    "result_lines",
    "safe_relative_path",
    "write_if_changed",
]
