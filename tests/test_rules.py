"""Issue 24's eleven cases, each run as a TA runs the commands, with the exact text the TA
reads: the rules of docs/grading-rules.md where they were broken."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.core.errors import UsageError
from grader.core.text import csv_cell
from grader.folder.roster import read_roster
from grader.grades.reconcile import read_kaggle_board
from grader.score.discover import discover
from tests.helpers import ROOT, grader, review_of, score_cli, tree, write_zip
from tests.scoring_fixtures import solution_rows, write_predictions

DEADLINE = "2026-11-25T23:59:00Z"


def split_ids(competition: Path) -> tuple[list[int], list[int]]:
    """The test ids of the Public split (15 of the tiny competition's 50) and the Private."""
    rows = solution_rows(competition)
    public = [int(r["id"]) for r in rows if r["Usage"] == "Public"]
    private = [int(r["id"]) for r in rows if r["Usage"] == "Private"]
    return public, private


def predictions(competition: Path, path: Path, public_wrong: int, private_wrong: int) -> Path:
    """A file wrong on the first `public_wrong` Public ids and `private_wrong` Private ids:
    each file's wrong rows are among those of any file with more wrong, so McNemar's
    discordant rows against the baseline all go one way: p = 2 x 0.5^(difference)."""
    public, private = split_ids(competition)
    wrong = set(public[:public_wrong]) | set(private[:private_wrong])
    write_predictions(path, solution_rows(competition), wrong)
    return path


def board_rows(out: Path) -> list[tuple[str, str, str]]:
    with (out / "leaderboard.csv").open(newline="") as f:
        return [(r["rank"], r["participant"], r["file"]) for r in csv.DictReader(f)]


def gradebook(out: Path, score_column: str = "accuracy") -> list[tuple[str, ...]]:
    with (review_of(out) / "gradebook.csv").open(newline="") as f:
        return [
            (r["student_id"], r["points"], r["rank"], r[score_column], r["note"])
            for r in csv.DictReader(f)
        ]


def scores(out: Path) -> dict[str, tuple[str, str, str]]:
    with (out / "scores.csv").open(newline="") as f:
        return {r["file"]: (r["status"], r["error"], r["note"]) for r in csv.DictReader(f)}


def flags(out: Path) -> list[tuple[str, str]]:
    with (review_of(out) / "flags.csv").open(newline="") as f:
        return [(r["kind"], r["files"]) for r in csv.DictReader(f)]


# ----------------------------------------------------------------------------
# Cases 1 and 2: who a file belongs to, when collect runs
# ----------------------------------------------------------------------------

CSV = b"id,label\n0,cat\n"


def test_collect_refuses_a_twin_of_a_folder_spelled_another_way(tmp_path):
    """Case 1: a Mac-copied (NFD) folder and the roster's NFC name are one name to grader
    score's eye, which refuses both; collect must refuse the second spelling."""
    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    into = tmp_path / "subs"
    (into / nfd).mkdir(parents=True)
    (into / nfd / "2026-11-20T10-00-00_old.csv").write_bytes(CSV)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student_id,kaggle_name,canvas_id\ns1,{nfc},101\n", encoding="utf-8")
    export = write_zip(tmp_path / "canvas.zip", [("jose_101_1_sub.csv", CSV + b"1,dog\n")])
    result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert result.returncode == 1
    assert (
        f"{into}/ already has the participant 'Jose\\u0301', and grader score refuses names "
        "that differ only by letter case, spaces or normalisation ('Jos\\xe9'). Rename one of "
        "them; not copied."
    ) in result.stdout
    assert [p.name for p in into.iterdir()] == [nfd]  # no NFC twin, no manifest of nothing


def blackboard(path: Path, *users: str) -> Path:
    """A Blackboard export of assignment HW: one attempt per user name."""
    return write_zip(
        path,
        [
            (f"HW_{user}_attempt_2026-11-20-10-00-0{i}_{user}.csv", CSV + user.encode() + b"\n")
            for i, user in enumerate(users)
        ],
    )


BY_HAND = (
    "Without --roster a user name cannot be told apart from the assignment's part of the "
    "name: pass --roster with their username; not copied."
)


def test_without_a_roster_blackboard_users_are_never_merged_across_exports(tmp_path):
    """Case 2: the first export reads `HW_li_wei` as the user `wei` (every name there
    starts `HW_li_`); the second reads `HW_wei` as `wei` too: one folder for two users."""
    into = tmp_path / "subs"
    args = ("--into", str(into), "--timezone", "UTC")
    first = grader("collect", str(blackboard(tmp_path / "a.zip", "li_wei", "li_bob")), *args)
    assert first.returncode == 0, first.stdout
    second = grader("collect", str(blackboard(tmp_path / "b.zip", "wei", "ann")), *args)
    assert second.returncode == 1
    assert second.stdout.split("Matched to no student (1):\n")[1].splitlines() == [
        "  b.zip: HW_wei_attempt_2026-11-20-10-00-00_wei.csv: the Blackboard name 'HW_wei' "
        "reads as the user name 'wei', which collected.csv already has for the Blackboard "
        f"name 'HW_li_wei': one student or two? {BY_HAND}"
    ]
    assert [p for p in tree(into) if p.startswith("wei/")] == ["wei/2026-11-20T10-00-00_li_wei.csv"]
    # Two exports in one run: the same question, asked of both files.
    again = tmp_path / "again"
    both = grader(
        "collect",
        str(blackboard(tmp_path / "c.zip", "li_wei", "li_bob")),
        str(blackboard(tmp_path / "d.zip", "wei", "ann")),
        "--into",
        str(again),
        "--timezone",
        "UTC",
    )
    assert both.returncode == 1
    assert both.stdout.split("Matched to no student (2):\n")[1].splitlines() == [
        f"  {name}: the Blackboard names 'HW_li_wei' and 'HW_wei' both read as the user name "
        f"'wei': one student or two? {BY_HAND}"
        for name in (
            "c.zip: HW_li_wei_attempt_2026-11-20-10-00-00_li_wei.csv",
            "d.zip: HW_wei_attempt_2026-11-20-10-00-00_wei.csv",
        )
    ]


def test_without_a_roster_a_blackboard_user_is_never_split_across_exports(tmp_path):
    """Case 2: the same `HW_li_wei`, read as `wei` in the first export and as `li_wei` in
    a later one, would give one student two folders."""
    into = tmp_path / "subs"
    args = ("--into", str(into), "--timezone", "UTC")
    first = grader("collect", str(blackboard(tmp_path / "a.zip", "li_wei", "li_bob")), *args)
    assert first.returncode == 0, first.stdout
    later = grader("collect", str(blackboard(tmp_path / "b.zip", "li_wei", "ann")), *args)
    assert later.returncode == 1
    assert later.stdout.split("Matched to no student (1):\n")[1].splitlines() == [
        "  b.zip: HW_li_wei_attempt_2026-11-20-10-00-00_li_wei.csv: the Blackboard name "
        "'HW_li_wei' reads as the user name 'li_wei' in this export, but collected.csv has it "
        f"as 'wei'. {BY_HAND}"
    ]
    assert not (into / "li_wei").exists()


def test_without_a_roster_github_classroom_users_are_never_merged_across_exports(tmp_path):
    """Case 2 under GitHub Classroom's naming: repositories `<prefix>-<user>`."""

    def classroom(path: Path, *users: str) -> Path:
        return write_zip(
            path, [(f"hw-submissions/hw-{u}/sub.csv", CSV + u.encode() + b"\n") for u in users]
        )

    into = tmp_path / "subs"
    args = ("--into", str(into), "--timezone", "UTC")
    first = grader("collect", str(classroom(tmp_path / "a.zip", "li-wei", "li-bob")), *args)
    assert first.returncode == 0, first.stdout
    assert sorted(p.name for p in into.iterdir()) == ["bob", "collected.csv", "wei"]
    second = grader("collect", str(classroom(tmp_path / "b.zip", "wei", "ann")), *args)
    assert second.returncode == 1
    assert second.stdout.split("Matched to no student (1):\n")[1].splitlines() == [
        "  b.zip: hw-submissions/hw-wei/sub.csv: the GitHub Classroom name 'hw-wei' reads as "
        "the user name 'wei', which collected.csv already has for the GitHub Classroom name "
        "'hw-li-wei': one student or two? Without --roster a user name cannot be told apart "
        "from the assignment's part of the name: pass --roster with their github; not copied."
    ]


# ----------------------------------------------------------------------------
# Case 3: what collect learned follows the file
# ----------------------------------------------------------------------------


@pytest.fixture
def canvas_class(competition, tmp_path) -> Path:
    """smithjohn's Canvas file, exported (and so timed) after the deadline but not marked
    _LATE, collected without a roster; the TA's baseline put in by hand."""
    sub = predictions(competition, tmp_path / "sub.csv", 0, 0)
    export = write_zip(tmp_path / "canvas.zip", [("smithjohn_101_1_sub.csv", sub.read_bytes())])
    into = tmp_path / "subs"
    collected = grader("collect", str(export), "--into", str(into), "--timezone", "UTC")
    assert collected.returncode == 0, collected.stdout
    predictions(competition, into / "baseline" / "2026-11-01T00-00-00_b.csv", 6, 14)
    return into


def grade_john(competition, into: Path, out: Path, kaggle_name: str):
    roster = out.parent / f"{out.name}-roster.csv"
    roster.write_text(f"student_id,kaggle_name\ns1,{kaggle_name}\n")
    return score_cli(into, competition, out, "--roster", str(roster), "--baseline", "baseline",
                     "--staff", "baseline", "--deadline", DEADLINE,
                     "--late-policy", "zero")  # fmt: skip


@pytest.mark.slow
def test_a_renamed_folder_keeps_what_collect_learned(canvas_class, competition, tmp_path):
    """Case 3: 15/15 against the baseline's 9/15 (p = 2 x 0.5^6 = 0.031): 10 points, on time
    by Canvas's mark, before and after the folder is renamed to the Kaggle name."""
    before = grade_john(competition, canvas_class, tmp_path / "before", "smithjohn")
    assert before.returncode == 0, before.stderr
    assert gradebook(tmp_path / "before")[0][:3] == ("s1", "10", "1")
    (canvas_class / "smithjohn").rename(canvas_class / "john")
    after = grade_john(competition, canvas_class, tmp_path / "after", "john")
    assert after.returncode == 0, after.stderr
    assert gradebook(tmp_path / "after")[0][:3] == ("s1", "10", "1")
    assert [kind for kind, _ in flags(tmp_path / "after")] == ["implausible"]  # not late
    assert after.stderr == (
        "Warning: 1 file(s) matched their collected.csv row by content (sha256) alone: "
        "their folder or name changed since grader collect. john/2026-11-30T12-00-00_sub.csv "
        "was collected as smithjohn/2026-11-30T12-00-00_sub.csv.\n"
    )


@pytest.mark.slow
def test_without_collected_csv_an_export_time_is_never_judged(canvas_class, competition, tmp_path):
    """Case 3: with collected.csv deleted, the file's name holds the export's time (after
    the deadline), which is no submission time: it is not judged late, and the run says
    why and what to do."""
    (canvas_class / "collected.csv").unlink()
    result = grade_john(competition, canvas_class, tmp_path / "b", "smithjohn")
    assert result.returncode == 0, result.stderr
    assert gradebook(tmp_path / "b")[0][:3] == ("s1", "10", "1")
    assert (
        "Deadline: 1 file(s) in collected Canvas/Moodle/Classroom layout have no "
        "collected.csv row: their time is unknown, so the deadline was not applied to them. "
        "Run grader collect again with the same exports, or restore collected.csv."
    ) in result.stdout
    # A file the TA put in by hand keeps its name's time, and is judged by it.
    late = canvas_class / "smithjohn" / "2026-11-30T12-00-00_copy.csv"
    shutil.copyfile(canvas_class / "smithjohn" / "2026-11-30T12-00-00_sub.csv", late)
    again = grade_john(competition, canvas_class, tmp_path / "again", "smithjohn")
    assert again.returncode == 0, again.stderr
    assert ("late", "smithjohn/2026-11-30T12-00-00_copy.csv") in flags(tmp_path / "again")


# ----------------------------------------------------------------------------
# Cases 4 and 5: the final board and the gradebook under a late policy
# ----------------------------------------------------------------------------


def final_class(competition, tmp_path, alice: dict[str, tuple[int, int]]) -> tuple[Path, Path]:
    """Alice's files (name -> wrong Public, wrong Private), bob's 13/15 and 30/35 and the
    baseline's 9/15 and 21/35; a roster of the two."""
    subs = tmp_path / "subs"
    predictions(competition, subs / "baseline" / "2026-11-01T00-00-00_b.csv", 6, 14)
    predictions(competition, subs / "bob" / "2026-11-21T10-00-00_x.csv", 2, 5)
    for name, (public_wrong, private_wrong) in alice.items():
        predictions(competition, subs / "alice" / name, public_wrong, private_wrong)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name\ns1,alice\ns2,bob\n")
    return subs, roster


def score_final(competition, subs, roster, out, policy):
    return score_cli(subs, competition, out, "--final", "--roster", str(roster),
                     "--baseline", "baseline", "--staff", "baseline", "--deadline", DEADLINE,
                     "--late-policy", policy)  # fmt: skip


B = "alice/2026-11-22T10-00-00_b.csv"
C = "alice/2026-11-26T10-00-00_c.csv"  # a day after the deadline


def test_a_late_file_never_tops_the_final_board(competition, tmp_path):
    """Case 4: alice's late C (35/35 Private) would top bob's 30/35; under zero Kaggle
    would never have shown it, so her on-time B (24/35) ranks second, in the gradebook
    too. Points: B is 3 rows above the baseline's 21/35 (p = 0.25): 8; bob 9 (p =
    2 x 0.5^9 = 0.0039): 10."""
    subs, roster = final_class(
        competition, tmp_path, {B.split("/")[1]: (3, 11), C.split("/")[1]: (0, 0)}
    )
    out = tmp_path / "board"
    result = score_final(competition, subs, roster, out, "zero")
    assert result.returncode == 0, result.stderr
    assert board_rows(out) == [
        ("1", "bob", "bob/2026-11-21T10-00-00_x.csv"),
        ("2", "alice", B),
        ("staff", "baseline", "baseline/2026-11-01T00-00-00_b.csv"),
    ]
    assert gradebook(out) == [
        ("s1", "8", "2", repr(24 / 35), f"not counted, late (--late-policy zero): {C}"),
        ("s2", "10", "1", repr(30 / 35), ""),
    ]


@pytest.mark.slow
def test_the_gradebook_grades_the_file_the_final_board_chooses(competition, tmp_path):
    """Case 5: A (on time, Public 11/15, Private 21/35 as the baseline: 6 points), B (on
    time, Public 10/15, Private 35/35: 10) and C (late, Public 15/15, Private 25/35: 8).
    Under zero C is as if never submitted: the final board's candidates are A and B and
    it shows B, whose 10 points are alice's, above bob's 30/35. Under ignore the 2 best
    public are C and A: the board shows C, below bob, and alice gets its 8."""
    a = "alice/2026-11-20T10-00-00_a.csv"
    subs, roster = final_class(
        competition,
        tmp_path,
        {a.split("/")[1]: (4, 14), B.split("/")[1]: (5, 0), C.split("/")[1]: (0, 10)},
    )
    for policy, file, points, rank in (
        ("zero", B, "10", "1"),
        ("penalty:10%/day", B, "10", "1"),  # C: 8 x 0.9 = 7.2
        ("ignore", C, "8", "2"),
    ):
        out = tmp_path / policy.replace(":", "-").replace("%/", "-")
        result = score_final(competition, subs, roster, out, policy)
        assert result.returncode == 0, result.stderr
        assert (rank, "alice", file) in board_rows(out)
        assert gradebook(out)[0][:3] == ("s1", points, rank)


# ----------------------------------------------------------------------------
# Case 6: --final before the deadline
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_final_before_the_deadline_is_refused(competition, tmp_path):
    subs = tmp_path / "subs"
    predictions(competition, subs / "ann.csv", 0, 0)
    future = (datetime.now(timezone.utc) + timedelta(days=400)).replace(second=0, microsecond=0)
    ahead = ("--final", "--deadline", future.isoformat())
    result = score_cli(subs, competition, tmp_path / "b", *ahead)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --final: the deadline {future.isoformat()} (--deadline) is still ahead, "
        "and the final board shows Private scores while students can still submit. Score "
        "without --final until then, or add --final-before-deadline.\n"
    )
    assert not (tmp_path / "b").exists()
    forced = score_cli(subs, competition, tmp_path / "b", *ahead, "--final-before-deadline")
    assert forced.returncode == 0
    assert forced.stderr == (
        f"Warning: --final-before-deadline: the deadline {future.isoformat()} is still "
        "ahead; this final board shows Private scores before it.\n"
    )
    # A deadline an hour ago, and a student with 48 hours more: still ahead for them.
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,extension_hours\ns1,ann,48\n")
    extended = score_cli(
        subs, competition, tmp_path / "c", "--final", "--deadline", past.isoformat(),
        "--roster", str(roster), "--baseline", "ann",
    )  # fmt: skip
    assert extended.returncode == 2
    assert extended.stderr == (
        f"Error: --final: student s1's deadline, extended by 48 h to "
        f"{(past + timedelta(hours=48)).isoformat()}, is still ahead, and the final board "
        "shows Private scores while students can still submit. Score without --final until "
        "then, or add --final-before-deadline.\n"
    )


