"""Blob storage for file contents and outputs: a local folder (S3 arrives later).

Locations are URIs (``file:///abs/path``) so a row in the store says where its bytes
live whatever the backend; local folders registered with ``starter.py run`` are
referenced in place, never copied.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from docbatch.errors import NotFoundError


def path_to_location(path: Path) -> str:
    """The ``file://`` URI of a local path."""
    return path.resolve().as_uri()


def location_to_path(location: str) -> Path:
    """The local path of a ``file://`` URI."""
    parsed = urlparse(location)
    if parsed.scheme != "file":
        raise ValueError(f"not a local location: {location}")
    return Path(unquote(parsed.path))


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """Where streamed bytes landed, with their size and SHA-256."""

    location: str
    size: int
    sha256: str


class BlobStore:
    """A local blob store rooted at one folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"blob key escapes the store: {key}")
        return path

    def location(self, key: str) -> str:
        """The location URI a key is (or would be) stored at."""
        return path_to_location(self._path(key))

    async def put_bytes(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` (replacing it) and return its location."""
        return await asyncio.to_thread(self._put_bytes, key, data)

    async def put_text(self, key: str, text: str) -> str:
        """Store UTF-8 text under ``key`` and return its location."""
        return await self.put_bytes(key, text.encode())

    def _put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path_to_location(path)

    async def put_stream(
        self, chunks: AsyncIterator[bytes], *, prefix: str = "uploads"
    ) -> StoredBlob:
        """Store a stream under its content hash (identical uploads share one blob)."""
        staging = self._path(f"{prefix}/.staging")
        await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=staging)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(handle.write, chunk)
            content_hash = digest.hexdigest()
            final = self._path(f"{prefix}/{content_hash[:2]}/{content_hash}")
            await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(os.replace, tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # noqa: ASYNC240 - cleanup on failure
            raise
        return StoredBlob(location=path_to_location(final), size=size, sha256=content_hash)

    async def read_bytes(self, location: str) -> bytes:
        """The bytes stored at a location."""
        path = self.local_path(location)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFoundError(f"no blob at {location}") from None

    async def read_text(self, location: str) -> str:
        """The UTF-8 text stored at a location."""
        return (await self.read_bytes(location)).decode()

    def local_path(self, location: str) -> Path:
        """A local path engines can open for the location."""
        return location_to_path(location)
