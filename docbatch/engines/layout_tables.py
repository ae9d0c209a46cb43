"""Tables in a page's lines: from ruling lines and grids, or from column alignment, with
their cells (``docbatch.engines.layout``)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence

from docbatch.engines.layout_model import (
    EMPTY_BETWEEN_TABLES_EM,
    MAX_LINES_PER_CELL,
    Line,
    Rule,
    Table,
    Word,
    weighted_size,
)

# ------------------------------------------------------------------ tables


def find_tables(lines: list[Line], rules: Sequence[Rule], body_size: float) -> list[Table]:
    """Tables framed by horizontal rules, then tables of aligned cells without rules."""
    tables = _ruled_tables(lines, rules, body_size)
    taken = [line for line in lines if not any(inside_table(line, t) for t in tables)]
    tables.extend(_aligned_tables(taken, body_size))
    for table in tables:
        members = [line for line in lines if inside_table(line, table)]
        verticals = [r for r in rules if not r.horizontal and _overlaps_table(r, table)]
        horizontals = [r for r in rules if r.horizontal and _overlaps_table(r, table)]
        grid = _grid_cells(members, verticals, horizontals, table)
        table.rows = grid if grid is not None else _cells(members, verticals, body_size)
    return [t for t in tables if len(t.rows) >= 2 and max(len(r) for r in t.rows) >= 2]


def inside_table(line: Line, table: Table) -> bool:
    middle_y = (line.top + line.bottom) / 2
    middle_x = (line.x0 + line.x1) / 2
    return (
        table.top - 1 <= middle_y <= table.bottom + 1
        and table.x0 - 2 <= middle_x <= table.x1 + 2
        and line.x0 >= table.x0 - 6
        and line.x1 <= table.x1 + 6
    )


def _overlaps_table(rule: Rule, table: Table) -> bool:
    return (
        table.x0 - 2 <= rule.x0 <= table.x1 + 2
        and rule.bottom > table.top
        and rule.top < table.bottom
    )


def _ruled_tables(lines: list[Line], rules: Sequence[Rule], body_size: float) -> list[Table]:
    horizontals = sorted(
        (r for r in rules if r.horizontal and r.x1 - r.x0 >= 4 * max(body_size, 4.0)),
        key=lambda r: r.top,
    )
    # Rules of one table share their x extent (within a few points); cmidrules are
    # shorter and sit inside it.
    groups: list[list[Rule]] = []
    for rule in horizontals:
        for group in groups:
            x0, x1 = min(r.x0 for r in group), max(r.x1 for r in group)
            shared = min(x1, rule.x1) - max(x0, rule.x0)
            if shared >= 0.85 * max(x1 - x0, rule.x1 - rule.x0) and not _paragraph_between(
                lines, x0, x1, group[-1].bottom, rule.top
            ):
                group.append(rule)
                break
        else:
            groups.append([rule])
    tables: list[Table] = []
    for group in groups:
        x0, x1 = min(r.x0 for r in group), max(r.x1 for r in group)
        top, bottom = group[0].top, group[-1].bottom
        if len(group) == 1:
            # One rule: a header rule with aligned rows around it, or a mere separator.
            top, bottom = top - 0.1, bottom + 0.1
        top = _extend(lines, x0, x1, top, upwards=True, body_size=body_size)
        bottom = _extend(lines, x0, x1, bottom, upwards=False, body_size=body_size)
        table = Table(x0, x1, top, bottom)
        members = [line for line in lines if inside_table(line, table)]
        if len(group) == 1 and (len(members) < 3 or not _multi_cell(members)):
            continue
        if members and not any(_overlap(table, other) for other in tables):
            tables.append(table)
    return tables


def _overlap(a: Table, b: Table) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.top < b.bottom and b.top < a.bottom


def _multi_cell(members: Sequence[Line]) -> bool:
    """Whether the lines look like table rows: at least two bands of several cells."""
    bands = Counter(round((m.top + m.bottom) / 4) for m in members)
    return sum(1 for count in bands.values() if count >= 2) >= 2


def _paragraph_between(
    lines: Sequence[Line], x0: float, x1: float, top: float, bottom: float
) -> bool:
    """Whether a line of running text (one wide run of many words) lies between two rules."""
    between = [
        line
        for line in lines
        if line.top >= top - 1 and line.bottom <= bottom + 1 and line.x1 > x0 and line.x0 < x1
    ]
    if any(_running_text(line, x1 - x0) for line in between):
        return True
    # Rules with nothing between them for lines on end close one table and open another.
    edges = sorted([(top, top), *((line.top, line.bottom) for line in between), (bottom, bottom)])
    reach = edges[0][1]
    for start, end in edges[1:]:
        if start - reach > EMPTY_BETWEEN_TABLES_EM * 10.0:
            return True
        reach = max(reach, end)
    return False


def _running_text(line: Line, width: float) -> bool:
    """Whether a line is running text: many words, mostly words of letters, full width."""
    if line.x1 - line.x0 < 0.7 * width or len(line.words) < 4:
        return False
    if len(line.words) < 8 and sum(len(w.text) for w in line.words) < 25:
        return False
    letters = sum(
        1 for w in line.words if w.text[:1].isalpha() and not any(c.isdigit() for c in w.text)
    )
    return letters >= 0.75 * len(line.words)


def _extend(
    lines: Sequence[Line], x0: float, x1: float, edge: float, *, upwards: bool, body_size: float
) -> float:
    """Grow a table edge over the adjacent rows (a header above the first rule, say).

    A row joins while it lies within a line's height of the edge, within the table's
    width, has at least two cells and no running text.
    """
    limit = 1.6 * max(body_size, 6.0)

    def distance(line: Line) -> float:
        return edge - line.bottom if upwards else line.top - edge

    while True:
        near = [
            line
            for line in lines
            if line.x0 >= x0 - 6 and line.x1 <= x1 + 6 and -1 <= distance(line) <= limit
        ]
        if not near:
            return edge
        band_edge = min(c.top for c in near) if upwards else max(c.bottom for c in near)
        low, high = (band_edge - 1, edge) if upwards else (edge, band_edge + 1)
        row = [
            c
            for c in lines
            if low <= (c.top + c.bottom) / 2 <= high and c.x0 >= x0 - 6 and c.x1 <= x1 + 6
        ]
        if len(row) < 2 or any(_running_text(c, x1 - x0) for c in row):
            return edge
        edge = band_edge


def _aligned_tables(lines: Sequence[Line], body_size: float) -> list[Table]:
    """Runs of at least three rows of two or more cells whose left or right edges align."""
    bands: dict[int, list[Line]] = {}
    for line in lines:
        bands.setdefault(round((line.top + line.bottom) / 2), []).append(line)
    rows = sorted(bands.items())
    tables: list[Table] = []
    run: list[list[Line]] = []

    def close() -> None:
        if len(run) >= 3:
            cells = [c for row in run for c in row]
            if sum(len(c.words) for c in cells) / len(cells) <= 4:
                tables.append(
                    Table(
                        min(c.x0 for c in cells),
                        max(c.x1 for c in cells),
                        min(c.top for c in cells),
                        max(c.bottom for c in cells),
                    )
                )
        run.clear()

    for _, row in rows:
        row.sort(key=lambda c: c.x0)
        if len(row) >= 2 and run and _aligned(run[-1], row, body_size):
            run.append(row)
        elif len(row) >= 2:
            close()
            run.append(row)
        else:
            close()
    close()
    return tables


def _aligned(previous: Sequence[Line], row: Sequence[Line], body_size: float) -> bool:
    if len(previous) != len(row):
        return False
    gap = row[0].top - max(c.bottom for c in previous)
    if gap > 1.5 * max(body_size, 6.0):
        return False
    matches = 0
    for a, b in zip(previous, row, strict=True):
        if (
            abs(a.x0 - b.x0) <= 3
            or abs(a.x1 - b.x1) <= 3
            or abs((a.x0 + a.x1) - (b.x0 + b.x1)) <= 6
        ):
            matches += 1
    return matches >= len(row) - 0


def _grid_cells(
    members: Sequence[Line],
    verticals: Sequence[Rule],
    horizontals: Sequence[Rule],
    table: Table,
) -> list[list[str]] | None:
    """The cells of a fully ruled table: the rules are the cell borders.

    A cell's lines (a wrapped header, stacked values) stay one cell. A rule that crosses
    only some columns (``\\cline``) splits only those; the others' cells span the rows.
    None when the table is not ruled between its columns.
    """
    inner = _merge_positions(
        [(r.x0 + r.x1) / 2 for r in verticals if table.x0 + 3 < (r.x0 + r.x1) / 2 < table.x1 - 3]
    )
    if not inner:
        return None
    words = [w for line in members for w in line.words]
    if not words:
        return None
    body_size = weighted_size(words)
    counts = [len(_clusters(row, body_size)) for row in build_rows(words)]
    sample = [row for row, n in zip(build_rows(words), counts, strict=True) if n * 2 > max(counts)]
    gaps = [g for g in _free_columns(sample, body_size) if all(abs(g - x) > 4 for x in inner)]
    inner = sorted([*inner, *gaps])
    columns = [table.x0 - 10, *inner, table.x1 + 10]
    ys = _merge_positions([(r.top + r.bottom) / 2 for r in horizontals])
    bounds = [min(w.top for w in words) - 1, *ys, max(w.bottom for w in words) + 1]
    bounds = sorted(set(bounds))

    def column_of(word: Word) -> int:
        middle = (word.x0 + word.x1) / 2
        return max(0, min(len(columns) - 2, sum(1 for x in columns[1:-1] if middle > x)))

    def band_of(word: Word) -> int:
        middle = (word.top + word.bottom) / 2
        return sum(1 for y in bounds[1:-1] if middle > y)

    # A band's text rows are rows of their own when every row fills the band's columns
    # (rules around groups of rows) or there are many; else they are cells' lines.
    bands: dict[int, list[Word]] = {}
    for word in words:
        bands.setdefault(band_of(word), []).append(word)
    sub_row: dict[int, int] = {}
    for band_words in bands.values():
        text_rows = build_rows(band_words)
        used = {column_of(w) for w in band_words}
        complete = all({column_of(w) for w in row} >= used for row in text_rows)
        if len(text_rows) > 1 and (complete or len(text_rows) > 2 * MAX_LINES_PER_CELL):
            for number, row_words in enumerate(text_rows):
                for word in row_words:
                    sub_row[id(word)] = number
    grid: dict[tuple[int, int], dict[int, list[Word]]] = {}
    for word in words:
        column = column_of(word)
        band = start = band_of(word)
        # Bands a rule does not separate in this column belong to one spanning cell.
        while band > 0 and not _rule_across(horizontals, bounds[band], column, columns):
            band -= 1
        row = (band, sub_row.get(id(word), 0) if band == start else 0)
        grid.setdefault(row, {}).setdefault(column, []).append(word)
    kept = sorted({column for cells in grid.values() for column in cells})
    return [[_cell_text(grid[row].get(column, [])) for column in kept] for row in sorted(grid)]


def _cell_text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in build_rows_text(words))


def build_rows_text(words: Sequence[Word]) -> list[Word]:
    """A cell's words in reading order: its lines top to bottom, each left to right."""
    ordered: list[Word] = []
    for row in build_rows(words):
        ordered.extend(sorted(row, key=lambda w: w.x0))
    return ordered


