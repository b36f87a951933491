"""`grader score` in front of a real class: one run at a time, kills and interrupts, secrets,
the ids and names students send, flags a hurried TA mistypes. The path guards are in
test_paths.py; the identity rule's gradebook test in grades/test_gradebook.py."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import stat
import subprocess
import time

import pytest

from grader.core.fileio import exclusive_lock, lock_path
from tests.helpers import ROOT, grader, review_of, score_args, score_cli
from tests.scoring_fixtures import small_folder, solution_rows, write_predictions

# ----------------------------------------------------------------------------
# One run at a time; kills and interrupts
# ----------------------------------------------------------------------------


def test_a_second_run_on_the_same_out_stops_at_once_naming_the_first(competition, tmp_path):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    with exclusive_lock(out, "--out"):
        result = score_cli(subs, competition, out)
        assert lock_path(out).read_text() == f"{os.getpid()}\n"
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {out}: another grader score run (pid {os.getpid()}) is writing it "
        f"(lock file {lock_path(out)}). Wait for it to finish, or choose another --out.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subs"]  # nothing written, no lock


@pytest.mark.slow
def test_two_runs_at_once_never_collide(competition, tmp_path):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(3):
        runs = [
            subprocess.Popen(
                score_args(subs, competition, out, tmp_path / "review"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(2)
        ]
        results = [(run.communicate(timeout=120), run.returncode) for run in runs]
        codes = sorted(code for _, code in results)
        assert codes in ([1, 1], [1, 2]), results  # 1: cy.csv is invalid
        for (_, stderr), code in results:
            assert "Traceback" not in stderr
            if code == 2:
                assert "another grader score run (pid " in stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["board", "review", "subs"]
        assert (out / "scores.csv").is_file()


@pytest.mark.slow
def test_a_killed_run_leaves_private_leftovers_that_the_next_run_names(competition, tmp_path):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    assert score_cli(subs, competition, out).returncode == 1
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.3, 0.5, 0.7, 0.9, 1.1):
        run = subprocess.Popen(
            score_args(subs, competition, out, review_of(out)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
        for path in tmp_path.glob(".board*"):
            if path.is_dir():  # a staging or retired folder: private
                assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
        if out.exists():
            assert {"scores.csv", "leaderboard.csv", "index.html"} <= {
                p.name for p in out.iterdir()
            }
    (tmp_path / ".board.partial-x1").mkdir(mode=0o700)  # at least one, whatever the timing
    result = score_cli(subs, competition, out)
    assert result.returncode == 1
    left = sorted(p for p in tmp_path.glob(".board.*") if p.is_dir())
    assert left
    for path in left:
        assert (
            f"Warning: {path}: left by a grader score run that was killed; it may hold "
            f"scores. Remove it: rm -r {path}\n" in result.stderr
        )


def test_an_interrupt_says_exactly_what_was_written(competition, tmp_path, monkeypatch, capsys):
    import grader.score.pipeline
    from grader.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.score.pipeline, "record", interrupted)
    subs, out, review = small_folder(competition, tmp_path), tmp_path / "b", tmp_path / "r"
    solution = competition / "private" / "solution.csv"
    history = tmp_path / "h.sqlite"
    args = ["score", str(subs), "--solution", str(solution), "--out", str(out)]
    code = main([*args, "--review", str(review), "--history", str(history)])
    assert code == 130
    assert capsys.readouterr().err == (
        f"Interrupted. Written before that: {out}, {review}. Not written (left as before): "
        f"{history}.\n"
    )
    assert (out / "scores.csv").is_file() and not history.exists()


# ----------------------------------------------------------------------------
# Secrets
# ----------------------------------------------------------------------------


def test_the_hidden_labels_and_history_are_readable_by_their_owner_only(competition, tmp_path):
    private = competition / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    for name in ("solution.csv", "manifest.json"):
        assert stat.S_IMODE((private / name).stat().st_mode) == 0o600
    history = tmp_path / "h.sqlite"
    subs = small_folder(competition, tmp_path)
    score_cli(subs, competition, tmp_path / "board", "--history", str(history))
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_a_readable_solution_folder_is_pointed_out(competition, tmp_path):
    copy = tmp_path / "competition"
    import shutil

    shutil.copytree(competition, copy)
    (copy / "private").chmod(0o755)
    result = score_cli(small_folder(competition, tmp_path), copy, tmp_path / "board")
    assert (
        f"Warning: {copy / 'private'}: other users of this machine can read it (mode 755), "
        f"and it holds the hidden labels. Make it private: chmod -R go-rwx {copy / 'private'}\n"
    ) in result.stderr


# ----------------------------------------------------------------------------
# Files and ids students can throw at it
# ----------------------------------------------------------------------------


def test_a_huge_id_is_a_reported_problem_everywhere(competition, tmp_path):
    rows = solution_rows(competition)
    path = tmp_path / "subs" / "eve.csv"
    write_predictions(path, rows, wrong=set())
    huge = "9" * 5000
    path.write_text(path.read_text() + f"{huge},cat\n-3,cat\n\u0663,dog\n")
    result = grader("validate", str(path), "--competition", str(competition / "public"))
    assert result.returncode == 1 and result.stderr == ""
    assert (
        "  1. id that is not a whole number of at most 20 digits 0-9 on 3 lines: line 52 ('"
        + "9" * 40
        + "...'), line 53 ('-3'), line 54 ('\u0663')."
        in result.stdout
    )
    sent = grader("submit", str(path), "--competition", "c", "-m", "m", "--data", str(competition))
    assert sent.returncode == 1 and sent.stdout.endswith("Not submitted: fix the file first.\n")
    scored = score_cli(tmp_path / "subs", competition, tmp_path / "board")
    assert scored.returncode == 1 and "Traceback" not in scored.stderr
    with (tmp_path / "board" / "scores.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["status"] == "invalid"
    assert row["error"].startswith("id that is not a whole number of at most 20 digits 0-9")


def test_ids_compare_by_value(competition, tmp_path):
    rows = solution_rows(competition)
    path = tmp_path / "a.csv"
    write_predictions(path, rows, wrong=set())
    first = rows[0]["id"]
    path.write_text(path.read_text() + f"00{first},cat\n")
    result = grader("validate", str(path), "--competition", str(competition / "public"))
    assert f"duplicate id on 1 line: line 52 (id 00{first}, first on line 2)." in result.stdout


def test_the_sha256_is_of_the_whole_file_even_when_too_large(competition, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    data = b"id,label\n" + b"0,cat\n" * 400_000  # 2.4 MB: refused unread
    (subs / "big.csv").write_bytes(data)
    score_cli(subs, competition, tmp_path / "board")
    with (tmp_path / "board" / "scores.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["status"] == "invalid" and "so it was not read" in row["error"]
    assert row["sha256"] == hashlib.sha256(data).hexdigest()


def test_an_interrupt_after_everything_was_written_says_so(
    competition, tmp_path, monkeypatch, capsys
):
    import grader.board.terminal
    from grader.cli import main

    def interrupted(run):
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.board.terminal, "score_summary", interrupted)
    subs, out, review = small_folder(competition, tmp_path), tmp_path / "b", tmp_path / "r"
    history = tmp_path / "h.sqlite"
    solution = str(competition / "private" / "solution.csv")
    args = ["score", str(subs), "--solution", solution, "--out", str(out)]
    code = main([*args, "--review", str(review), "--history", str(history)])
    assert code == 130
    assert capsys.readouterr().err == (
        f"Interrupted. Written before that: {out}, {review}, {history}. Everything was written.\n"
    )


def test_a_deadline_without_a_time_of_day_is_refused_with_an_example(competition, tmp_path):
    result = score_cli(
        small_folder(competition, tmp_path),
        competition,
        tmp_path / "b",
        "--deadline",
        "2020-01-01Z",
    )
    assert result.returncode == 2
    assert (
        "argument --deadline: '2020-01-01Z' has no time of day: give one with a timezone, e.g. "
        "2020-01-01T23:59+01:00" in result.stderr
    )


def test_names_in_any_single_script_are_participants(competition, tmp_path):
    rows = solution_rows(competition)
    subs = tmp_path / "subs"
    for path in ("Иван.csv", "Σοφία/модель.csv", "carol/σ-sweep.csv", "readme-lover/a.csv"):
        write_predictions(subs / path, rows, wrong=set())
    write_predictions(subs / "李雷" / "2026-11-20T14-03-05_β2.csv", rows, wrong=set())
    result = score_cli(subs, competition, tmp_path / "board")
    assert result.returncode == 0, result.stdout
    with (tmp_path / "board" / "leaderboard.csv").open() as f:
        ranked = sorted(r["participant"] for r in csv.DictReader(f))
    assert ranked == sorted(["Иван", "Σοφία", "carol", "readme-lover", "李雷"])
    from grader.core.text import columns

    # The terminal table stays aligned: wide CJK characters take two columns.
    table = [line for line in result.stdout.splitlines() if "100.00%    100.00%" in line]
    assert len(table) == 5
    assert len({columns(line[: line.index("100.00%")]) for line in table}) == 1
    checked = grader("validate", str(subs / "Иван.csv"), "--competition", str(competition))
    assert checked.returncode == 0


def test_plausible_must_be_a_fraction(competition, tmp_path):
    subs = small_folder(competition, tmp_path)
    for value in ("nan", "5", "0"):
        result = score_cli(subs, competition, tmp_path / "b", "--plausible", value)
        assert result.returncode == 2
        assert result.stderr.endswith(
            f"argument --plausible: '{value}' must lie above 0 and at most 1, e.g. 0.99\n"
        )
