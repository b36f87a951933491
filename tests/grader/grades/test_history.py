"""The scoring history in SQLite (grader.grades.history): every scoring kept once, two runs
at once, `grader history`'s table."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import pytest

from grader.grades.history import history_table, participant_history, record
from grader.score.entry import Entry
from grader.stats.metrics import metrics_from_confusion
from tests.helpers import ROOT, grader, score_cli
from tests.scoring_fixtures import small_folder


@pytest.mark.slow
def test_every_scoring_is_kept_once_in_sqlite(mixed_folder, competition, tmp_path):
    import sqlite3

    solution = str(competition / "private" / "solution.csv")
    history = tmp_path / "history.sqlite"
    args = ["score", str(mixed_folder), "--solution", solution, "--history", str(history)]
    first = grader(*args, "--out", str(tmp_path / "a"))
    assert "\nHistory: 9 new scoring(s) recorded in " in first.stdout
    again = grader(*args, "--out", str(tmp_path / "a"))
    assert "\nHistory: 0 new scoring(s) recorded in " in again.stdout
    with sqlite3.connect(history) as db:
        rows = db.execute(
            "SELECT participant, file, status, public_accuracy FROM scorings ORDER BY file"
        ).fetchall()
    assert len(rows) == 9
    assert ("bob", "bob/2026-11-21T10-00-00_second.csv", "scored", pytest.approx(14 / 15)) in [
        (p, f, s, a) for p, f, s, a in rows
    ]
    shown = grader("history", "bob", "--history", str(history))
    assert shown.returncode == 0
    assert shown.stdout.splitlines() == [
        "bob: 2 scored file(s)",
        "submitted (UTC)      public acc  best so far  status  file",
        "2026-11-20 10:00:00      80.00%       80.00%  scored  bob/2026-11-20T10-00-00_first.csv",
        "2026-11-21 10:00:00      93.33%       93.33%  scored  bob/2026-11-21T10-00-00_second.csv",
    ]


@pytest.mark.slow
def test_two_scoring_runs_at_once_share_the_history_safely(mixed_folder, competition, tmp_path):
    import sqlite3

    history = tmp_path / "history.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader",
                "score",
                str(mixed_folder),
                "--solution",
                str(competition / "private" / "solution.csv"),
                "--history",
                str(history),
                "--out",
                str(tmp_path / f"out{i}"),
                "--review",
                str(tmp_path / f"review{i}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(2)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], results  # 1: some files invalid
    with sqlite3.connect(history) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM scorings").fetchone() == (9,)


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


@pytest.mark.slow
def test_grader_history_refuses_what_it_cannot_read(competition, tmp_path):
    solution = str(competition / "private" / "solution.csv")
    result = grader("history", "bob", "--history", solution)
    assert (result.returncode, result.stderr) == (
        2,
        f"Error: --history {solution}: not an SQLite file (file is not a database). Pass the "
        "history.sqlite that grader score wrote, or a path that does not exist yet.\n",
    )
    history = tmp_path / "h.sqlite"
    score_cli(
        small_folder(competition, tmp_path), competition, tmp_path / "b", "--history", str(history)
    )
    odd = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "history",
            os.fsdecode(b"\xff"),
            "--history",
            str(history),
        ],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert (odd.returncode, odd.stderr) == (
        2,
        "Error: \ufffd: not UTF-8 text; no participant has such a name.\n".encode(),
    )
    shown = grader("history", "ann", "--history", str(history))
    assert shown.returncode == 0 and shown.stdout.startswith("ann: 1 scored file(s)\n")