def _rule_across(
    horizontals: Sequence[Rule], y: float, column: int, columns: Sequence[float]
) -> bool:
    middle = (max(columns[column], min(r.x0 for r in horizontals)) + columns[column + 1]) / 2
    left, right = columns[column], columns[column + 1]
    middle = (left + right) / 2 if column not in (0, len(columns) - 2) else middle
    return any(
        abs((r.top + r.bottom) / 2 - y) <= 2 and r.x0 - 2 <= middle <= r.x1 + 2 for r in horizontals
    )


def _merge_positions(values: Iterable[float], tolerance: float = 2.0) -> list[float]:
    merged: list[float] = []
    for value in sorted(values):
        if merged and value - merged[-1] <= tolerance:
            continue
        merged.append(value)
    return merged


def _cells(members: Sequence[Line], verticals: Sequence[Rule], body_size: float) -> list[list[str]]:
    """The cell texts of a table's lines: rows by baseline, columns by the free x gaps."""
    words = [w for line in members for w in line.words]
    if not words:
        return []
    row_bands = build_rows(words)
    # Columns: x ranges that no word of a regular row crosses (spanning headers skipped).
    counts = [len(_clusters(row, body_size)) for row in row_bands]
    regular = max(counts)
    sample = [row for row, n in zip(row_bands, counts, strict=True) if n * 2 > regular] or row_bands
    boundaries = _free_columns(sample, body_size)
    for rule in verticals:
        middle = (rule.x0 + rule.x1) / 2
        if all(abs(middle - b) > 3 for b in boundaries):
            boundaries.append(middle)
    boundaries.sort()
    table: list[list[str]] = []
    for row in row_bands:
        cells: list[list[Word]] = [[] for _ in range(len(boundaries) + 1)]
        for word in row:
            middle = word.x0 + min(word.x1 - word.x0, body_size) / 2
            column = sum(1 for b in boundaries if middle > b)
            cells[column].append(word)
        table.append([" ".join(w.text for w in sorted(c, key=lambda w: w.x0)) for c in cells])
    # Drop columns that are empty in every row.
    keep = [i for i in range(len(boundaries) + 1) if any(row[i] for row in table)]
    return [[row[i] for i in keep] for row in table]


