"""Domain errors of docbatch, independent of Temporal and HTTP.

Hierarchy::

    DocbatchError
    ├── ConfigError            a job config or request is invalid (names the field)
    ├── NotFoundError          an id that does not exist (or is not visible)
    ├── ConflictError          the operation does not fit the current state
    │   └── JobTerminalError   the job already ended (cannot cancel twice)
    ├── TooLargeError          an upload is over the size limit
    └── DocumentError          one document cannot be processed; never retried
        └── UnsupportedFormatError

Activities turn ``DocumentError`` into a non-retryable Temporal ``ApplicationError``
so that one bad file fails its own item and never the batch; the HTTP layer (later)
maps the others to 4xx responses.
"""

from __future__ import annotations


class DocbatchError(Exception):
    """Base class of every error docbatch raises on purpose."""


class ConfigError(DocbatchError):
    """A configuration or request is invalid; ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(DocbatchError):
    """A directory, file, job or item id does not exist."""


class ConflictError(DocbatchError):
    """The request does not fit the current state of the resource."""


class JobTerminalError(ConflictError):
    """The job already reached a terminal status."""


class TooLargeError(DocbatchError):
    """An upload is larger than the deployment accepts."""


class DocumentError(DocbatchError):
    """A document cannot be processed: corrupt, encrypted, empty or unsupported.

    The message is shown to users as the item's ``error_message``, so it must be
    readable on its own (say what is wrong with the file, not where the code failed).
    """


class UnsupportedFormatError(DocumentError):
    """The file type has no converter."""
