"""Local blob storage: writes are atomic and a killed writer leaves nothing beside blobs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from docbatch.blobs import STALE_STAGING_SECONDS, BlobStore
from docbatch.errors import NotFoundError, TooLargeError


async def test_writes_stage_outside_the_blob_folders(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    location = await blobs.put_text("results/item-1/abc-def.json", '{"a": 1}')
    assert await blobs.read_text(location) == '{"a": 1}'
    await blobs.put_text("results/item-1/abc-def.json", '{"a": 2}')  # a retry overwrites
    assert [p.name for p in (tmp_path / "results" / "item-1").iterdir()] == ["abc-def.json"]
    assert list(blobs.staging.iterdir()) == []


async def test_sweep_removes_only_stale_staged_files(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    await blobs.put_text("results/item-1/out.json", "{}")
    # What a SIGKILL between write and rename leaves: staged files, old and new.
    blobs.staging.mkdir(exist_ok=True)
    stale, fresh = blobs.staging / "tmpstale", blobs.staging / "tmpfresh"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"being written")
    long_ago = time.time() - STALE_STAGING_SECONDS - 60
    os.utime(stale, (long_ago, long_ago))

    assert blobs.sweep_staging() == 1
    assert not stale.exists() and fresh.exists()
    assert (tmp_path / "results" / "item-1" / "out.json").exists()
    assert BlobStore(tmp_path / "never-written").sweep_staging() == 0


async def test_read_many_answers_each_location_in_order_with_its_error(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    small = await blobs.put_text("results/a.json", "{}")
    large = await blobs.put_bytes("results/b.json", b"x" * 100)
    missing = blobs.location("results/missing.json")

    read = await blobs.read_many([large, missing, small], max_bytes=10)

    assert isinstance(read[0], TooLargeError) and "100 bytes" in str(read[0])
    assert isinstance(read[1], NotFoundError)
    assert read[2] == b"{}"
    assert await blobs.read_many([]) == []
    with pytest.raises(TooLargeError):
        await blobs.read_bytes(large, max_bytes=99)
    assert await blobs.read_bytes(large, max_bytes=100) == b"x" * 100
