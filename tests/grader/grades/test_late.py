"""Late rules and staff rows, and the whole path a TA takes: collect from LMS exports,
score with the Kaggle leaderboard and a late policy, read the gradebook."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from grader.grades.late import Lateness, Policy, factor, parse_policy
from tests.helpers import grader as run_grader
from tests.helpers import review_of, score_cli, write_zip
from tests.scoring_fixtures import solution_rows, write_predictions

DEADLINE = "2026-11-25T23:59:00Z"


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("ignore", Policy("ignore")),
        ("ZERO", Policy("zero")),
        ("penalty:10%/day", Policy("penalty", 10.0)),
        ("penalty:2.5%", Policy("penalty", 2.5)),
        ("penalty:10", Policy("penalty", 10.0)),  # % and /day may be left out
        ("penalty:.5%/day", Policy("penalty", 0.5)),
        ("penalty: 5. %/day", Policy("penalty", 5.0)),
    ],
)
def test_late_policies_parse(text, policy):
    assert parse_policy(text) == policy


def test_a_bad_late_policy_is_a_usage_error(competition, tmp_path):
    (tmp_path / "subs").mkdir()
    result = score_cli(
        tmp_path / "subs", competition, tmp_path / "b", "--late-policy", "penalty:150%/day"
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: --late-policy: 'penalty:150%/day' is not a late policy: use ignore, zero or "
        "penalty:P%/day with P above 0 and at most 100, e.g. penalty:10%/day.\n"
    )


def test_a_late_policy_needs_the_gradebook(competition, tmp_path):
    rows = solution_rows(competition)
    write_predictions(tmp_path / "subs" / "a.csv", rows, set())
    result = score_cli(tmp_path / "subs", competition, tmp_path / "b", "--late-policy", "zero")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: --late-policy zero acts in the gradebook: add --roster CSV and --baseline NAME.\n"
    )


@pytest.mark.parametrize(
    ("policy", "lateness", "kept"),
    [
        (Policy("penalty", 10.0), Lateness(True, 2, ""), 0.8),
        (Policy("penalty", 40.0), Lateness(True, 3, ""), 0.0),  # floored at 0
        (Policy("zero"), Lateness(True, 1, ""), 0.0),
        (Policy("ignore"), Lateness(True, 9, ""), 1.0),
        (Policy("penalty", 10.0), Lateness(None, 0, ""), 1.0),  # undecided counts as on time
    ],
)
def test_the_share_of_points_kept(policy, lateness, kept):
    assert factor(policy, lateness) == pytest.approx(kept)


# ----------------------------------------------------------------------------
# From the LMS's exports to the gradebook
# ----------------------------------------------------------------------------


@pytest.fixture
def class_files(competition, tmp_path) -> dict[str, Path]:
    """A Blackboard export, a Canvas export and the TA's baseline in a folder, a roster and
    Kaggle's leaderboard. Public split: 15 images; the baseline gets 9 of them right."""
    rows = solution_rows(competition)
    public = [int(r["id"]) for r in rows if r["Usage"] == "Public"]

    def predictions(wrong: int) -> bytes:
        path = tmp_path / "tmp.csv"
        write_predictions(path, rows, set(public[:wrong]))
        return path.read_bytes()

    blackboard = write_zip(
        tmp_path / "blackboard.zip",
        [
            ("Contest_ann_k_attempt_2026-11-24-10-00-00.txt", b"receipt"),
            ("Contest_ann_k_attempt_2026-11-24-10-00-00_resnet.csv", predictions(2)),
            # 30 hours after the deadline: two started days.
            ("Contest_ann_k_attempt_2026-11-27-05-59-00_better.csv", predictions(0)),
        ],
    )
    canvas = write_zip(
        tmp_path / "canvas.zip",
        [
            ("benbarker_LATE_201_901_final.csv", predictions(0)),
            ("cychen_202_902_sub.csv", predictions(3)),
            ("deedee_LATE_203_903_sub.csv", predictions(1)),
        ],
    )
    baseline = tmp_path / "ta-files"
    (baseline / "baseline").mkdir(parents=True)
    (baseline / "baseline" / "2026-11-01T00-00-00_resnet50.csv").write_bytes(predictions(6))
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,kaggle_name,name,canvas_id,username,extension_hours\n"
        "s1,ann,Ann K,,ann_k,\n"
        "s2,ben,Ben Barker,201,,\n"
        "s3,cy,Cy Chen,202,,\n"
        "s4,dee,Dee Dee,203,,48\n"
        "s5,fay,Fay,204,,\n"
    )
    leaderboard = tmp_path / "leaderboard.zip"
    with zipfile.ZipFile(leaderboard, "w") as archive:
        archive.writestr(
            "cifar10-class-publicleaderboard-2026-12-01T10:00:00.csv",
            "\ufeffRank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,"
            "TeamMemberUserNames\n"
            '1,1,Ann,"2026-11-27 06:00:00",1.00000,2,ann\n'
            '2,2,Ben B,"2026-11-29 06:00:00",1.00000,1,ben\n'
            '3,3,Dee,"2026-11-29 06:00:00",0.86667,1,dee\n'
            '4,4,Cy,"2026-11-20 06:00:00",0.80000,1,cy\n',
        )
    return {
        "blackboard": blackboard,
        "canvas": canvas,
        "baseline": baseline,
        "roster": roster,
        "leaderboard": leaderboard,
    }


