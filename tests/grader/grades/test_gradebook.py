"""The gradebook (grader.grades.gradebook): the points rule, a roster's gradebook,
provisional until --final."""

from __future__ import annotations

import csv
import unicodedata

from tests.helpers import review_of, score_cli
from tests.scoring_fixtures import solution_rows, write_predictions


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


def test_the_gradebook_grades_the_right_file(competition, tmp_path):
    rows = solution_rows(competition)
    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    subs = tmp_path / "subs"
    write_predictions(subs / "Bob.csv", rows, wrong={int(r["id"]) for r in rows[:10]})
    write_predictions(subs / "bob" / "copy.csv", rows, wrong={int(r["id"]) for r in rows[:20]})
    write_predictions(subs / nfd / "a.csv", rows, wrong={int(r["id"]) for r in rows[:5]})
    write_predictions(subs / "alice.csv", rows, wrong={int(r["id"]) for r in rows[:2]})
    write_predictions(subs / "base.csv", rows, wrong={int(r["id"]) for r in rows[:30]})
    roster = tmp_path / "roster.csv"
    roster.write_text(f"kaggle_name,student_id\nbob,s1\n{nfc},s2\nAlice,s3\n")
    out = tmp_path / "board"
    result = score_cli(subs, competition, out, "--roster", str(roster), "--baseline", "base")
    assert result.returncode == 1
    with (review_of(out) / "gradebook.csv").open() as f:
        book = {
            r["student_id"]: (r["kaggle_name"], r["points"], r["note"]) for r in csv.DictReader(f)
        }
    provisional = "; provisional: Public split; the final grade comes from grader score --final"
    assert book["s1"] == (
        "bob",
        "0",
        "no valid submission (2 file(s) not scored: see scores.csv)" + provisional,
    )
    assert book["s2"][0] == nfc and book["s2"][1] in ("6", "8", "10")
    assert book["s2"][2] == provisional[2:]
    assert book["s3"][1] in ("6", "8", "10")
    assert book["s3"][2] == "matched participant 'alice' by letter case" + provisional
    assert "Matched by letter case only: roster 'Alice' is participant 'alice'." in result.stdout
    assert "Not on the roster" not in result.stdout
    with (out / "scores.csv").open() as f:
        status = {r["file"]: r["status"] for r in csv.DictReader(f)}
    assert status["Bob.csv"] == status["bob/copy.csv"] == "error"
