"""The HTTP API: the reference's beta batch-processing and directories endpoints."""

from docbatch.api.main import create_app

__all__ = ["create_app"]
