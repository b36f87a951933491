"""The one terminal-table renderer (grader.core.text.table) and the tables printed with it."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from grader.core.text import table
from grader.grades.history import history_table, participant_history, record
from grader.score.entry import Entry
from grader.stats.metrics import metrics_from_confusion


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


def test_history_lines_up_an_invalid_file(tmp_path):
    """The hand-padded table gave the status column 6 characters, so an `invalid` row
    pushed its file name out of line."""
    scored = metrics_from_confusion(np.array([[3, 1], [0, 1]]))  # 4 of 5 right: 80.00%
    entries = [
        Entry(
            participant="bob",
            file="bob/first.csv",
            submitted_at=datetime(2026, 11, 20, 10, tzinfo=timezone.utc),
            status="scored",
            metrics={"public": scored, "private": scored, "all": scored},
        ),
        Entry(
            participant="bob",
            file="bob/second.csv",
            submitted_at=datetime(2026, 11, 21, 10, tzinfo=timezone.utc),
            status="invalid",
            error="line 2: unknown label 'dgo'.",
        ),
    ]
    path = tmp_path / "history.sqlite"
    assert record(path, entries, solution_sha256="0" * 64) == 2
    assert history_table(participant_history(path, "bob"), private=False).split("\n") == [
        "submitted (UTC)      public acc  best so far  status   file",
        "2026-11-20 10:00:00      80.00%       80.00%  scored   bob/first.csv",
        "2026-11-21 10:00:00                   80.00%  invalid  bob/second.csv",
    ]
