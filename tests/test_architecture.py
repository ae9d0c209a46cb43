"""Dependency rules of the code base: the job-lifecycle core, the store and the engines
know nothing of Temporal, its wire messages, workflows or activities (those adapt to
them, not the other way round)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = ("docbatch.messages", "workflows", "activities", "temporalio")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _is_adapter(name: str) -> bool:
    return any(name == adapter or name.startswith(f"{adapter}.") for adapter in ADAPTERS)


@pytest.mark.parametrize("package", ["docbatch/core", "docbatch/store", "docbatch/engines"])
def test_the_core_does_not_import_its_adapters(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(filter(_is_adapter, _imports(path)))
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}
