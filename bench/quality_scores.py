"""Content-based parse-quality scores (0–1) of a parser's markdown against a reference.

Pure functions, no I/O; ``bench/parse_quality.py`` applies them to the development set in
``../shared/quality``. Every score compares *content*, never bytes, because a reference
is one good answer among many:

- ``tokens``: markdown → word tokens. HTML comments (``<!-- image -->``), HTML tags,
  link targets and all punctuation (``#``, ``|``, emphasis, table separator rows) go;
  the text is NFKC-normalised (Arabic presentation forms become letters) and casefolded;
  a token is a run of letters, digits and combining marks in any script.
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
- ``latex_tables`` / ``latex_to_text``: the true cells of a LaTeX ``tabular``
  (``\\multicolumn``/``\\multirow`` contents, rules dropped, ``\\&`` kept as ``&``).
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

HEADING_MATCH = 0.8
"""Token-set ratio at which an output heading counts as the reference heading."""
TABLE_MATCH = 0.5
"""Cell F1 at which an output table counts as finding a reference table."""

Table = list[list[str]]
"""A table as rows of raw cell texts."""

# ------------------------------------------------------------------- tokens

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


@functools.cache
def _word_character(character: str) -> bool:
    return unicodedata.category(character)[0] in "LNM"


def normalize(text: str) -> str:
    """NFKC, casefolded text with markdown/HTML markup gone and words separated by spaces."""
    text = _COMMENT.sub(" ", text)
    text = _IMAGE.sub(r" \1 ", text)
    text = _LINK.sub(r" \1 ", text)
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    return " ".join(
        "".join(character if _word_character(character) else " " for character in text).split()
    )


def tokens(text: str) -> list[str]:
    """The word tokens of markdown (or plain) text, in order."""
    return normalize(text).split()


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

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


def headings(markdown: str) -> list[str]:
    """The normalised texts of the ATX (``#``) heading lines outside code fences."""
    found: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match and (text := normalize(match.group(1))):
            found.append(text)
    return found


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

_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR_ROW = re.compile(r"^\s*\|?(\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?\s*$")
_PIPE = re.compile(r"(?<!\\)\|")


def markdown_tables(markdown: str) -> list[Table]:
    """The pipe tables of markdown: consecutive ``| … |`` lines, separator rows dropped."""
    tables: list[Table] = []
    current: Table = []
    in_fence = False
    for line in [*markdown.splitlines(), ""]:
        if _FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and _TABLE_ROW.match(line):
            if not _SEPARATOR_ROW.match(line):
                current.append([cell.strip() for cell in _PIPE.split(line.strip())[1:-1]])
            continue
        if current:
            tables.append(current)
            current = []
    return tables


class _HtmlTables(HTMLParser):
    """Collects the cells of every ``<table>`` (nested tables become tables of their own)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._open: list[Table] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._open.append([])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th") and self._open:
            if not self._open[-1]:
                self._open[-1].append([])
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._open:
            self._open[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(markdown: str) -> list[Table]:
    """The cells of the HTML ``<table>`` elements in (markdown) text."""
    if "<table" not in markdown.lower():
        return []
    parser = _HtmlTables()
    parser.feed(markdown)
    parser.close()
    return [table for table in parser.tables if any(table)]


def output_tables(markdown: str) -> list[Table]:
    """Every table a parser's output has, pipe tables and HTML tables."""
    return markdown_tables(markdown) + html_tables(markdown)


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


# -------------------------------------------------------------------- LaTeX

_RULES = re.compile(
    r"\\(?:hline|toprule|midrule|bottomrule|addlinespace|hhline|cline|cmidrule|specialrule)\b"
    r"\*?(?:\([^)]*\))?(?:\[[^\]]*\])?(?:\{[^{}]*\})*"
)
_ESCAPED = {"&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}", "\\": " "}
_SPANS = re.compile(r"\\(?:multicolumn|multirow)\*?\s*")
_COMMAND = re.compile(r"\\([A-Za-z]+)\*?|\\(.)")
_ROW_END_OPTION = re.compile(r"^\s*\[[^\]]*\]")


def _argument(text: str, start: int) -> tuple[str, int]:
    """The ``{…}`` group (braces balanced) or single character at ``start``; and its end."""
    position = start
    while position < len(text) and text[position].isspace():
        position += 1
    if position >= len(text):
        return "", position
    if text[position] != "{":
        return text[position], position + 1
    depth = 0
    for end in range(position, len(text)):
        if text[end] == "\\":
            continue
        if text[end] == "{" and (end == 0 or text[end - 1] != "\\"):
            depth += 1
        elif text[end] == "}" and text[end - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[position + 1 : end], end + 1
    return text[position + 1 :], len(text)


def _drop_spans(text: str) -> str:
    """``\\multicolumn{n}{spec}{x}`` and ``\\multirow{n}[…]{width}{x}`` → ``x``."""
    while match := _SPANS.search(text):
        position = match.end()
        _, position = _argument(text, position)  # the span
        option = re.match(r"\s*\[[^\]]*\]", text[position:])
        if option:
            position += option.end()
        _, position = _argument(text, position)  # the column spec, or multirow's width
        content, position = _argument(text, position)
        text = text[: match.start()] + "{" + content + "}" + text[position:]
    return text


def latex_to_text(latex: str) -> str:
    """Plain text of a LaTeX fragment: commands and braces gone, their arguments kept.

    ``\\&``, ``\\%``, ``\\_`` … become the character; ``^`` and ``_`` of math and the
    braces go without a space (``$L_S$`` → ``LS``) while a command leaves a space
    (``98.87^{\\pm0.00}`` → ``98.87 0.00``); ``~`` is a space.
    """
    text = _drop_spans(latex)

    def command(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return _ESCAPED.get(match.group(2), " ")
        return " "

    text = _COMMAND.sub(command, text)
    text = re.sub(r"[\^_{}$]", "", text.replace("~", " "))
    return " ".join(text.split())


_BEGIN_TABULAR = re.compile(r"\\begin\{(tabular\*?|tabularx|longtable|array)\}")
_COLOURS = re.compile(
    r"\\(?:cellcolor|rowcolor|columncolor|color|textcolor)\s*(?:\[[^\]]*\])?\s*\{[^{}]*\}"
)


def _environment_end(latex: str, environment: str, start: int) -> tuple[int, int]:
    """Where ``\\end{environment}`` closing the one open at ``start`` begins and ends."""
    begin, end = f"\\begin{{{environment}}}", f"\\end{{{environment}}}"
    depth = 1
    position = start
    while True:
        next_end = latex.find(end, position)
        if next_end < 0:
            return len(latex), len(latex)
        next_begin = latex.find(begin, position)
        if 0 <= next_begin < next_end:
            depth += 1
            position = next_begin + len(begin)
            continue
        depth -= 1
        if depth == 0:
            return next_end, next_end + len(end)
        position = next_end + len(end)


def _tabular_parts(latex: str, start: int, environment: str) -> int:
    """Skip a tabular's width (``tabular*``, ``tabularx``), position and column spec."""
    if environment in ("tabular*", "tabularx"):
        _, start = _argument(latex, start)  # the width
    option = re.match(r"\s*\[[^\]]*\]", latex[start:])
    if option:
        start += option.end()
    _, start = _argument(latex, start)  # the column spec
    return start


def _flatten_nested(body: str) -> str:
    """A tabular inside a cell (``\\begin{tabular}{@{}c@{}}a\\\\b\\end{tabular}``) → ``a b``."""
    while match := _BEGIN_TABULAR.search(body):
        environment = match.group(1)
        start = _tabular_parts(body, match.end(), environment)
        end, after = _environment_end(body, environment, start)
        inner = _flatten_nested(body[start:end])
        text = " ".join(" ".join(row) for row in _split_rows(_RULES.sub(" ", inner)))
        body = body[: match.start()] + "{" + text + "}" + body[after:]
    return body


def _tabular_body(latex: str) -> Iterable[str]:
    """The bodies of the outermost ``tabular``-like environments in ``latex``.

    A tabular nested in a cell is that cell's text; colour commands go with their
    arguments (``\\cellcolor[HTML]{333333}``).
    """
    position = 0
    while match := _BEGIN_TABULAR.search(latex, position):
        environment = match.group(1)
        start = _tabular_parts(latex, match.end(), environment)
        end, after = _environment_end(latex, environment, start)
        yield _flatten_nested(_COLOURS.sub(" ", latex[start:end]))
        position = after


def _split_rows(body: str) -> list[list[str]]:
    """Rows (split at top-level ``\\\\``) of cells (split at top-level unescaped ``&``)."""
    rows: list[list[str]] = []
    row: list[str] = []
    cell: list[str] = []
    depth = 0
    position = 0
    while position < len(body):
        character = body[position]
        if character == "\\" and position + 1 < len(body):
            pair = body[position : position + 2]
            if pair == "\\\\" and depth == 0:
                row.append("".join(cell))
                rows.append(row)
                row, cell = [], []
                position += 2
                option = _ROW_END_OPTION.match(body[position:])
                if option:
                    position += option.end()
                continue
            cell.append(pair)
            position += 2
            continue
        if character == "{":
            depth += 1
        elif character == "}":
            depth = max(0, depth - 1)
        elif character == "&" and depth == 0:
            row.append("".join(cell))
            cell = []
            position += 1
            continue
        cell.append(character)
        position += 1
    row.append("".join(cell))
    rows.append(row)
    return rows


def latex_tables(latex: str) -> list[Table]:
    """The tables of a LaTeX fragment as rows of plain cell texts (rules and spans gone).

    A spanning cell (``\\multicolumn``, ``\\multirow``) is one cell holding its content;
    rows left with only empty cells (the space after the last ``\\\\``) are dropped.
    """
    tables: list[Table] = []
    for raw in _tabular_body(latex):
        body = _RULES.sub(" ", re.sub(r"(?<!\\)%[^\n]*", "", raw))
        rows = [[latex_to_text(cell) for cell in row] for row in _split_rows(body)]
        tables.append([row for row in rows if any(row)])
    return tables


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
