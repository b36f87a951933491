"""`grader score` end to end (grader.score.pipeline, run through the command line): a hostile
mixed folder, the final board, reruns, what a run says. Finding files, ranking, the path
guards, history, flags and the gradebook have files of their modules' names."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
from pathlib import Path

import pytest

from grader.score.options import ScoreOptions
from grader.score.pipeline import score_submissions
from tests.helpers import grader, review_of, score_cli
from tests.scoring_fixtures import (
    HOSTILE_FORMULA,
    HOSTILE_HTML,
    small_folder,
    solution_rows,
    write_predictions,
)


def test_a_mixed_folder_end_to_end(mixed_folder, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(mixed_folder, competition, out)
    assert result.returncode == 1, result.stderr  # some files were not scored
    assert result.stderr == ""
    # 15 public test ids: 3 wrong = 80%, 1 wrong = 93.33%, 6 wrong = 60%.
    with (out / "leaderboard.csv").open() as f:
        board = list(csv.reader(f))
    assert board[0] == [
        "rank",
        "participant",
        "file",
        "submitted_at",
        "public_accuracy",
        "public_macro_f1",
        "public_accuracy_low",
        "public_accuracy_high",
        "public_macro_f1_low",
        "public_macro_f1_high",
        "p_vs_next",
        "p_vs_baseline",
        "tie_group",
    ]
    assert [row[:4] for row in board[1:]] == [
        ["1", "alice", "alice.csv", "2026-09-21T14:13:20"],
        ["2", "bob", "bob/2026-11-21T10-00-00_second.csv", "2026-11-21T10:00:00"],
        ["3", "'" + HOSTILE_FORMULA, "'" + HOSTILE_FORMULA + ".csv", "2026-05-28T20:26:40"],
        ["4", HOSTILE_HTML, HOSTILE_HTML + ".csv", "2026-05-28T20:26:40"],
    ]
    assert [float(row[4]) for row in board[1:]] == pytest.approx([1, 14 / 15, 12 / 15, 9 / 15])

    with (out / "scores.csv").open() as f:
        scores = {row["file"]: row for row in csv.DictReader(f)}
    assert {name: (row["status"], row["error"][:40]) for name, row in scores.items()} == {
        "'" + HOSTILE_FORMULA + ".csv": ("scored", ""),
        HOSTILE_HTML + ".csv": ("scored", ""),
        "alice.csv": ("scored", ""),
        "bob/2026-11-20T10-00-00_first.csv": ("scored", ""),
        "bob/2026-11-21T10-00-00_second.csv": ("scored", ""),
        "carol.csv": ("invalid", "the file is empty. Expected the header i"),
        "dave.csv": ("invalid", "binary data, not CSV text (a NUL byte at"),
        "erin/try.csv": ("invalid", "line 1: fields are separated by ';', not"),
        "mallory.csv": ("error", "a symbolic link leading outside the subm"),
    }

    markdown = (out / "leaderboard.md").read_text()
    assert "<img" not in markdown
    assert "| 4 | &lt;img src=x onerror=alert(1)&gt; | 60.00% | " in markdown
    assert "| 3 | =HYPERLINK(&quot;evil.test&quot;,&quot;win&quot;) |" in markdown

    # Per-class reports are for the TA: in the review folder, with every split.
    assert sorted(p.name for p in out.iterdir()) == [
        ".grader-board",
        "index.html",
        "leaderboard.csv",
        "leaderboard.md",
        "scores.csv",
    ]
    review = review_of(out)
    assert sorted(p.name for p in review.iterdir()) == [
        ".grader-review",
        "README.md",
        "flags.csv",
        "reports",
    ]
    reports = sorted(p.name for p in (review / "reports").iterdir())

    def digest(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()[:8]

    assert reports == [
        f"HYPERLINK_evil_test_win~{digest(HOSTILE_FORMULA)}.json",
        "alice.json",
        "bob.json",
        "carol.json",
        "dave.json",
        "erin.json",
        f"img_src_x_onerror_alert_1~{digest(HOSTILE_HTML)}.json",
        "mallory.json",
    ]
    bob = json.loads((review / "reports" / "bob.json").read_text())
    assert (bob["rank"], bob["ranked_file"]) == (2, "bob/2026-11-21T10-00-00_second.csv")
    second = bob["submissions"][1]
    assert second["public"]["accuracy"] == pytest.approx(14 / 15)
    assert sum(map(sum, second["public"]["confusion_matrix"]["counts"])) == 15
    assert second["private"]["accuracy"] == pytest.approx(25 / 35)
    assert sum(map(sum, second["all"]["confusion_matrix"]["counts"])) == 50
    assert stat.S_IMODE(review.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in review.rglob("*") if p.is_file()} == {0o600}
    assert (
        (review / "README.md")
        .read_text()
        .startswith("# grader score: review folder (for the TA only)\n\nDo not publish anything")
    )

    # The public board shows no private-split number anywhere.
    for path in out.rglob("*"):
        if path.is_file():
            assert "private" not in path.read_text().lower(), path.name

    assert result.stdout.splitlines()[0] == (
        "Public leaderboard, ranked by public accuracy: 4 of 8 participants ranked."
    )
    assert (
        "  mallory.csv: error: a symbolic link leading outside the submissions folder; "
        "not followed." in result.stdout
    )


@pytest.mark.slow
def test_rerunning_gives_identical_outputs(mixed_folder, competition, tmp_path):
    out = tmp_path / "board"
    solution = str(competition / "private" / "solution.csv")
    grader("score", str(mixed_folder), "--solution", solution, "--out", str(out))
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    grader("score", str(mixed_folder), "--solution", solution, "--out", str(out))
    again = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert again == first
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_final_board_ranks_by_the_private_split(mixed_folder, competition, tmp_path):
    out = tmp_path / "final"
    result = score_cli(
        mixed_folder,
        competition,
        out,
        "--final",
        "--timings",
    )
    assert result.returncode == 1
    stages = re.fullmatch(r"Time per stage: (.*)\n", result.stderr.splitlines(True)[-1])
    assert stages, result.stderr
    assert [part.rsplit(" ", 2)[0] for part in stages.group(1).split(", ")] == [
        "check flags and paths",
        "read and validate",
        "score",
        "rank",
        "intervals and tests",
        "flags",
        "lookup check",
        "shake-up",
        "write board",
        "write review",
        "history",
    ]
    with (out / "leaderboard.csv").open() as f:
        board = list(csv.DictReader(f))
    # 35 private ids. bob's two best public files: first (private all right) beats
    # second (10 private wrong), so first counts, tying alice at 100%; alice submitted
    # earlier. The hostile files have 2 and 5 private ids wrong: 33/35 and 30/35.
    assert [(r["rank"], r["participant"], r["file"]) for r in board] == [
        ("1", "alice", "alice.csv"),
        ("1", "bob", "bob/2026-11-20T10-00-00_first.csv"),
        ("3", "'" + HOSTILE_FORMULA, "'" + HOSTILE_FORMULA + ".csv"),
        ("4", HOSTILE_HTML, HOSTILE_HTML + ".csv"),
    ]
    with (out / "shakeup.csv").open() as f:
        moved = list(csv.DictReader(f))
    assert [r["participant"] for r in moved] == [r["participant"] for r in board]
    assert set(moved[0]) == {"participant", "public_rank", "private_rank", "change"}
    assert "Shake-up: Kendall tau between public and private scores " in result.stdout
    assert [float(r["private_accuracy"]) for r in board] == pytest.approx([1, 1, 33 / 35, 30 / 35])
    assert "private_macro_f1" in board[0] and "all_accuracy" not in board[0]


def test_a_missing_solution_is_a_usage_error(mixed_folder, tmp_path):
    result = grader("score", str(mixed_folder), "--solution", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --solution: {tmp_path / 'nope.csv'}: no such file. Pass --solution the "
        "private/solution.csv that `grader prepare` wrote.\n"
    )


def test_unreadable_and_odd_files_are_reported(competition, tmp_path):
    rows = solution_rows(competition)
    subs = tmp_path / "subs"
    write_predictions(subs / "ok.csv", rows, wrong=set())
    os.mkfifo(subs / "pipe.csv")  # reading it would block forever
    (subs / "broken.csv").symlink_to(subs / "gone.csv")
    (subs / "inside.csv").symlink_to(subs / "ok.csv")
    result = score_cli(subs, competition, tmp_path / "out")
    with (tmp_path / "out" / "scores.csv").open() as f:
        status = {r["file"]: (r["status"], r["error"]) for r in csv.DictReader(f)}
    assert status == {
        "broken.csv": ("error", "a symbolic link to a file that does not exist; not followed."),
        "pipe.csv": ("error", "not a regular file; not read."),
        "inside.csv": (  # a link is never followed: it would score ok.csv as "inside"
            "error",
            "a symbolic link to another file of the submissions folder; not followed (it would "
            "score that file under this name): copy the file instead.",
        ),
        "ok.csv": ("scored", ""),
    }
    assert result.returncode == 1


def test_a_folder_with_no_valid_file_still_gets_its_board(competition, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "carol.csv").write_text("id,label\n")
    result = score_cli(subs, competition, tmp_path / "b")
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout.splitlines()[:2] == [
        "Public leaderboard, ranked by public accuracy: 0 of 1 participants ranked.",
        "rank  participant  public acc  public F1  95% CI acc  group  file  submitted (UTC)",
    ]
    assert (tmp_path / "b" / "leaderboard.csv").read_text() == (
        "rank,participant,file,submitted_at,public_accuracy,public_macro_f1,"
        "public_accuracy_low,public_accuracy_high,public_macro_f1_low,public_macro_f1_high,"
        "p_vs_next,p_vs_baseline,tie_group\n"
    )


@pytest.mark.slow
def test_the_board_carries_intervals_tests_and_tied_groups(mixed_folder, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(
        mixed_folder,
        competition,
        out,
        "--baseline",
        "bob",
    )
    assert result.returncode == 1
    with (out / "leaderboard.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        low, high = float(row["public_accuracy_low"]), float(row["public_accuracy_high"])
        assert low <= float(row["public_accuracy"]) <= high
    # 15 public images, right: alice 15, bob 14, the formula name 12, the html name 9.
    # Against the leader alice: bob p = 1, 12/15 p = 2/8 = 0.25 (tied); 9/15 differs on 6
    # rows, all in alice's favour: p = 2/64 = 0.031 < 0.05, a new group.
    assert [row["tie_group"] for row in rows] == ["1", "1", "1", "2"]
    assert rows[0]["p_vs_next"] == "1" and rows[-1]["p_vs_next"] == ""
    assert [row["p_vs_baseline"] for row in rows][1] == "1"  # bob against himself
    missing = score_cli(
        mixed_folder,
        competition,
        out,
        "--baseline",
        "nobody",
    )
    assert missing.returncode == 2
    assert missing.stderr == (
        f"Error: --baseline nobody: no scored submission of that participant in {mixed_folder}.\n"
    )


@pytest.mark.slow  # 1,000 files: ~14 s
def test_a_long_run_says_as_each_stage_ends(competition, tmp_path):
    rows = solution_rows(competition)
    subs = tmp_path / "subs"
    write_predictions(subs / "s0000.csv", rows, wrong=set())
    data = (subs / "s0000.csv").read_bytes()
    for k in range(1, 1000):
        (subs / f"s{k:04d}.csv").write_bytes(data)
    out = tmp_path / "board"
    result = score_cli(subs, competition, out)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert lines[0].startswith("read and validate 1,000 files: ") and lines[0].endswith(" s")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "score",
        "rank",
        "intervals and tests",
        "flags",
        "lookup check",
        "write board",
        "write review",
        "history",
    ]


def test_the_pipeline_is_what_the_command_runs(competition, tmp_path):
    subs = small_folder(competition, tmp_path)
    options = ScoreOptions(
        subs, competition / "private" / "solution.csv", tmp_path / "a", tmp_path / "ra"
    )
    written: list[Path] = []
    run = score_submissions(options, written)
    cli = score_cli(subs, competition, tmp_path / "b")
    assert cli.returncode == run.exit_code == 1
    for name in ("leaderboard.csv", "leaderboard.md", "index.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert written == [
        tmp_path / "a",
        tmp_path / "ra",
        competition / "private" / "history.sqlite",
    ]
