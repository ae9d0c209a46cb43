"""Blob storage for file contents and outputs: a local folder, or S3 for outputs.

Locations are URIs (``file:///abs/path``, ``s3://bucket/key``) so a row in the store
says where its bytes live whatever the backend; local folders registered with
``starter.py run`` are referenced in place, never copied. S3 goes through boto3 (in
threads); credentials and region come from the standard AWS environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlparse

from docbatch.errors import DocbatchError, NotFoundError, TooLargeError


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


def split_s3(location: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` location."""
    parsed = urlparse(location)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an S3 location: {location}")
    return parsed.netloc, parsed.path.lstrip("/")


STAGING_DIR = ".staging"
"""Where local writes are staged before their atomic rename into place."""
STALE_STAGING_SECONDS = 3600.0
"""A staged file this old belongs to no write still running: a killed process left it."""


class BlobStore:
    """Local blobs under one folder (atomic writes), plus S3 destinations for outputs.

    Every local write goes to a temporary file in ``.staging/`` and is renamed into
    place, so a process killed mid-write leaves no partial blob beside the real ones,
    only a staged file that :meth:`sweep_staging` removes later.
    """

    def __init__(self, root: Path, *, s3_endpoint_url: str | None = None) -> None:
        self.root = root.resolve()
        self.staging = self.root / STAGING_DIR
        self._s3_endpoint_url = s3_endpoint_url
        self._s3: Any = None

    def _s3_client(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3", endpoint_url=self._s3_endpoint_url)
        return self._s3

    async def put_output(self, key: str, data: bytes, *, destination: str | None) -> str:
        """Store an output under ``key`` locally, or under an ``s3://bucket/prefix``."""
        if destination is None:
            return await self.put_bytes(key, data)
        bucket, prefix = split_s3(destination)
        object_key = f"{prefix.rstrip('/')}/{key}" if prefix else key
        await asyncio.to_thread(
            self._s3_client().put_object, Bucket=bucket, Key=object_key, Body=data
        )
        return f"s3://{bucket}/{object_key}"

    def _path(self, key: str) -> Path:
        # Lexically (no symlink walk, one stat per component, per blob): keys are ours.
        path = Path(os.path.normpath(self.root / key))
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
        fd, tmp = self._staged_file()
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.as_uri()  # absolute and normalised already

    def _staged_file(self) -> tuple[int, str]:
        try:
            return tempfile.mkstemp(dir=self.staging)
        except FileNotFoundError:  # the first write (or the folder was removed)
            self.staging.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=self.staging)

    def sweep_staging(self, *, older_than_seconds: float = STALE_STAGING_SECONDS) -> int:
        """Remove staged files left by killed processes; return how many were removed.

        Only files older than ``older_than_seconds`` go: a younger one may be a write
        that another process sharing this folder is still making.
        """
        if not self.staging.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed

    async def put_stream(
        self,
        chunks: AsyncIterator[bytes],
        *,
        prefix: str = "uploads",
        max_bytes: int | None = None,
    ) -> StoredBlob:
        """Store a stream under its content hash (identical uploads share one blob).

        Past ``max_bytes`` nothing is kept and ``TooLargeError`` is raised.
        """
        fd, tmp = await asyncio.to_thread(self._staged_file)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLargeError(f"upload larger than the limit of {max_bytes} bytes")
                    await asyncio.to_thread(handle.write, chunk)
            content_hash = digest.hexdigest()
            final = self._path(f"{prefix}/{content_hash[:2]}/{content_hash}")
            await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(os.replace, tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # noqa: ASYNC240 - cleanup on failure
            raise
        return StoredBlob(location=path_to_location(final), size=size, sha256=content_hash)

    async def read_bytes(self, location: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes stored at a location (local or S3).

        Past ``max_bytes`` nothing is read and ``TooLargeError`` is raised.
        """
        if location.startswith("s3://"):
            bucket, key = split_s3(location)
            client = self._s3_client()
            try:
                response = await asyncio.to_thread(client.get_object, Bucket=bucket, Key=key)
            except client.exceptions.NoSuchKey:
                raise NotFoundError(f"no blob at {location}") from None
            try:
                _check_size(location, int(response["ContentLength"]), max_bytes)
            except TooLargeError:
                response["Body"].close()
                raise
            body: bytes = await asyncio.to_thread(response["Body"].read)
            return body
        path = self.local_path(location)
        try:
            return await asyncio.to_thread(_read_local, location, path, max_bytes)
        except FileNotFoundError:
            raise NotFoundError(f"no blob at {location}") from None

    async def read_many(
        self, locations: Sequence[str], *, max_bytes: int | None = None
    ) -> list[bytes | DocbatchError]:
        """The bytes at each location, or why they could not be read (``NotFoundError``,
        ``TooLargeError`` past ``max_bytes``), in order.

        Local blobs are read in one thread hop for them all: for many small outputs the
        hop per read, not the read, is what costs.
        """
        found: list[bytes | DocbatchError | None] = [None] * len(locations)
        local = [(i, loc) for i, loc in enumerate(locations) if not loc.startswith("s3://")]

        def read_local() -> None:
            for index, location in local:
                try:
                    found[index] = _read_local(location, self.local_path(location), max_bytes)
                except FileNotFoundError:
                    found[index] = NotFoundError(f"no blob at {location}")
                except TooLargeError as exc:
                    found[index] = exc
                except OSError as exc:
                    found[index] = DocbatchError(f"cannot read {location}: {exc.strerror}")

        if local:
            await asyncio.to_thread(read_local)
        for index, location in enumerate(locations):
            if found[index] is None:
                try:
                    found[index] = await self.read_bytes(location, max_bytes=max_bytes)
                except DocbatchError as exc:
                    found[index] = exc
        return cast(list[bytes | DocbatchError], found)

    async def read_text(self, location: str) -> str:
        """The UTF-8 text stored at a location."""
        return (await self.read_bytes(location)).decode()

    def local_path(self, location: str) -> Path:
        """A local path engines can open for the location."""
        return location_to_path(location)


def _check_size(location: str, size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise TooLargeError(f"{size} bytes at {location}, over the limit of {max_bytes}")


def _read_local(location: str, path: Path, max_bytes: int | None) -> bytes:
    with path.open("rb") as handle:
        _check_size(location, os.fstat(handle.fileno()).st_size, max_bytes)
        return handle.read()
