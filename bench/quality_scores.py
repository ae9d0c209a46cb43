"""Content-based parse-quality scores (0–1) of a parser's markdown against a reference.

Pure functions, no I/O; ``bench/parse_quality.py`` applies them to the development set in
``../shared/quality``. Every score compares *content*, never bytes, because a reference
is one good answer among many:

- ``word_f1``: F1 of the two token multisets (each token matched at most as often as it
  occurs on both sides).
- ``order_similarity``: 1 - Levenshtein distance ÷ the longer length, over the token
  sequences (rapidfuzz, bit-parallel C++: fast on 10,000-token documents). Missing and
  extra words lower it as well as moved ones.
- ``heading_recall``: share of the reference's ``#`` headings whose text is an output
  ``#`` heading (rapidfuzz token-set ratio ≥ 0.8, each output heading used once).
- ``cell_f1`` / ``tables_found``: F1 of the normalised cell texts of the reference's
  tables against those of the output's markdown and HTML tables; the share of reference
  tables that some output table matches (cell F1 ≥ 0.5, each output table used once).

The parts: ``bench.quality_markdown`` (``tokens``, headings and tables of markdown),
``bench.quality_latex`` (``latex_tables`` / ``latex_to_text``: the true cells of a LaTeX
``tabular``); this module scores what they read, and their functions can be imported
from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from bench.quality_latex import latex_tables, latex_to_text
from bench.quality_markdown import (
    Table,
    headings,
    html_tables,
    markdown_tables,
    normalize,
    output_tables,
    tokens,
)

__all__ = [
    "cell_f1",
    "heading_recall",
    "headings",
    "html_tables",
    "latex_tables",
    "latex_to_text",
    "markdown_tables",
    "order_similarity",
    "output_tables",
    "score_blocks",
    "score_markdown",
    "tables_found",
    "tokens",
    "word_f1",
    "word_recall",
]

HEADING_MATCH = 0.8
"""Token-set ratio at which an output heading counts as the reference heading."""
TABLE_MATCH = 0.5
"""Cell F1 at which an output table counts as finding a reference table."""

# ----------------------------------------------------------------- overlaps


def f1(overlap: int, predicted: int, expected: int) -> float:
    """F1 of ``overlap`` matches among ``predicted`` and ``expected`` items (1 if both none)."""
    if predicted == 0 and expected == 0:
        return 1.0
    if overlap == 0:
        return 0.0
    precision, recall = overlap / predicted, overlap / expected
    return 2 * precision * recall / (precision + recall)


def multiset_overlap(a: Iterable[str], b: Iterable[str]) -> int:
    """How many items ``a`` and ``b`` share, each counted as often as both have it."""
    return sum((Counter(a) & Counter(b)).values())


def word_f1(output: str, reference: str) -> float:
    """Token F1 (multiset overlap) of ``output`` against ``reference``."""
    out, ref = tokens(output), tokens(reference)
    return f1(multiset_overlap(out, ref), len(out), len(ref))


def word_recall(output: str, reference_tokens: Sequence[str]) -> float:
    """Share of ``reference_tokens`` (a multiset) found among ``output``'s tokens."""
    if not reference_tokens:
        return 1.0
    return multiset_overlap(tokens(output), reference_tokens) / len(reference_tokens)


def order_similarity(output: str, reference: str) -> float:
    """1 - Levenshtein distance ÷ max length of the two token sequences (1 if both empty)."""
    out, ref = tokens(output), tokens(reference)
    if not out and not ref:
        return 1.0
    vocabulary: dict[str, int] = {}
    a = [vocabulary.setdefault(token, len(vocabulary)) for token in ref]
    b = [vocabulary.setdefault(token, len(vocabulary)) for token in out]
    return float(Levenshtein.normalized_similarity(a, b))


# ----------------------------------------------------------------- headings


