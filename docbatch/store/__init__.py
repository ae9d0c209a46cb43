"""The SQL store: directories, files, jobs, job items and processing results."""

from docbatch.store.repository import FileSpec, ResultSpec, Store

__all__ = ["FileSpec", "ResultSpec", "Store"]