def collect_class(files: dict[str, Path], into: Path):
    return run_grader(
        "collect",
        str(files["blackboard"]),
        str(files["canvas"]),
        str(files["baseline"]),
        "--into",
        str(into),
        "--roster",
        str(files["roster"]),
        "--timezone",
        "UTC",
    )


def gradebook_rows(out: Path) -> list[tuple[str, ...]]:
    with (review_of(out) / "gradebook.csv").open(newline="") as f:
        return [(r["student_id"], r["points"], r["rank"], r["note"]) for r in csv.DictReader(f)]


PROVISIONAL = "provisional: Public split; the final grade comes from grader score --final"


@pytest.mark.slow
def test_from_exports_to_grades(class_files, competition, tmp_path):
    into = tmp_path / "subs"
    collected = collect_class(class_files, into)
    # The TA's baseline folder matches no roster student: reported, exit 1, as it should.
    assert collected.returncode == 1
    assert (
        "ta-files: baseline/2026-11-01T00-00-00_resnet50.csv: no roster student has the "
        "kaggle_name or student_id 'baseline'; not copied."
    ) in collected.stdout
    assert "On the roster without a file (1; information): s5 (fay)." in collected.stdout
    # Staff files go in by hand (or by a collect without --roster).
    staff = run_grader("collect", str(class_files["baseline"]), "--into", str(into))
    assert staff.returncode == 0, staff.stdout
    out = tmp_path / "board"
    common = (
        "--roster", str(class_files["roster"]), "--baseline", "baseline", "--staff", "baseline",
        "--deadline", DEADLINE, "--kaggle-leaderboard", str(class_files["leaderboard"]),
    )  # fmt: skip
    result = score_cli(into, competition, out, *common, "--late-policy", "penalty:5%/day")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # The board: the staff row is shown without a rank and ranks nobody down.
    with (out / "leaderboard.csv").open(newline="") as f:
        board = [(r["rank"], r["participant"], r["file"]) for r in csv.DictReader(f)]
    assert board == [
        ("1", "ann", "ann/2026-11-27T05-59-00_better.csv"),
        ("1", "ben", "ben/2026-11-30T12-00-00_final.csv"),
        ("3", "dee", "dee/2026-11-30T12-00-00_sub.csv"),
        ("4", "cy", "cy/2026-11-30T12-00-00_sub.csv"),
        ("staff", "baseline", "baseline/2026-11-01T00-00-00_resnet50.csv"),
    ]
    # Points, by hand (Public split, 15 images; the baseline gets 9 right, and every
    # file's wrong images are among the baseline's, so McNemar's discordant pairs are
    # all one way: p = 2 x 0.5^(right - 9)):
    # ann: late file 15/15, p = 2 x 0.5^6 = 0.031: 10 points, 2 started days x 5% = -10%:
    #      9; her on-time file 13/15, p = 0.125: 8. The better: 9.
    # ben: 15/15, late by Canvas's mark alone (one day): 10 x 0.95 = 9.5.
    # cy:  12/15, p = 0.25: 8. dee: 14/15, p = 0.0625: 8; her _LATE mark is undecided
    #      (a 48-hour extension): on time. fay: no file: 0.
    assert gradebook_rows(out) == [
        ("s1", "9", "1",
         "ranked file ann/2026-11-27T05-59-00_better.csv is late: submitted "
         "2026-11-27T05:59:00+00:00, after the deadline 2026-11-25T23:59:00+00:00; 2 started "
         f"days x 5% = -10% (--late-policy penalty:5%/day); {PROVISIONAL}"),
        ("s2", "9.50", "1",
         "ranked file ben/2026-11-30T12-00-00_final.csv is late: marked late by the LMS (its "
         "time is unknown); 1 started day x 5% = -5% (--late-policy penalty:5%/day); "
         f"{PROVISIONAL}"),
        ("s3", "8", "4", PROVISIONAL),
        ("s4", "8", "3",
         "undecided: marked late by the LMS (its time is unknown); the student's 48-hour "
         f"extension cannot be checked against that mark: decide by hand; {PROVISIONAL}"),
        ("s5", "0", "", f"no valid submission; {PROVISIONAL}"),
    ]  # fmt: skip
    assert "Late policy penalty:5%/day: 2 student(s) graded on another file or with a " \
        "penalty (the note of each row says why)." in result.stdout  # fmt: skip
    assert "Not on the roster" not in result.stdout  # the staff row is nobody's grade
    with (review_of(out) / "flags.csv").open(newline="") as f:
        late = [(r["files"], r["reason"]) for r in csv.DictReader(f) if r["kind"] == "late"]
    assert late == [
        ("ann/2026-11-27T05-59-00_better.csv",
         "submitted 2026-11-27T05:59:00+00:00, after the deadline 2026-11-25T23:59:00+00:00"),
        ("ben/2026-11-30T12-00-00_final.csv", "marked late by the LMS (its time is unknown)"),
        ("dee/2026-11-30T12-00-00_sub.csv",
         "marked late by the LMS (its time is unknown); the student's 48-hour extension "
         "cannot be checked against that mark: decide by hand"),
    ]  # fmt: skip
    # Kaggle: dee's 0.86667 is not the 14/15 = 0.93333 of the file she handed in.
    assert "3 of 4 participants with a Kaggle entry reproduce its score" in result.stdout
    assert "dee (Kaggle 0.86667, closest dee/2026-11-30T12-00-00_sub.csv 0.93333)" in result.stdout
    assert "Files but no Kaggle entry" not in result.stdout  # the staff row is not missed

    # --late-policy zero: ann falls back on her on-time file, ben has none.
    zero = score_cli(into, competition, tmp_path / "zero", *common, "--late-policy", "zero")
    assert zero.returncode == 0, zero.stderr
    rows = gradebook_rows(tmp_path / "zero")
    assert rows[0][:2] == ("s1", "8")
    assert rows[0][3].endswith(
        "it does not count (--late-policy zero); graded the on-time file "
        f"ann/2026-11-24T10-00-00_resnet.csv; {PROVISIONAL}"
    )
    assert rows[1][:2] == ("s2", "0")
    assert "; no file was on time;" in rows[1][3]

    # The default, ignore: grades as before, the note says the file was late.
    plain = score_cli(into, competition, tmp_path / "plain", *common)
    assert [r[1] for r in gradebook_rows(tmp_path / "plain")] == ["10", "10", "8", "8", "0"]
    assert gradebook_rows(tmp_path / "plain")[0][3].startswith(
        "late: submitted 2026-11-27T05:59:00+00:00, after the deadline "
        "2026-11-25T23:59:00+00:00; not penalised (--late-policy ignore)"
    )
    assert plain.returncode == 0


