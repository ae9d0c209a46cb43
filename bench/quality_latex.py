"""The truth of the ``tables/`` references, LaTeX blocks, as the scores read it
(``bench.quality_scores``): ``latex_tables`` gives the cells of each ``tabular``
(``\\multicolumn``/``\\multirow`` contents, rules dropped, ``\\&`` kept as ``&``),
``latex_to_text`` the plain text of a fragment."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bench.quality_markdown import Table

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
