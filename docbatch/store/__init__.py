"""The SQL store: directories, files, jobs, job items and processing results."""

from docbatch.store.repository import FileSpec, JobStart, ListedPage, ResultSpec, Store

__all__ = ["FileSpec", "JobStart", "ListedPage", "ResultSpec", "Store"]