def test_a_deadline_with_files_of_unknown_time_says_how_many(competition, tmp_path):
    into = tmp_path / "subs"
    write_predictions(tmp_path / "x.csv", solution_rows(competition), set())
    moodle = write_zip(
        tmp_path / "moodle.zip",
        [("Ann K_7_assignsubmission_file_/x.csv", (tmp_path / "x.csv").read_bytes())],
    )
    run_grader("collect", str(moodle), "--into", str(into), "--timezone", "UTC")
    result = score_cli(into, competition, tmp_path / "board", "--deadline", DEADLINE)
    assert (
        "Deadline: 1 file(s) have no known submission time and no LMS late mark "
        "(collected.csv), so --deadline could not be applied to them."
    ) in result.stdout


def test_staff_must_have_a_file(competition, tmp_path):
    rows = solution_rows(competition)
    write_predictions(tmp_path / "subs" / "a.csv", rows, set())
    result = score_cli(tmp_path / "subs", competition, tmp_path / "b", "--staff", "nobody")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --staff nobody: no submission of that participant in {tmp_path / 'subs'}. "
        "Give the name of a file (<name>.csv) or folder there.\n"
    )
    assert not (tmp_path / "b").exists()


def test_an_extension_moves_the_deadline(competition, tmp_path):
    rows = solution_rows(competition)
    subs = tmp_path / "subs"
    for name in ("ann", "bob"):
        write_predictions(subs / name / "2026-11-26T10-00-00_x.csv", rows, {int(rows[0]["id"])})
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,extension_hours\n1,ann,12\n2,bob,6\n")
    out = tmp_path / "b"
    result = score_cli(subs, competition, out, "--roster", str(roster), "--baseline", "ann",
                       "--deadline", DEADLINE)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with (review_of(out) / "flags.csv").open(newline="") as f:
        late = [r["reason"] for r in csv.DictReader(f) if r["kind"] == "late"]
    # ann's deadline moved to 11:59 the next day; bob's to 05:59, before his 10:00 file.
    assert late == [
        "submitted 2026-11-26T10:00:00+00:00, after the deadline 2026-11-25T23:59:00+00:00 "
        "extended by 6 h for this student (2026-11-26T05:59:00+00:00)"
    ]


