"""``python -m docbatch.api``: serve the HTTP API with uvicorn (same env as the worker)."""

from __future__ import annotations

import uvicorn

from docbatch.api.main import create_app
from docbatch.logging import configure_logging
from docbatch.settings import Settings


def main() -> None:
    """Serve the API on ``DOCBATCH_API_HOST``:``DOCBATCH_API_PORT``."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
