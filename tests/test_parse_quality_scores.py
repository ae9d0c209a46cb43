"""The parse-quality scorer (``bench/quality_scores.py``) on hand-made strings."""

from __future__ import annotations

import time

import pytest

from bench import quality_scores as q

# ------------------------------------------------------------------- tokens


def test_tokens_drop_markdown_syntax_and_keep_words() -> None:
    markdown = (
        "# The *Title*\n\n<!-- image -->\n\n| a | **b** |\n|---|:-:|\n"
        "| c_d | [link](http://x.org/y) |\n"
        "![alt text](data:image/png;base64,AAAA)\n<td>cell</td> &amp; __done__"
    )
    assert q.tokens(markdown) == [
        "the", "title", "a", "b", "c", "d", "link", "alt", "text", "cell", "done",
    ]  # fmt: skip


def test_tokens_nfkc_casefold_and_other_scripts() -> None:
    # Arabic presentation forms (as PDFs store them) become the letters; marks stay in words.
    assert q.tokens("\ufee3\ufeae\ufea3\ufe92\ufe8e") == ["مرحبا"]
    assert q.tokens("STRASSE Straße ﬁne") == ["strasse", "strasse", "fine"]
    assert q.tokens("हिन्दी text") == ["हिन्दी", "text"]
    assert q.tokens("  ") == []


# -------------------------------------------------------------------- words


def test_words_and_order_perfect_and_disjoint() -> None:
    reference = "# Title\n\nalpha beta gamma"
    assert q.word_f1("Title alpha beta gamma", reference) == 1.0
    assert q.order_similarity("**Title** alpha, beta; gamma.", reference) == 1.0
    assert q.word_f1("one two", reference) == 0.0
    assert q.order_similarity("one two three four", reference) == 0.0
    assert q.word_f1("", "") == 1.0
    assert q.word_f1("", reference) == 0.0


def test_reordered_words_keep_words_but_lose_order() -> None:
    reference = "one two three four five six"
    output = "four five six one two three"
    assert q.word_f1(output, reference) == 1.0
    assert q.order_similarity(output, reference) == pytest.approx(0.0)
    swapped = "two one three four five six"  # one transposition = 2 substitutions
    assert q.order_similarity(swapped, reference) == pytest.approx(1 - 2 / 6)


def test_word_f1_is_a_multiset_overlap() -> None:
    # output a a b (3), reference a b b c (4): overlap a + b = 2 → P 2/3, R 2/4.
    precision, recall = 2 / 3, 2 / 4
    assert q.word_f1("a a b", "a b b c") == pytest.approx(
        2 * precision * recall / (precision + recall)
    )
    assert q.word_recall("a b", ["a", "a", "b", "c"]) == pytest.approx(2 / 4)


def test_order_is_fast_on_long_documents() -> None:
    words = [f"w{i % 3000}" for i in range(10_000)]
    reference = " ".join(words)
    output = " ".join(words[5000:] + words[:5000])
    started = time.perf_counter()
    similarity = q.order_similarity(output, reference)
    assert time.perf_counter() - started < 2
    assert 0 < similarity < 1


# ----------------------------------------------------------------- headings


def test_heading_as_plain_text_does_not_count_as_heading() -> None:
    reference = "# Introduction\n\ntext\n\n## 2 Related Work\n\nmore"
    as_headings = "## Introduction\n\ntext\n\n### 2 Related work\n\nmore"
    as_text = "Introduction\n\ntext\n\n2 Related Work\n\nmore"
    assert q.heading_recall(as_headings, reference) == 1.0
    assert q.heading_recall(as_text, reference) == 0.0
    assert q.heading_recall("# Introduction\n\n2 Related Work", reference) == 0.5
    assert q.word_f1(as_text, reference) == 1.0
    assert q.heading_recall("anything", "no heading here") is None


def test_headings_fuzzy_and_used_once() -> None:
    reference = "# Results and Discussion\n# Results and Discussion"
    assert q.heading_recall("# results & discussion", reference) == 0.5
    assert q.heading_recall("# Conclusion", reference) == 0.0
    assert q.headings("```\n# not a heading\n```\n# yes #") == ["yes"]


# ------------------------------------------------------------------- tables

REFERENCE_TABLE = "| Name | Score |\n| - | - |\n| alpha | 1.5 |\n| beta | 2 |\n"