def test_a_collected_file_renamed_to_select_it_keeps_what_collect_learned(competition, tmp_path):
    """submissions/README.md tells the TA to rename a file to .selected.csv: its manifest row
    still applies (found by participant and content), so its export time is not judged."""
    rows = solution_rows(competition)
    write_predictions(tmp_path / "x.csv", rows, set())
    canvas = write_zip(
        tmp_path / "canvas.zip", [("annk_101_1_sub.csv", (tmp_path / "x.csv").read_bytes())]
    )
    into = tmp_path / "subs"
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,canvas_id\ns1,ann,101\n")
    collected = run_grader("collect", str(canvas), "--into", str(into), "--roster", str(roster),
                           "--timezone", "UTC")  # fmt: skip
    assert collected.returncode == 0, collected.stdout
    copy = into / "ann" / "2026-11-30T12-00-00_sub.csv"
    copy.rename(copy.with_name("2026-11-30T12-00-00_sub.selected.csv"))
    baseline = into / "baseline" / "2026-11-01T00-00-00_b.csv"
    write_predictions(baseline, rows, {int(r["id"]) for r in rows[:5]})
    out = tmp_path / "b"
    result = score_cli(into, competition, out, "--roster", str(roster), "--baseline", "baseline",
                       "--staff", "baseline", "--deadline", DEADLINE,
                       "--late-policy", "zero")  # fmt: skip
    assert result.returncode == 0, result.stderr
    with (review_of(out) / "flags.csv").open(newline="") as f:
        assert [r["files"] for r in csv.DictReader(f) if r["kind"] == "late"] == []
    assert gradebook_rows(out)[0][:2] == ("s1", "6")  # valid, on time (not zeroed as late)


