"""The long-running processes: ``dev`` (the embedded stack), ``worker`` and ``api``."""

from __future__ import annotations

from docbatch.cli.common import out
from docbatch.logging import configure_logging
from docbatch.loop import run_main
from docbatch.settings import Settings


def dev() -> None:
    """Start the embedded stack (Temporal dev server + Web UI, worker, API) until Ctrl-C."""
    from docbatch.stack import run_dev

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    run_main(run_dev(settings, out.print))


def worker() -> None:
    """Run a worker against TEMPORAL_ADDRESS until SIGINT/SIGTERM."""
    import worker as worker_module

    run_main(worker_module.main())


def api() -> None:
    """Serve the HTTP API (same as ``python -m docbatch.api``)."""
    from docbatch.api.__main__ import main

    main()