def test_markdown_tables_parse_rows_and_skip_separators() -> None:
    assert q.markdown_tables(REFERENCE_TABLE) == [
        [["Name", "Score"], ["alpha", "1.5"], ["beta", "2"]]
    ]
    html = (
        "<table><tr><th>Name</th><th>Score</th></tr>"
        "<tr><td>al<b>pha</b></td><td>1.5</td></tr></table>"
    )
    assert q.html_tables(html) == [[["Name", "Score"], ["alpha", "1.5"]]]
    assert len(q.output_tables(REFERENCE_TABLE + "\ntext\n\n" + html)) == 2


def test_table_with_one_wrong_cell() -> None:
    output = REFERENCE_TABLE.replace("beta", "gamma")
    # 6 cells each side, 5 shared: F1 = 5/6.
    reference, found = q.markdown_tables(REFERENCE_TABLE), q.markdown_tables(output)
    assert q.cell_f1(found, reference) == pytest.approx(5 / 6)
    assert q.tables_found(found, reference) == 1.0
    assert q.score_markdown(output, REFERENCE_TABLE).table_cells == pytest.approx(5 / 6)
    assert q.cell_f1([], reference) == 0.0
    assert q.cell_f1(found, []) is None


def test_tables_found_uses_each_output_table_once() -> None:
    other = "| x | y |\n|---|---|\n| 7 | 8 |\n"
    reference = q.markdown_tables(REFERENCE_TABLE + "\n\n" + other)
    assert q.tables_found(q.markdown_tables(REFERENCE_TABLE), reference) == 0.5
    # One output table holding both tables' cells can be the match of one of them only.
    merged = q.markdown_tables(REFERENCE_TABLE + other)
    assert len(merged) == 1
    assert q.tables_found(merged, reference) == 0.5  # F1 0.75 with the first
    assert q.tables_found(q.markdown_tables(other + "\n\n" + REFERENCE_TABLE), reference) == 1.0


# -------------------------------------------------------------------- LaTeX


def test_latex_tabular_cells() -> None:
    latex = r"""\begin{tabular}{|l|c|}
\hline
\textbf{Area} & \multicolumn{2}{c}{Count (\%)} \\
\hline
Life sciences \& more & 264 \\ \cline{1-2}
\multirow{2}{*}{Geo} & $98.87^{\pm0.00}$ \\[2pt]
 & $L_S$ \\
\bottomrule
\end{tabular}"""
    assert q.latex_tables(latex) == [
        [
            ["Area", "Count (%)"],
            ["Life sciences & more", "264"],
            ["Geo", "98.87 0.00"],
            ["", "LS"],
        ]
    ]


def test_latex_spec_with_braces_and_cmidrule() -> None:
    latex = (
        r"\begin{tabular}{@{}l|c@{}}\toprule A & B\\ \cmidrule(lr){1-2} "
        r"\makecell{x \\ y} & {\bf z}\\ \end{tabular}"
    )
    assert q.latex_tables(latex) == [[["A", "B"], ["x y", "z"]]]


def test_latex_nested_tabular_is_one_cell_and_colours_vanish() -> None:
    latex = (
        r"\begin{tabular}{ll} \cellcolor[HTML]{333333} ID & "
        r"\begin{tabular}[c]{@{}c@{}}Number of\\ spheroids\end{tabular} \\"
        r" \rowcolor{gray!10} a & \textcolor{red}{b} \\ \end{tabular}"
    )
    assert q.latex_tables(latex) == [[["ID", "Number of spheroids"], ["a", "b"]]]


def test_latex_to_text() -> None:
    assert q.latex_to_text(r"\textbf{Bold} and \emph{it}~too: 5\% \& \$3") == (
        "Bold and it too: 5% & 3"
    )


def test_score_blocks_against_latex_truth() -> None:
    blocks = [
        {"type": "text", "data": "Hello brave new world."},
        {"type": "table", "data": r"\begin{tabular}{ll} a & b \\ c & d \\ \end{tabular}"},
    ]
    perfect = "Hello brave new world.\n\n| a | b |\n|---|---|\n| c | d |\n"
    scores = q.score_blocks(perfect, blocks)
    assert scores.table_cells == 1.0
    assert scores.tables_found == 1.0
    assert scores.body_recall == 1.0
    assert scores.words == 1.0
    plain = q.score_blocks("Hello brave world a b c d", blocks)
    assert plain.table_cells == 0.0
    assert plain.tables_found == 0.0
    assert plain.body_recall == pytest.approx(3 / 4)