def test_a_penalty_weighs_every_file_of_the_student(competition, tmp_path):
    """ann's best file is 5 days late, her second best 1 day: under penalty:10%/day she
    gets the better of 10 x 0.5 and 8 x 0.9, not just what her ranked file keeps."""
    rows = solution_rows(competition)
    public = [int(r["id"]) for r in rows if r["Usage"] == "Public"]
    subs = tmp_path / "subs"
    # Public split: 15 images. baseline: 9 right. ann's 15/15 (p = 2 x 0.5^6 = 0.031: 10
    # points) came 4.5 days late (5 started days: x 0.5); her 14/15 (p = 0.0625: 8 points)
    # 10 hours late (1 day: x 0.9).
    write_predictions(subs / "baseline" / "2026-11-01T00-00-00_b.csv", rows, set(public[:6]))
    write_predictions(subs / "ann" / "2026-11-30T12-00-00_best.csv", rows, set())
    write_predictions(subs / "ann" / "2026-11-26T10-00-00_second.csv", rows, set(public[:1]))
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name\ns1,ann\n")
    out = tmp_path / "b"
    result = score_cli(subs, competition, out, "--roster", str(roster), "--baseline", "baseline",
                       "--staff", "baseline", "--deadline", DEADLINE,
                       "--late-policy", "penalty:10%/day")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert gradebook_rows(out) == [
        ("s1", "7.20", "1",
         "ranked file ann/2026-11-30T12-00-00_best.csv is late: submitted "
         "2026-11-30T12:00:00+00:00, after the deadline 2026-11-25T23:59:00+00:00; 5 started "
         "days x 10% = -50% (--late-policy penalty:10%/day); graded "
         "ann/2026-11-26T10-00-00_second.csv, late: submitted 2026-11-26T10:00:00+00:00, after "
         "the deadline 2026-11-25T23:59:00+00:00; 1 started day x 10% = -10% (--late-policy "
         f"penalty:10%/day); {PROVISIONAL}"),
    ]  # fmt: skip


def test_staff_cannot_name_a_student_of_the_roster(competition, tmp_path):
    rows = solution_rows(competition)
    for name in ("ann", "baseline"):
        write_predictions(tmp_path / "subs" / f"{name}.csv", rows, set())
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name\ns1,Ann\n")
    result = score_cli(tmp_path / "subs", competition, tmp_path / "b", "--roster", str(roster),
                       "--baseline", "baseline", "--staff", "baseline", "ann")  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --staff ann: that is roster student s1 (Ann, {roster} line 2), who is graded; "
        "staff rows are not. Name only the baseline and the TA's own files in --staff.\n"
    )
    assert not (tmp_path / "b").exists()


def test_a_late_policy_with_nothing_to_judge_says_so(competition, tmp_path):
    rows = solution_rows(competition)
    for name in ("ann", "baseline"):
        write_predictions(tmp_path / "subs" / f"{name}.csv", rows, set())
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name\ns1,ann\n")
    result = score_cli(tmp_path / "subs", competition, tmp_path / "b", "--roster", str(roster),
                       "--baseline", "baseline", "--staff", "baseline",
                       "--late-policy", "zero")  # fmt: skip
    assert result.returncode == 0
    assert result.stderr == (
        "Warning: --late-policy zero: no --deadline, and no file has an LMS late mark "
        "(collected.csv), so no file can be late and the policy changes no grade. Add "
        "--deadline TIME.\n"
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"staff": ("nobody",)}, "--staff nobody: no submission of that participant in"),
        ({"baseline": "nobody"}, "--baseline nobody: no scored submission of that participant"),
    ],
)
def test_staff_and_baseline_are_checked_before_any_file_is_read(
    competition, tmp_path, monkeypatch, flags, message
):
    from grader.core.errors import UsageError
    from grader.score import pipeline

    write_predictions(tmp_path / "subs" / "a.csv", solution_rows(competition), set())

    def never(*args):
        raise AssertionError("a file was read before the flags were checked")

    monkeypatch.setattr(pipeline, "check_entry", never)
    options = pipeline.ScoreOptions(
        tmp_path / "subs",
        competition / "private" / "solution.csv",
        out=tmp_path / "b",
        review=tmp_path / "r",
        **flags,
    )
    with pytest.raises(UsageError, match=message):
        pipeline.score_submissions(options)
    assert not (tmp_path / "b").exists()