def build_rows(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped into rows by vertical overlap (sub- and superscripts join their row)."""
    ordered = sorted(words, key=lambda w: w.top)
    rows: list[list[Word]] = []
    bottom = -1e9
    top = -1e9
    for word in ordered:
        middle = (word.top + word.bottom) / 2
        if rows and middle < bottom and word.top < bottom - 0.3 * word.height:
            rows[-1].append(word)
            bottom = max(bottom, word.bottom) if word.height > 0.7 * (bottom - top) else bottom
        else:
            rows.append([word])
            top, bottom = word.top, word.bottom
    return rows


def _clusters(row: Sequence[Word], body_size: float) -> list[list[Word]]:
    ordered = sorted(row, key=lambda w: w.x0)
    groups = [[ordered[0]]]
    for word in ordered[1:]:
        if word.x0 - groups[-1][-1].x1 > 0.6 * max(word.size, body_size * 0.5):
            groups.append([word])
        else:
            groups[-1].append(word)
    return groups


def _free_columns(rows: Sequence[Sequence[Word]], body_size: float) -> list[float]:
    """Middles of the x gaps (at least half an em wide) that no word of ``rows`` covers."""
    spans = sorted((w.x0, w.x1) for row in rows for w in row)
    boundaries: list[float] = []
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= 0.5 * body_size:
            boundaries.append((reach + x0) / 2)
        reach = max(reach, x1)
    # A gap between two words of one cell is not a column: keep gaps that separate
    # words in most rows' cells, i.e. where some row has a cluster boundary.
    kept = []
    for boundary in boundaries:
        splits = 0
        for row in rows:
            clusters = _clusters(row, body_size)
            for left, right in itertools.pairwise(clusters):
                if left[-1].x1 <= boundary <= right[0].x0:
                    splits += 1
                    break
        if splits * 2 >= len(rows) or splits >= 2:
            kept.append(boundary)
    return kept
