"""The directories endpoints' bodies and answers: directories and the files in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from docbatch.models.base import _Request, _Response

DirectoryType = Literal["user", "ephemeral", "index"]


class DirectoryCreateRequest(_Request):
    """Body of ``POST /api/v1/beta/directories``."""

    name: str = Field(min_length=1, max_length=512)
    description: str | None = None
    system_metadata: dict[str, Any] | None = None
    type: Literal["user", "ephemeral"] | None = None
    connector_subscription_id: str | None = Field(default=None, min_length=1, max_length=128)


class DirectoryUpdateRequest(_Request):
    """Body of ``PATCH /api/v1/beta/directories/{directory_id}``."""

    name: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = None


class Directory(_Response):
    """A directory of files (the client's ``Directory`` shape)."""

    id: str
    name: str
    project_id: str
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    expires_at: datetime | None = None
    updated_at: datetime | None = None
    description: str | None = None
    system_metadata: dict[str, Any] | None = None
    type: DirectoryType | None = None
    connector_subscription_id: str | None = None


FileMetadata = dict[str, str | int | float | bool | list[str] | None]


class DirectoryFileAddRequest(_Request):
    """Body of ``POST /api/v1/beta/directories/{directory_id}/files``."""

    file_id: str
    display_name: str | None = None
    metadata: FileMetadata | None = None
    unique_id: str | None = Field(default=None, min_length=1)


class DirectoryFileUpdateRequest(_Request):
    """Body of ``PATCH …/files/{directory_file_id}``."""

    display_name: str | None = None
    metadata: FileMetadata | None = None
    target_directory_id: str | None = None
    unique_id: str | None = Field(default=None, min_length=1)


class DirectoryFile(_Response):
    """A file in a directory (the client's ``DirectoryFile`` shape); its id is the item id."""

    id: str
    directory_id: str
    display_name: str
    project_id: str
    unique_id: str
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    updated_at: datetime | None = None
    file_id: str | None = None
    metadata: FileMetadata | None = None
    # docbatch additions, useful to clients and harmless to the reference client.
    size_bytes: int | None = None
    content_hash: str | None = None
    mime_type: str | None = None
