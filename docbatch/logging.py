"""structlog setup: readable console output on a terminal, JSON lines otherwise.

stdlib records (the Temporal SDK's, ``activity.logger``'s, uvicorn's) go through the same
processors as structlog's own lines, so both carry the context variables bound with
``structlog.contextvars`` — the worker's interceptor (``docbatch.interceptors``) binds
job id, item id, workflow id, run id and attempt around every activity — and the
Temporal fields the SDK's loggers attach to their records become keys of the line.

The SDK's Rust core logs on its own, to stdout (where it would corrupt ``--json``
output): docbatch's Temporal runtimes forward those lines to the ``temporalio.core``
logger instead (:func:`temporal_logging`), so they are rendered here too.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from temporalio import activity
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

_HANDLER_NAME = "docbatch"
_QUIET_LOGGERS = (
    "pdfminer",
    "httpx",
    "httpcore",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "sqlalchemy.engine",
    "botocore",
    "boto3",
    "urllib3",
)


_TEMPORAL_FIELDS = {
    "temporal_activity": {
        "workflow_id": "workflow_id",
        "workflow_run_id": "run_id",
        "activity_type": "activity_type",
        "attempt": "attempt",
    },
    "temporal_workflow": {"workflow_id": "workflow_id", "run_id": "run_id"},
}
"""Fields of the ``extra`` dicts of ``activity.logger`` / ``workflow.logger`` records, by key."""


def add_temporal_fields(
    _logger: Any, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Lift the Temporal SDK's per-record details into keys (bound context wins).

    Covers the SDK's own lines about an activity, which it logs after the activity (and
    the interceptor's bound context) ended, ``workflow.logger`` lines, and the core's
    forwarded lines (their target and fields).
    """
    record = event_dict.get("_record")
    for attribute, names in _TEMPORAL_FIELDS.items():
        details = getattr(record, attribute, None)
        if isinstance(details, dict):
            for source, target in names.items():
                if source in details:
                    event_dict.setdefault(target, details[source])
    core = getattr(record, "temporal_log", None)
    if core is not None:
        event_dict.setdefault("core_target", getattr(core, "target", None))
        fields = getattr(core, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                event_dict.setdefault(key, value)
    return event_dict


CORE_LOGGER = "temporalio.core"


def temporal_logging() -> LoggingConfig:
    """The SDK core's logging for docbatch's runtimes: WARN and up, to ``temporalio.core``."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger(CORE_LOGGER),
            append_target_to_name=False,
            prepend_target_on_message=False,
            append_log_fields_to_message=False,
        ),
    )


_default_runtime_set = False


def _forward_core_logs_by_default() -> None:
    """Make the SDK's default runtime (clients connected without one) forward core logs."""
    global _default_runtime_set  # noqa: PLW0603 - one runtime per process
    if not _default_runtime_set:
        runtime = Runtime(telemetry=TelemetryConfig(logging=temporal_logging()))
        Runtime.set_default(runtime, error_if_already_set=False)
        _default_runtime_set = True


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Route stdlib and structlog logging through one renderer chosen by ``fmt``."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        # Lines below the level are dropped before any processor runs.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, add_temporal_fields],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([structlog.processors.format_exc_info] if use_json else []),
                renderer,
            ],
        )
    )
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(level.upper())
    # These log SQL parameters or HTTP details at DEBUG, where job configs (API keys,
    # webhook headers) would appear: keep them at WARNING whatever the level asked for.
    for chatty in _QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # The activity's details are keys of the line (above): not also a dict in the message.
    activity.logger.activity_info_on_message = False
    _forward_core_logs_by_default()
