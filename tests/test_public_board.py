"""The public board depends on the submissions and the Public labels alone.

Property: permuting the Private labels (among the Private rows) leaves every
byte of `--out` as it was, over simulated cohorts with copies, near-copies,
late and implausible files, look-alike names, and every output option.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from grader.bundle.files import CIFAR10_CLASSES
from grader.score.options import ScoreOptions
from grader.score.pipeline import score_submissions

N_TEST = 300


def write_solution(folder: Path, labels: np.ndarray, public: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    folder.chmod(0o700)
    lines = ["id,label,Usage"] + [
        f"{i},{CIFAR10_CLASSES[y]},{'Public' if p else 'Private'}"
        for i, (y, p) in enumerate(zip(labels, public, strict=True))
    ]
    (folder / "solution.csv").write_text("\n".join(lines) + "\n")
    # Fresh test images (grader prepare --fresh) are Private: every fifth Private row here.
    fresh = np.flatnonzero(~public)[::5]
    (folder / "fresh.csv").write_text("id\n" + "".join(f"{i}\n" for i in fresh))
    return folder / "solution.csv"


def write_file(path: Path, predicted: np.ndarray, order: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{i},{CIFAR10_CLASSES[predicted[i]]}" for i in order]
    path.write_text("id,label\n" + "\n".join(rows) + "\n")


def cohort(root: Path, labels: np.ndarray, seed: int) -> Path:
    """A class of simulated students: honest models, a copy, a near-copy, a late file,
    a perfect one, a student with a selected file, an invalid file and look-alike names."""
    rng = np.random.default_rng(seed)
    subs = root / "subs"
    order = rng.permutation(N_TEST)

    def noisy(accuracy: float) -> np.ndarray:
        keep = rng.random(N_TEST) < accuracy
        return np.where(keep, labels, rng.integers(0, 10, N_TEST))

    students = {f"s{k:02d}": noisy(rng.uniform(0.2, 0.9)) for k in range(8)}
    for name, predicted in students.items():
        write_file(subs / f"{name}.csv", predicted, order)
    near = students["s01"].copy()
    near[rng.choice(N_TEST, 3, replace=False)] = rng.integers(0, 10, 3)
    write_file(subs / "near" / "2026-11-20T10-00-00_a.csv", near, order)
    write_file(subs / "near" / "2026-11-22T10-00-00_b.selected.csv", noisy(0.5), order)
    (subs / "copy.csv").write_bytes((subs / "s02.csv").read_bytes())
    write_file(subs / "perfect" / "2026-11-21T00-00-00_x.csv", labels, order)
    write_file(subs / "late" / "2026-12-30T00-00-00_late.csv", noisy(0.6), order)
    write_file(subs / "Ann.csv", noisy(0.4), order)
    write_file(subs / "ann" / "a.csv", noisy(0.4), order)
    (subs / "broken.csv").write_text("id;label\n0;cat\n")
    for path in subs.rglob("*.csv"):
        os.utime(path, (1_790_000_000, 1_790_000_000))
    (root / "roster.csv").write_text(
        "kaggle_name,student_id,extension_hours,canvas_id\n"
        "s00,1,,11\nS01,2,,12\nann,3,24,\nnobody,4,,14\nnear,5,,15\n"
    )
    # What grader collect leaves: a manifest with an LMS late mark, and Kaggle's board.
    (subs / "collected.csv").write_text(
        "file,participant,student_id,submitted_at,time_known,lms_late,format,export,entry,"
        "original_name,sha256,collected_at\n"
        "near/2026-11-22T10-00-00_b.selected.csv,near,5,2026-11-22T10:00:00+00:00,no,yes,"
        "canvas,c.zip,x_LATE_1_2_b.selected.csv,b.selected.csv,0,2026-12-01T00:00:00+00:00\n"
    )
    (root / "kaggle.csv").write_text(
        "\ufeffRank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,TeamMemberUserNames\n"
        '1,1,S Zero,"2026-11-20 10:00:00",0.50000,1,s00\n'
        '2,2,Near,"2026-11-20 10:00:00",0.4,1,near\n'
    )
    return subs


OPTION_SETS = {
    "defaults": {},
    "roster-baseline-deadline": {
        "baseline": "s03",
        "roster": "roster.csv",
        "deadline": datetime(2026, 12, 1, tzinfo=timezone.utc),
        "plausible": 0.9,
        "gradebook_format": "canvas",
        "assignment_id": "4402",
    },
    "macro-f1-details": {"rank_by": "macro_f1", "public_details": True},
    "details-baseline": {"public_details": True, "baseline": "near"},
    "collect-staff-late-kaggle": {
        "baseline": "s03",
        "staff": ("s03", "perfect"),
        "roster": "roster.csv",
        "deadline": datetime(2026, 11, 21, tzinfo=timezone.utc),
        "late_policy": "penalty:10%/day",
        "kaggle_leaderboard": "kaggle.csv",
    },
}


def run_with(root: Path, subs: Path, solution: Path, name: str, options: dict):
    extra = dict(options)
    for flag in ("roster", "kaggle_leaderboard"):
        if flag in extra:
            extra[flag] = root / extra[flag]
    return score_submissions(
        ScoreOptions(
            folder=subs,
            solution=solution,
            out=root / f"{name}-out",
            review=root / f"{name}-review",
            history=root / f"{name}.sqlite",
            **extra,
        )
    )


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("option_set", list(OPTION_SETS))
def test_permuting_private_labels_changes_no_byte_of_the_board(tmp_path, seed, option_set):
    rng = np.random.default_rng(100 + seed)
    labels = np.repeat(np.arange(10), N_TEST // 10)[rng.permutation(N_TEST)]
    public = np.zeros(N_TEST, bool)
    for c in range(10):
        public[rng.choice(np.flatnonzero(labels == c), 9, replace=False)] = True
    shuffled = labels.copy()
    private_rows = np.flatnonzero(~public)
    shuffled[private_rows] = labels[rng.permutation(private_rows)]
    assert (shuffled != labels).sum() > 100  # a real change of the Private labels
    subs = cohort(tmp_path, labels, seed)
    options = OPTION_SETS[option_set]
    first = run_with(tmp_path, subs, write_solution(tmp_path / "a", labels, public), "a", options)
    second = run_with(
        tmp_path, subs, write_solution(tmp_path / "b", shuffled, public), "b", options
    )
    assert contents(tmp_path / "a-out") == contents(tmp_path / "b-out")
    # The review folder does change: the test would see a leak if the board had one.
    assert contents(tmp_path / "a-review") != contents(tmp_path / "b-review")
    assert {f.kind for f in first.flags} >= {"identical", "implausible"}
    assert first.fresh is not None and first.fresh.rows is not None  # the check ran
    assert first.exit_code == second.exit_code == 1
    if "deadline" in options:
        assert "late" in {f.kind for f in first.flags}
    if "gradebook_format" in options:
        assert (tmp_path / "a-review" / "gradebook-canvas.csv").is_file()
    if "kaggle_leaderboard" in options:
        assert (tmp_path / "a-review" / "reconciliation.csv").is_file()
        assert "marked late by the LMS (its time is unknown)" in {f.reason for f in first.flags}
        assert "staff" in (tmp_path / "a-out" / "leaderboard.csv").read_text()
    if options.get("public_details"):
        assert (tmp_path / "a-out" / "reports").is_dir()
        assert "confusion_matrix" in (tmp_path / "a-out" / "reports" / "s00.json").read_text()


def test_the_final_board_does_change_with_the_private_labels(tmp_path):
    """The same comparison under --final differs: the property test can fail."""
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(10), N_TEST // 10)[rng.permutation(N_TEST)]
    public = np.zeros(N_TEST, bool)
    public[::3] = True
    shuffled = labels.copy()
    private_rows = np.flatnonzero(~public)
    shuffled[private_rows] = labels[rng.permutation(private_rows)]
    subs = cohort(tmp_path, labels, 3)
    run_with(tmp_path, subs, write_solution(tmp_path / "a", labels, public), "a", {"final": True})
    run_with(tmp_path, subs, write_solution(tmp_path / "b", shuffled, public), "b", {"final": True})
    assert contents(tmp_path / "a-out") != contents(tmp_path / "b-out")


def test_per_class_tables_are_opt_in(tmp_path):
    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(10), N_TEST // 10)[rng.permutation(N_TEST)]
    public = np.zeros(N_TEST, bool)
    public[::3] = True
    subs = cohort(tmp_path, labels, 4)
    solution = write_solution(tmp_path / "a", labels, public)
    run_with(tmp_path, subs, solution, "plain", {})
    run_with(tmp_path, subs, solution, "details", {"public_details": True})
    plain, details = tmp_path / "plain-out", tmp_path / "details-out"
    assert sorted(p.name for p in plain.iterdir()) == [
        ".grader-board",
        "index.html",
        "leaderboard.csv",
        "leaderboard.md",
        "scores.csv",
    ]
    page = (plain / "index.html").read_text()
    assert "<details" not in page and "Confusion matrix" not in page
    assert "Confusion matrix" in (details / "index.html").read_text()
    report = (details / "reports" / "s00.json").read_text()
    assert '"public"' in report and '"private"' not in report and '"all"' not in report
