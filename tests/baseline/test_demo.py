"""The README's main job: the whole loop in one command (on tiny data here)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.cifar_fixtures import make_tiny_cifar, write_imagefolder_zip
from tests.helpers import ROOT


def demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "baseline.demo", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


@pytest.mark.slow
def test_the_demo_runs_the_whole_loop(tmp_path):
    source = write_imagefolder_zip(make_tiny_cifar(30, 5, seed=8), tmp_path / "tiny.zip")
    out = tmp_path / "demo"
    result = demo("--source", str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    steps = [line for line in result.stdout.splitlines() if line.startswith("== ")]
    assert [s.split(" ")[2] for s in steps] == ["grader", "python", "grader", "collect", "grader"]
    assert "\nvalid\n" in result.stdout
    assert "Public leaderboard, ranked by public accuracy: 5 of 6 participants ranked." in (
        result.stdout
    )
    assert "  dave.csv: invalid: line 1: fields are separated by ';'" in result.stdout
    with (out / "leaderboard" / "leaderboard.csv").open() as f:
        board = {row["participant"]: row for row in csv.DictReader(f)}
    alice = "simulated-alice"
    assert set(board) == {alice, "cpu-stand-in", "simulated-bob", "simulated-chen", "sample"}
    assert board[alice]["file"].startswith(f"{alice}/2026-11-2")  # her better of two files
    with (out / "leaderboard" / "scores.csv").open() as f:
        statuses = sorted((row["file"], row["status"]) for row in csv.DictReader(f))
    assert [s for f, s in statuses if f.startswith(f"{alice}/")] == ["scored", "scored"]
    # The commands are printed as a user would type them.
    (train_step,) = [s for s in steps if s.startswith("== 2. ")]
    assert f"--data {out / 'competition' / 'public'} --out {out / 'runs' / 'baseline'}" in (
        train_step
    )
    assert train_step.endswith("--cpu   # a CPU stand-in, not the course recipe")
    for name in (
        "competition/public/train_images.npy",
        "runs/baseline/submission.csv",
        "runs/baseline/learning_curves.png",
        "leaderboard/leaderboard.md",
        "leaderboard/index.html",
    ):
        assert (out / name).is_file(), name


def test_the_demo_never_deletes_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = demo("--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path}: already exists. Pass --force to start over, or choose "
        "another folder.\n"
    )
    result = demo("--out", str(tmp_path), "--force")
    assert result.stderr == f"Error: --out {tmp_path}: not a demo folder; refusing to delete it.\n"
    assert (tmp_path / "notes.txt").read_text() == "mine"
