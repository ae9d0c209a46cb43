"""structlog setup: readable console output on a terminal, JSON lines otherwise."""

from __future__ import annotations

import logging
import sys

import structlog

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
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
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
