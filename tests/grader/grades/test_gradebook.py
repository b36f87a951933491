"""The gradebook (grader.grades.gradebook): the points rule, a roster's gradebook,
provisional until --final."""

from __future__ import annotations

import csv

from tests.helpers import review_of, score_cli


def test_points_follow_the_documented_rule():
    from grader.grades.gradebook import points

    assert points(None, 0.5, None) == 0
    assert points(0.5, 0.5, 1.0) == 6  # equal is not better
    assert points(0.6, 0.5, 0.2) == 8  # better, not significantly
    assert points(0.6, 0.5, 0.01) == 10


def test_a_roster_becomes_an_lms_gradebook(mixed_folder, competition, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Kaggle_Name,Student_ID,email\nalice,s1,a@x\nbob,s2,b@x\nzoe,s3,z@x\n")
    result = score_cli(
        mixed_folder,
        competition,
        tmp_path / "board",
        "--baseline",
        "bob",
        "--roster",
        str(roster),
    )
    assert result.returncode == 1
    assert (
        f"Gradebook: {review_of(tmp_path / 'board') / 'gradebook.csv'} (3 students, 1 "
        "without a valid submission)." in result.stdout
    )
    assert not (tmp_path / "gradebook.csv").exists()
    assert "Not on the roster: =HYPERLINK(" in result.stdout
    with (review_of(tmp_path / "board") / "gradebook.csv").open() as f:
        rows = [
            (r["student_id"], r["kaggle_name"], r["points"], r["note"]) for r in csv.DictReader(f)
        ]
    # alice 15/15 vs bob 14/15 on the public split: better, but p = 1: 8 points. Without
    # --final every grade is provisional.
    provisional = "provisional: Public split; the final grade comes from grader score --final"
    assert rows == [
        ("s1", "alice", "8", provisional),
        ("s2", "bob", "6", provisional),
        ("s3", "zoe", "0", f"no valid submission; {provisional}"),
    ]


def test_a_final_gradebook_is_not_provisional_and_follows_rank_by(
    mixed_folder, competition, tmp_path
):
    roster = tmp_path / "roster.csv"
    roster.write_text("kaggle_name,student_id\nalice,s1\nbob,s2\n")
    out = tmp_path / "board"
    extra = ("--baseline", "bob", "--roster", str(roster), "--final", "--rank-by", "macro_f1")
    result = score_cli(mixed_folder, competition, out, *extra)
    assert result.returncode == 1
    with (review_of(out) / "gradebook.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "student_id",
        "kaggle_name",
        "points",
        "rank",
        "macro_f1",
        "p_vs_baseline",
        "note",
    ]
    assert [r["note"] for r in rows] == ["", ""]
    with (out / "leaderboard.csv").open() as f:
        board = {r["participant"]: r for r in csv.DictReader(f)}
    assert float(rows[0]["macro_f1"]) == float(board["alice"]["private_macro_f1"])
