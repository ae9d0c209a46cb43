"""The skip policy of a job's pages, without a store."""

from __future__ import annotations

from docbatch.models import SkipReason
from docbatch.skips import ListedFile, candidate_hashes, decide

FILES = [
    ListedFile("a", "pending", 10, "h-a"),
    ListedFile("b", "pending", 5000, "h-b"),  # over the limit
    ListedFile("c", "pending", 10, "h-c"),  # processed before
    ListedFile("d", "completed", 10, "h-c"),  # not open: left alone
    ListedFile("e", "pending", None, None),  # an item without a file row
    ListedFile("f", "pending", 5000, "h-c"),  # over the limit and processed: size wins
]


def test_only_open_items_within_the_limit_are_looked_up() -> None:
    assert candidate_hashes(FILES, max_file_size_bytes=1000, invalidate_cache=False) == {
        "h-a",
        "h-c",
    }
    assert candidate_hashes(FILES, max_file_size_bytes=1000, invalidate_cache=True) == set()


def test_oversized_files_and_processed_contents_are_skipped() -> None:
    skips = decide(
        FILES, max_file_size_bytes=1000, invalidate_cache=False, processed={"h-c": "res-1"}
    )
    assert skips == {
        "b": (SkipReason.SIZE_LIMIT_EXCEEDED, None),
        "c": (SkipReason.ALREADY_PROCESSED, "res-1"),
        "f": (SkipReason.SIZE_LIMIT_EXCEEDED, None),
    }


def test_a_job_that_invalidates_the_cache_reprocesses_but_still_skips_oversized() -> None:
    skips = decide(
        FILES, max_file_size_bytes=1000, invalidate_cache=True, processed={"h-c": "res-1"}
    )
    assert skips == {
        "b": (SkipReason.SIZE_LIMIT_EXCEEDED, None),
        "f": (SkipReason.SIZE_LIMIT_EXCEEDED, None),
    }