# ----------------------------------------------------------------------------
# Case 7: one formula guard
# ----------------------------------------------------------------------------


def test_every_csv_cell_is_guarded_one_way(competition, tmp_path):
    assert [csv_cell(t) for t in ("+1", "'+1", "=A1", "'", "a'b", "-", "")] == [
        "'+1", "''+1", "'=A1", "''", "a'b", "'-", "",
    ]  # fmt: skip
    subs = tmp_path / "subs"
    predictions(competition, subs / "+1.csv", 0, 0)
    predictions(competition, subs / "'+1.csv", 1, 0)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name\n'7,+1\n=8,'+1\n")
    out = tmp_path / "board"
    result = score_cli(subs, competition, out, "--roster", str(roster), "--baseline", "+1")
    assert result.returncode == 0, result.stderr
    lines = (out / "leaderboard.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [["1", "'+1"], ["2", "''+1"]]
    book = (review_of(out) / "gradebook.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in book[1:]] == [["''7", "'+1"], ["'=8", "''+1"]]


# ----------------------------------------------------------------------------
# Case 8: a TA's odd file or flag is one line, never a traceback
# ----------------------------------------------------------------------------


def test_an_older_kaggle_leaderboard_with_a_short_row_names_the_line(competition, tmp_path):
    subs = tmp_path / "subs"
    predictions(competition, subs / "ann.csv", 0, 0)
    board = tmp_path / "leaderboard.csv"
    board.write_text(
        "TeamName,Score,TeamId,SubmissionDate\nann,1.0,1,2026-11-20 10:00:00\nbob,0.5,2\n"
    )
    result = score_cli(subs, competition, tmp_path / "b", "--kaggle-leaderboard", str(board))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --kaggle-leaderboard {board} line 3: no SubmissionDate (the row has 3 "
        "cells, the header 4 columns), by which each team's latest row is chosen. Pass the "
        "file as downloaded from Kaggle.\n"
    )


def test_a_deadline_at_the_end_of_time_is_no_traceback(competition, tmp_path):
    subs = tmp_path / "subs"
    predictions(competition, subs / "ann" / "2026-11-20T10-00-00_a.csv", 0, 0)
    predictions(competition, subs / "base.csv", 6, 14)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,extension_hours\ns1,ann,48\n")
    out = tmp_path / "b"
    result = score_cli(subs, competition, out, "--roster", str(roster), "--baseline", "base",
                       "--deadline", "9999-12-31T00:00Z", "--late-policy", "zero")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert gradebook(out)[0][:3] == ("s1", "10", "1")


# ----------------------------------------------------------------------------
# Case 9: what an operating system or office program leaves behind
# ----------------------------------------------------------------------------

CLUTTER = (".DS_Store", "Thumbs.db", "desktop.ini", ".~lock.leaderboard.csv#")


@pytest.mark.slow
def test_system_files_are_never_in_the_way(competition, tmp_path):
    subs = tmp_path / "subs"
    predictions(competition, subs / "ann" / "2026-11-20T10-00-00_a.csv", 0, 0)
    for name in CLUTTER:
        (subs / name).write_bytes(b"\x00\x01")
        (subs / "ann" / name).write_bytes(b"\x00\x01")
    out = tmp_path / "board"
    assert score_cli(subs, competition, out).returncode == 0
    assert list(scores(out)) == ["ann/2026-11-20T10-00-00_a.csv"]
    for folder in (out, review_of(out)):
        for name in CLUTTER:
            (folder / name).write_bytes(b"\x00\x01")
    again = score_cli(subs, competition, out)
    assert again.returncode == 0, again.stderr
    for folder in (out, review_of(out)):  # replaced with the folder
        assert not {p.name for p in folder.iterdir()} & set(CLUTTER)
    for folder in (subs, subs / "ann"):  # never deleted elsewhere
        assert set(CLUTTER) <= {p.name for p in folder.iterdir()}


# ----------------------------------------------------------------------------
# Case 10: the untouched sample submission
# ----------------------------------------------------------------------------


def test_the_untouched_sample_submission_is_no_copy(competition, tmp_path):
    subs = tmp_path / "subs"
    sample = competition / "public" / "sample_submission.csv"
    for name in ("ann", "bob"):
        (subs / name).mkdir(parents=True)
        shutil.copyfile(sample, subs / name / "2026-11-20T10-00-00_sample_submission.csv")
    # cy re-saved it with Windows line ends: other bytes, the same predictions.
    (subs / "cy").mkdir()
    (subs / "cy" / "s.csv").write_bytes(sample.read_bytes().replace(b"\n", b"\r\n"))
    for name in ("dee", "eve"):  # a real copy is still one
        predictions(competition, subs / f"{name}.csv", 2, 3)
    out = tmp_path / "board"
    assert score_cli(subs, competition, out).returncode == 0
    note = "sample submission, scored at chance"
    assert scores(out) == {
        "ann/2026-11-20T10-00-00_sample_submission.csv": ("scored", "", note),
        "bob/2026-11-20T10-00-00_sample_submission.csv": ("scored", "", note),
        "cy/s.csv": ("scored", "", note),
        "dee.csv": ("scored", "", ""),
        "eve.csv": ("scored", "", ""),
    }
    assert [kind for kind, _ in flags(out)] == ["identical"]
    assert flags(out) == [("identical", "dee.csv | eve.csv")]


# ----------------------------------------------------------------------------
# Case 11: a spreadsheet that is not a CSV file
# ----------------------------------------------------------------------------


def test_spreadsheet_uploads_are_collected_and_say_what_to_do(competition, tmp_path):
    valid = predictions(competition, tmp_path / "v.csv", 0, 0).read_bytes()
    export = write_zip(
        tmp_path / "canvas.zip",
        [
            ("annlee_101_1_preds.xlsx", b"PK\x03\x04 a workbook"),
            ("bobby_102_2_submission.csv.txt", valid),
            ("cychen_103_3_out.tsv", valid.replace(b",", b"\t")),
        ],
    )
    into = tmp_path / "subs"
    collected = grader("collect", str(export), "--into", str(into), "--timezone", "UTC")
    assert collected.returncode == 0, collected.stdout
    assert tree(into) == [
        "annlee/2026-11-30T12-00-00_preds.xlsx",
        "bobby/2026-11-30T12-00-00_submission.csv.txt",
        "collected.csv",
        "cychen/2026-11-30T12-00-00_out.tsv",
    ]
    out = tmp_path / "board"
    result = score_cli(into, competition, out)
    assert result.returncode == 1
    assert scores(out) == {
        "annlee/2026-11-30T12-00-00_preds.xlsx": (
            "error",
            "a spreadsheet workbook (.xlsx), not a CSV file; not scored. Open it and save "
            "it as CSV UTF-8 (comma-separated), then submit that file.",
            "",
        ),
        "bobby/2026-11-30T12-00-00_submission.csv.txt": (
            "scored",
            "",
            "a .csv.txt file (an editor or browser added .txt): read as CSV; submit files "
            "named .csv.",
        ),
        "cychen/2026-11-30T12-00-00_out.tsv": (
            "error",
            "a tab-separated file (.tsv), not a comma-separated CSV file; not scored. Save it "
            "as CSV (comma-separated), then submit that file.",
            "",
        ),
    }


# Pieces of the TA's own files: each reader's columns, odd cells and odd line ends.
TA_CELLS = st.one_of(
    st.sampled_from(
        ["student_id", "kaggle_name", "extension_hours", "username", "TeamName", "Score",
         "TeamId", "SubmissionDate", "TeamMemberUserNames", "Rank"]
    ),
    st.sampled_from(
        ["", "1", "-1", "nan", "inf", "1e400", "48", "1,5", "9999-12-31 23:59:59", "2026-13-45",
         "0001-01-01T00:00+14:00", '"', "'", ";", "\x00", "\ufeff", "a\nb", "ä", "=1+1"]
    ),
    st.text(max_size=8),
)  # fmt: skip
TA_FILES = st.lists(st.lists(TA_CELLS, max_size=6).map(",".join), min_size=1, max_size=6).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda end: end.join(lines))
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(TA_FILES, st.booleans())
def test_a_tas_roster_or_leaderboard_is_read_or_refused_in_one_line(text, roster):
    """Case 8: whatever a roster or a Kaggle leaderboard holds, reading it gives its rows
    or a UsageError of one line that names the file; never another exception."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ta.csv"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            read_roster(path) if roster else read_kaggle_board(path)
        except UsageError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (f"x{suffix}", f"a spreadsheet workbook ({suffix.lower()}), not a CSV file; not scored. "
         "Open it and save it as CSV UTF-8 (comma-separated), then submit that file.")
        for suffix in (".xlsx", ".XLS", ".ods")
    ]
    + [("x.tsv", "a tab-separated file (.tsv), not a comma-separated CSV file; not scored. "
        "Save it as CSV (comma-separated), then submit that file.")],
)  # fmt: skip
def test_each_spreadsheet_kind_says_how_to_save_it_as_csv(tmp_path, name, reason):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / name).write_bytes(b"PK")
    ((entry, _),) = discover(tmp_path)
    assert (entry.participant, entry.status, entry.error) == ("ann", "error", reason)


def test_every_test_the_rule_page_names_exists():
    """docs/grading-rules.md names a test beside each rule (its path under tests/): each must
    be there."""
    root = ROOT
    page = (root / "docs" / "grading-rules.md").read_text(encoding="utf-8")
    named = re.findall(r"`(?:tests/)?((?:\w+/)*test_\w+\.py)(?:::(test_\w+))?`", page)
    assert len(named) > 30
    for file, function in named:
        source = (root / "tests" / file).read_text(encoding="utf-8")
        assert not function or f"def {function}(" in source, (file, function)