def heading_recall(output: str, reference: str) -> float | None:
    """Share of the reference's headings found as output headings; None if it has none."""
    expected = headings(reference)
    if not expected:
        return None
    available = headings(output)
    found = 0
    for heading in expected:
        scored = [
            (fuzz.token_set_ratio(heading, candidate) / 100, index)
            for index, candidate in enumerate(available)
        ]
        best = max(scored, default=(0.0, -1))
        if best[0] >= HEADING_MATCH:
            found += 1
            del available[best[1]]
    return found / len(expected)


# ------------------------------------------------------------------- tables


def cells(table: Table) -> list[str]:
    """A table's non-empty cells, normalised (the multiset that cell F1 compares)."""
    return [text for row in table for cell in row if (text := normalize(cell))]


def cell_f1(output: Sequence[Table], reference: Sequence[Table]) -> float | None:
    """F1 of all output cells against all reference cells; None if the reference has none."""
    expected = [cell for table in reference for cell in cells(table)]
    if not expected:
        return None
    predicted = [cell for table in output for cell in cells(table)]
    return f1(multiset_overlap(predicted, expected), len(predicted), len(expected))


def tables_found(output: Sequence[Table], reference: Sequence[Table]) -> float | None:
    """Share of reference tables matched by an output table (greedy on cell F1, one each).

    None if the reference has no table with cells.
    """
    expected = [found for table in reference if (found := cells(table))]
    if not expected:
        return None
    predicted = [cells(table) for table in output]
    pairs = sorted(
        (
            (f1(multiset_overlap(out, ref), len(out), len(ref)), r, o)
            for r, ref in enumerate(expected)
            for o, out in enumerate(predicted)
        ),
        reverse=True,
    )
    used_reference: set[int] = set()
    used_output: set[int] = set()
    for score, r, o in pairs:
        if score < TABLE_MATCH:
            break
        if r in used_reference or o in used_output:
            continue
        used_reference.add(r)
        used_output.add(o)
    return len(used_reference) / len(expected)


# ----------------------------------------------------------------- document


@dataclass(frozen=True)
class Scores:
    """One output's scores against a reference markdown (None: nothing to score)."""

    words: float
    order: float
    headings: float | None
    table_cells: float | None
    tables_found: float | None


def score_markdown(output: str, reference: str) -> Scores:
    """Every score of ``output`` against a reference markdown document."""
    expected_tables = markdown_tables(reference) + html_tables(reference)
    found_tables = output_tables(output)
    return Scores(
        words=word_f1(output, reference),
        order=order_similarity(output, reference),
        headings=heading_recall(output, reference),
        table_cells=cell_f1(found_tables, expected_tables),
        tables_found=tables_found(found_tables, expected_tables),
    )


@dataclass(frozen=True)
class BlockScores:
    """One output's scores against an ordered list of LaTeX text and table blocks."""

    table_cells: float | None
    tables_found: float | None
    body_recall: float | None
    words: float
    order: float


def score_blocks(output: str, blocks: Sequence[dict[str, str]]) -> BlockScores:
    """Scores against ``[{"type": "text"|"table", "data": …}]`` (``tables/NNN.json``)."""
    expected_tables: list[Table] = []
    body: list[str] = []
    everything: list[str] = []
    for block in blocks:
        if block.get("type") == "table":
            tables = latex_tables(block.get("data", ""))
            expected_tables += tables
            everything += [cell for table in tables for row in table for cell in row]
        else:
            text = latex_to_text(block.get("data", ""))
            body.append(text)
            everything.append(text)
    body_tokens = tokens("\n".join(body))
    reference = "\n".join(everything)
    found_tables = output_tables(output)
    return BlockScores(
        table_cells=cell_f1(found_tables, expected_tables),
        tables_found=tables_found(found_tables, expected_tables),
        body_recall=word_recall(output, body_tokens) if body_tokens else None,
        words=word_f1(output, reference),
        order=order_similarity(output, reference),
    )
