"""Inputs and outputs of the workflows and activities (one model each, ids not payloads).

These travel through Temporal with the pydantic data converter. They carry only ids,
cursors and counters: job configs stay in the store, so workflow histories stay small
and free of secrets.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from docbatch import defaults
from docbatch.models import ItemStatus, JobCounts, JobStatus


class ParentState(JobCounts):
    """What a parent run hands to the next one at continue-as-new: the counts so far,
    the cursor and the job's shape."""

    cursor: int = 0
    """Ordinal of the last item listed; the next page starts after it."""
    page_size: int = defaults.PAGE_SIZE
    continue_as_new_threshold: int = defaults.PAGE_SIZE
    max_concurrent_children: int = defaults.MAX_CONCURRENT_CHILDREN
    timeout_seconds: float = defaults.JOB_TIMEOUT_SECONDS
    runs: int = 1
    webhooks: bool = False
    webhook_retry_hours: float = defaults.WEBHOOK_RETRY_HOURS
    webhook_initial_retry_seconds: float = defaults.WEBHOOK_INITIAL_RETRY_SECONDS
    job_type: str = ""
    directory_id: str | None = None
    paused: bool = False
    """Dispatching is paused: survives continue-as-new like the counters."""
    window: int = 0
    """Children kept in flight now, adapted to how fast the workers take items up (at
    most ``max_concurrent_children``); 0 in runs that do not adapt it (recorded before
    it adapted), which keep ``max_concurrent_children`` in flight."""
    window_credit: int = 0
    """Children taken up at once since the window last widened."""


class BatchParentInput(BaseModel):
    """Input of ``BatchParentWorkflow``: the job id, plus the state after a continue-as-new."""

    job_id: str
    state: ParentState | None = None


class BatchParentResult(JobCounts):
    """Final counts of a batch job."""

    job_id: str
    status: JobStatus
    runs: int


class Progress(BaseModel):
    """Answer of the parent's progress query."""

    job_id: str
    status: str
    """The job's status, or ``paused`` while a running job dispatches nothing new."""
    paused: bool = False
    total: int
    completed: int
    failed: int
    skipped: int
    cancelled: int
    in_flight: int
    percentage: float = Field(ge=0, le=100)
    run: int
    window: int = 0
    """Children the job keeps in flight now (see ``ParentState.window``)."""


class CancelRequest(BaseModel):
    """Argument of the ``cancel`` signal and Update (read leniently: any input cancels)."""

    reason: str | None = None


class CancelResult(BaseModel):
    """Answer of the cancel Update, once every item is terminal."""

    job_id: str
    status: JobStatus
    processed_items: int


class StartJobInput(BaseModel):
    """Mark a job running and snapshot what it covers."""

    job_id: str


class StartJobOutput(BaseModel):
    """The job's shape, read once at the start of the first run."""

    total: int
    page_size: int
    continue_as_new_threshold: int
    max_concurrent_children: int = defaults.MAX_CONCURRENT_CHILDREN
    initial_concurrent_children: int = defaults.INITIAL_CONCURRENT_CHILDREN
    timeout_seconds: float
    already_terminal: JobStatus | None = None
    webhooks: bool = False
    webhook_retry_hours: float = defaults.WEBHOOK_RETRY_HOURS
    webhook_initial_retry_seconds: float = defaults.WEBHOOK_INITIAL_RETRY_SECONDS
    job_type: str = ""
    directory_id: str | None = None


class ListPageInput(BaseModel):
    """List the next page of a job's items after ``cursor``."""

    job_id: str
    cursor: int
    limit: int = Field(gt=0)


class ListPageOutput(BaseModel):
    """Items of the page that need a child workflow, and what the page skipped."""

    item_ids: list[str]
    item_names: list[str] = Field(default_factory=list)
    """Names of ``item_ids`` (same order), for the summaries shown in the Web UI."""
    skipped: int
    listed: int
    next_cursor: int
    exhausted: bool


class SetJobStatusInput(BaseModel):
    """Move a job to a new status (guarded: a terminal job never changes)."""

    job_id: str
    status: JobStatus
    error_message: str | None = None


class SetJobPausedInput(BaseModel):
    """Record that a job is paused, or dispatching again."""

    job_id: str
    paused: bool


class JobSnapshot(JobCounts):
    """A job's status and item counts as the store has them."""

    status: JobStatus


class CancelJobItemsInput(BaseModel):
    """Mark every item of the job that is not terminal as cancelled."""

    job_id: str
    reason: str | None = None


class CancelJobItemsOutput(BaseModel):
    """How many items the cancellation touched."""

    cancelled: int


class ItemInput(BaseModel):
    """Input of ``BatchItemWorkflow`` and its activities."""

    job_id: str
    item_id: str
    timeout_seconds: float = defaults.JOB_TIMEOUT_SECONDS
    item_name: str = ""


class ItemFailureInput(BaseModel):
    """Record that an item failed (after the engine activity gave up)."""

    job_id: str
    item_id: str
    error_message: str


class ItemOutcome(BaseModel):
    """Status of one item after an attempt: final, or still open (``pending``/``processing``)
    when a quick attempt left the document to the durable path."""

    item_id: str
    status: ItemStatus
    error_message: str | None = None
    queued: bool = False
    """The quick attempt found every engine process busy, so the item waited in the
    durable path's queue: the job has more children in flight than the workers take up."""


class RecordEventInput(BaseModel):
    """Record a job event (``running``, ``success``, …) for its webhooks."""

    job_id: str
    suffix: str


class RecordEventOutput(BaseModel):
    """The event's id and how many endpoints want it (0: nothing to deliver)."""

    event_id: str
    targets: int


class WebhookDeliveryInput(BaseModel):
    """Deliver one recorded event to its endpoints, retrying for hours."""

    event_id: str
    targets: int
    retry_hours: float
    initial_retry_seconds: float


class DeliverWebhookInput(BaseModel):
    """Deliver one event to one endpoint (by index among the job's endpoints)."""

    event_id: str
    target_index: int
