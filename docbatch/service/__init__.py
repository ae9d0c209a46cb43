"""Use cases shared by ``starter.py`` and the HTTP API: no logic lives twice.

Each function takes its dependencies (store, Temporal client, settings) explicitly:
:mod:`~docbatch.service.folders` registers local folders as directories,
:mod:`~docbatch.service.jobs` creates and retries jobs, :mod:`~docbatch.service.control`
cancels, pauses and resumes them, :mod:`~docbatch.service.status` reads their status and
listings back and :mod:`~docbatch.service.results` an item's processing results.
"""

from docbatch.service.control import cancel_job, set_paused
from docbatch.service.folders import RegisteredFolder, register_local_folder
from docbatch.service.jobs import (
    TemporalUnavailableError,
    create_job,
    new_job_row,
    retry_failed_items,
)
from docbatch.service.results import REDACTED, get_results, redact
from docbatch.service.status import (
    THROUGHPUT_WINDOW,
    Throughput,
    get_status,
    job_throughput,
    list_items,
    list_jobs,
)

__all__ = [
    "REDACTED",
    "THROUGHPUT_WINDOW",
    "RegisteredFolder",
    "TemporalUnavailableError",
    "Throughput",
    "cancel_job",
    "create_job",
    "get_results",
    "get_status",
    "job_throughput",
    "list_items",
    "list_jobs",
    "new_job_row",
    "redact",
    "register_local_folder",
    "retry_failed_items",
    "set_paused",
]
