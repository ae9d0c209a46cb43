"""Identifiers: readable prefixes like the reference (``bjb-…``, ``dir-…``)."""

from __future__ import annotations

import uuid

JOB_PREFIX = "bjb"
DIRECTORY_PREFIX = "dir"
FILE_PREFIX = "dfl"
RESULT_PREFIX = "res"

_RESULT_NAMESPACE = uuid.UUID("6c1f3c4e-6f5b-4b0e-9d51-2f0b1f6c7d11")


def new_id(prefix: str) -> str:
    """A fresh random id with a type prefix."""
    return f"{prefix}-{uuid.uuid4()}"


def result_id_for(job_id: str, item_id: str) -> str:
    """The deterministic result id of one job item, so retries never write a second result."""
    return f"{RESULT_PREFIX}-{uuid.uuid5(_RESULT_NAMESPACE, f'{job_id}/{item_id}')}"


def parent_workflow_id(job_id: str) -> str:
    """Workflow id of a job's parent workflow."""
    return f"batch-{job_id}"


def item_workflow_id(job_id: str, item_id: str) -> str:
    """Workflow id of the child workflow of one item."""
    return f"batch-{job_id}-{item_id}"
