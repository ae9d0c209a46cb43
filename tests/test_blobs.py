"""Local blob storage: writes are atomic and a killed writer leaves nothing beside blobs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from docbatch.blobs import STALE_STAGING_SECONDS, BlobStore


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
