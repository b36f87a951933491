"""The one terminal-table renderer (grader.core.text.table); `grader history`'s table, printed
with it, is in tests/grader/grades/test_history.py."""

from __future__ import annotations

from grader.core.text import table


def test_columns_are_as_wide_as_their_widest_cell_in_terminal_columns():
    # 名前 takes 4 terminal columns (2 wide characters), as wide as "name": no padding.
    assert table(["name", "n"], [["名前", "7"], ["bob", "12"]], numeric={1}).split("\n") == [
        "name   n",
        "名前   7",
        "bob   12",
    ]


def test_text_columns_align_left_and_trailing_spaces_are_cut():
    assert table(["a", "wide"], [["long cell", ""], ["x", "y"]]).split("\n") == [
        "a          wide",
        "long cell",
        "x          y",
    ]


def test_a_table_without_rows_is_its_header():
    assert table(["rank", "participant"], [], numeric={0}) == "rank  participant"
