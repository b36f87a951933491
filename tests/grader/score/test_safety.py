"""`grader score` in front of a real class: locks, kills, secrets, identity, the id grammar."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from grader.bundle.answers import AnswerKey
from grader.core.fileio import build_folder_atomically, exclusive_lock, lock_path
from grader.score.entry import BoardRow, Entry
from grader.score.options import ScoreOptions
from grader.score.pipeline import score_submissions
from grader.stats.metrics import score
from grader.stats.uncertainty import shakeup
from tests.helpers import ROOT, grader, review_of, score_cli, when
from tests.scoring_fixtures import solution_rows, write_predictions


def score_args(subs: Path, competition: Path, out: Path, review: Path) -> list[str]:
    """The command line of `grader score` for a subprocess."""
    solution = str(competition / "private" / "solution.csv")
    command = [sys.executable, "-m", "grader", "score", str(subs), "--solution", solution]
    command += ["--out", str(out), "--review", str(review)]
    return command


def small_folder(competition: Path, root: Path) -> Path:
    rows = solution_rows(competition)
    subs = root / "subs"
    write_predictions(subs / "ann.csv", rows, wrong=set())
    write_predictions(subs / "ben.csv", rows, wrong={int(r["id"]) for r in rows[:9]})
    (subs / "cy.csv").write_text("id;label\n")
    return subs


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


def test_a_folder_is_private_until_it_is_complete(tmp_path):
    seen = []

    def build(folder: Path) -> None:
        seen.append(stat.S_IMODE(folder.stat().st_mode))
        (folder / "a.txt").write_text("x")

    old = os.umask(0o022)
    try:
        build_folder_atomically(tmp_path / "out", build, lambda: None)
        build_folder_atomically(tmp_path / "secret", build, lambda: None, mode=0o700)
    finally:
        os.umask(old)
    assert seen == [0o700, 0o700]
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o700


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


def test_the_mask_has_a_generator_of_its_own(sources, tmp_path):
    import json

    from grader.bundle.prepare import derived_mask_seed, prepare, split_dataset, stratified_mask
    from grader.bundle.sources import load_source

    raw = load_source(str(sources["imagefolder-zip"]), progress=False)
    a, b = split_dataset(raw, 5, 0.3, mask_seed=1), split_dataset(raw, 5, 0.3, mask_seed=2)
    assert np.array_equal(a.test_images, b.test_images)  # the same permutations
    assert not np.array_equal(a.public, b.public)  # a different mask
    expected = stratified_mask(a.test_labels, 0.3, np.random.default_rng(1))
    assert np.array_equal(a.public, expected)
    # The old design drew the mask from the permutations' own stream: not any more.
    rng = np.random.default_rng(5)
    rng.permutation(len(raw.train_labels)), rng.permutation(len(raw.test_labels))
    assert not np.array_equal(
        split_dataset(raw, 5, 0.3).public, stratified_mask(a.test_labels, 0.3, rng)
    )
    manifest = prepare(str(sources["imagefolder-zip"]), tmp_path / "c", progress=False)
    assert manifest["mask_seed"] != manifest["seed"] and manifest["mask_seed"].bit_length() > 64
    written = json.loads((tmp_path / "c" / "private" / "manifest.json").read_text())
    assert written["mask_seed"] == manifest["mask_seed"]
    assert derived_mask_seed(5) == derived_mask_seed(5) != derived_mask_seed(6)


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


# ----------------------------------------------------------------------------
# The identity rule reaches the gradebook
# ----------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------
# Small correctness
# ----------------------------------------------------------------------------


def test_the_shakeup_follows_rank_by():
    # 20 rows of class 0 (ids 0-19) and 20 of class 1; odd rows are Private. Both files are
    # right on every Public row. On Private, ann predicts class 0 everywhere: accuracy 10/20,
    # F1 20/30 and 0, macro 1/3. ben has 8 class-0 and 3 class-1 rows wrong: confusion
    # [[2, 8], [3, 7]], accuracy 9/20, F1 4/15 and 14/25, macro 0.413.
    labels = np.repeat([0, 1], 20)
    public = np.tile([True, False], 20)
    key = AnswerKey(np.arange(40), ("a", "b"), labels, public)
    private_rows = np.flatnonzero(~public)
    ann, ben = labels.copy(), labels.copy()
    ann[private_rows] = 0
    wrong = private_rows[[0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12]]
    ben[wrong] = 1 - ben[wrong]

    def row(name: str, predicted: np.ndarray) -> BoardRow:
        e = Entry(name, f"{name}.csv", when(1), status="scored", predicted=predicted)
        e.metrics = {
            s: score(labels[key.mask(s)], predicted[key.mask(s)], 2) for s in ("public", "private")
        }
        return BoardRow(1, name, e, 1)

    board = [row("ann", ann), row("ben", ben)]
    ann_m, ben_m = (r.entry.metrics["private"] for r in board)
    assert (ann_m.accuracy, ben_m.accuracy) == (0.5, 0.45)
    assert (ann_m.macro_f1, ben_m.macro_f1) == pytest.approx((1 / 3, (4 / 15 + 14 / 25) / 2))
    assert shakeup(board, key, "accuracy", resplits=5).private_rank == [1, 2]
    assert shakeup(board, key, "macro_f1", resplits=5).private_rank == [2, 1]


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


# ----------------------------------------------------------------------------
# What a careless or hostile neighbour can do to the paths
# ----------------------------------------------------------------------------


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(competition, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".board.lock").symlink_to(victim)
    result = score_cli(small_folder(competition, tmp_path), competition, tmp_path / "board")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"Error: --out {tmp_path / 'board'}: cannot create its lock file "
        f"{tmp_path / '.board.lock'} (Too many levels of symbolic links)."
    )
    assert victim.read_text() == "precious\n" and not (tmp_path / "board").exists()


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"scores.csv": "a,b\n", "thesis.tex": "x"},
            "exists and was not written by grader score (it has no .grader-board file)",
        ),
        (
            {".grader-board": "", "scores.csv": "", "notes.txt": "x", "reports/a.txt": "x"},
            "holds files grader score did not write (notes.txt, reports/a.txt), which "
            "replacing it would delete",
        ),
    ],
)
def test_a_folder_is_replaced_only_if_it_holds_nothing_but_the_kits_files(
    competition, tmp_path, files, problem
):
    out = tmp_path / "proj"
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    result = score_cli(small_folder(competition, tmp_path), competition, out)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {out}: {problem}; refusing to replace it. Choose another folder.\n"
    )
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(files)


def test_an_out_that_holds_the_current_folder_is_refused(competition, tmp_path):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    assert score_cli(subs, competition, out, "--public-details").returncode == 1
    before = tree_of(tmp_path)
    for where, flag_value in ((out, "."), (out / "reports", "..")):
        result = subprocess.run(
            score_args(subs, competition, Path(flag_value), tmp_path / "review2"),
            cwd=where,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        assert result.returncode == 2
        assert result.stderr == (
            f"Error: --out {out}: is or contains the folder you are in, which replacing --out "
            "would remove; run grader score from another folder.\n"
        )
    assert tree_of(tmp_path) == before


def tree_of(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_the_review_folder_and_history_stay_out_of_the_kaggle_upload(competition, tmp_path):
    import shutil

    copy = tmp_path / "competition"
    shutil.copytree(competition, copy)
    subs = small_folder(competition, tmp_path)
    for flag in ("--review", "--history"):
        target = copy / "public" / ("review" if flag == "--review" else "h.sqlite")
        result = score_cli(subs, copy, tmp_path / "board", flag, str(target))
        assert result.returncode == 2
        assert result.stderr == (
            f"Error: {flag} {target}: lies inside the competition's public folder "
            f"{copy / 'public'}, which is uploaded to Kaggle; keep TA-only files out of it.\n"
        )
    assert not (tmp_path / "board").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--history", "{subs}"],
            "--history {subs}: a folder, not a file. Pass the path of an SQLite file.",
        ),
        (
            ["--history", "{solution}"],
            "--history {solution}: not an SQLite file (file is not a database). Pass the "
            "history.sqlite that grader score wrote, or a path that does not exist yet.",
        ),
        (
            ["--history", "{a.csv}/h.sqlite"],
            "--history {a.csv}/h.sqlite: {a.csv} is a file, not a folder. Choose another path.",
        ),
        (
            ["--out", "{a.csv}/board"],
            "--out {a.csv}/board: {a.csv} is a file, not a folder. Choose another path.",
        ),
        (
            ["--roster", "{bad.csv}", "--baseline", "ann"],
            "--roster {bad.csv}: not UTF-8 text ('utf-8' codec can't decode byte 0xff in "
            'position 23: invalid start byte). Save it as "CSV UTF-8".',
        ),
        (
            ["--baseline", "nobody", "--out", "{new}/deep/board"],
            "--baseline nobody: no scored submission of that participant in {subs}.",
        ),
        (
            ["--history", "{subs}/h.sqlite"],
            "--history {subs}/h.sqlite: lies inside the submissions folder {subs}, where the "
            "next run would take it for a submission. Choose a path outside it.",
        ),
        (
            ["--review", "{tmp}/.board.lock"],
            "--review {tmp}/.board.lock: a name of the kit's own lock and staging files; "
            "choose another name.",
        ),
        (
            ["--roster", "{tmp}/two.csv", "--baseline", "ann"],
            "--roster {tmp}/two.csv line 1: the column 'kaggle_name' appears 2 times; keep one.",
        ),
    ],
)
def test_bad_paths_are_one_line_and_touch_nothing(competition, tmp_path, extra, message):
    subs = small_folder(competition, tmp_path)
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "bad.csv").write_bytes(b"kaggle_name,student_id\n\xff,1\n")
    (tmp_path / "two.csv").write_text("kaggle_name,student_id,kaggle_name\nann,1,ben\n")
    solution = competition / "private" / "solution.csv"
    names = {"subs": subs, "solution": solution, "a.csv": tmp_path / "a.csv"}
    names |= {"bad.csv": tmp_path / "bad.csv", "new": tmp_path / "new", "tmp": tmp_path}

    def fill(text: str) -> str:
        for key, path in names.items():
            text = text.replace("{" + key + "}", str(path))
        return text

    args = [fill(e) for e in extra]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "board")]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = grader(
        "score", str(subs), "--solution", str(solution), "--review", str(tmp_path / "r"), *args
    )
    assert (result.returncode, result.stderr) == (2, f"Error: {fill(message)}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no board, no new folder


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


def test_a_failed_swap_puts_the_previous_folder_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous")
    real_rename = Path.rename

    def rename(self, target):
        if ".partial-" in self.name:  # the second rename of the swap
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError):
        build_folder_atomically(out, lambda f: (f / "new.txt").write_text("new"), lambda: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "old.txt").read_text() == "previous"


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


def folder_for(path: Path) -> None:
    """Replace a file of the kit's by a user's folder of the same name."""
    path.unlink()
    path.mkdir()
    (path / "thesis.docx").write_text("mine")


@pytest.mark.parametrize(
    ("make", "foreign"),
    [
        (lambda b: folder_for(b / "scores.csv"), "scores.csv"),
        (lambda b: (b / "reports" / "keep.json").mkdir(), "reports/keep.json"),
        (lambda b: (b / "reports" / "notes.json").write_text("{}"), "reports/notes.json"),
    ],
)
def test_what_replacing_would_delete_is_checked_by_kind(competition, tmp_path, make, foreign):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    assert score_cli(subs, competition, out, "--public-details").returncode == 1
    make(out)
    before = tree_of(out)
    result = score_cli(subs, competition, out, "--public-details")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {out}: holds files grader score did not write ({foreign}), which "
        "replacing it would delete; refusing to replace it. Choose another folder.\n"
    )
    assert tree_of(out) == before


def test_a_foreign_file_at_the_lock_path_is_left_alone(competition, tmp_path):
    (tmp_path / ".board.lock").write_text("important data\n")
    result = score_cli(small_folder(competition, tmp_path), competition, tmp_path / "board")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path / 'board'}: {tmp_path / '.board.lock'} exists and is not a "
        "lock file of grader score; it was left as it is. Move it away, or choose another "
        "folder.\n"
    )
    assert (tmp_path / ".board.lock").read_text() == "important data\n"


def test_plausible_must_be_a_fraction(competition, tmp_path):
    subs = small_folder(competition, tmp_path)
    for value in ("nan", "5", "0"):
        result = score_cli(subs, competition, tmp_path / "b", "--plausible", value)
        assert result.returncode == 2
        assert result.stderr.endswith(
            f"argument --plausible: '{value}' must lie above 0 and at most 1, e.g. 0.99\n"
        )
