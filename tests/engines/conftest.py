"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docbatch.llm import forget_response_formats
from tests.fake_llm import FakeLLM


@pytest.fixture(autouse=True)
def _fresh_format_cache() -> Iterator[None]:
    # Ports are reused between tests: a fallback learned by one must not leak into another.
    forget_response_formats()
    yield
    forget_response_formats()


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    """A local fake of a paid LLM service (a real HTTP server on loopback)."""
    with FakeLLM() as server:
        yield server
