"""The fresh-image check (grader.stats.fresh): its line, its threshold, simulated classes,
the 30 published models, and what grader score writes of it."""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from grader.bundle.files import CIFAR10_CLASSES
from grader.core.errors import UsageError
from grader.score.options import ScoreOptions
from grader.score.pipeline import score_submissions
from grader.stats.fresh import FreshRow, line_test, z_threshold
from tests.helpers import ROOT, grader

NORMAL = NormalDist()
FIXTURE = ROOT / "benchmarks" / "data" / "cifar101_predictions.npz"


def on_line(accuracy: float, intercept: float = -0.3, slope: float = 0.83) -> float:
    return NORMAL.cdf(intercept + slope * NORMAL.inv_cdf(accuracy))


# ----------------------------------------------------------------------------
# The rule, on hand-made classes
# ----------------------------------------------------------------------------


def test_the_threshold_grows_with_the_class_so_honest_classes_rarely_see_a_flag():
    # max(3, the z whose one-sided normal tail is 0.01 / files)
    assert z_threshold(2) == 3.0
    assert z_threshold(10) == pytest.approx(3.0902, abs=1e-4)
    assert z_threshold(30) == pytest.approx(3.4029, abs=1e-4)
    assert z_threshold(100) == pytest.approx(3.7190, abs=1e-4)


def exact_class(accuracies, images: int = 100_000):
    """Right answers of files exactly on probit(fresh) = -0.3 + 0.83 probit(original)."""
    accuracies = np.asarray(accuracies)
    fresh = np.array([on_line(a) for a in accuracies])
    return np.round(accuracies * images), np.round(fresh * images)


def test_files_on_a_line_get_its_slope_intercept_and_expected_accuracy():
    original, fresh = exact_class(np.linspace(0.6, 0.96, 13))
    line, _, z = line_test(original, 100_000, fresh, 100_000)
    assert line.slope == pytest.approx(0.83, abs=1e-3)
    assert line.intercept == pytest.approx(-0.3, abs=1e-3)
    # By hand: probit(0.9) = 1.28155; -0.3 + 0.83 x 1.28155 = 0.76369; Phi(0.76369) = 0.77747.
    assert line.expected(0.9) == pytest.approx(0.77747, abs=1e-4)
    assert np.abs(z).max() < 0.5
    assert line.spread == 0.03  # no scatter beyond binomial noise: the floor


def test_a_lookup_falls_below_the_line_and_its_reason_says_by_how_much():
    original, fresh = exact_class(np.linspace(0.6, 0.96, 13), images=10_000)
    # A file of a 0.80 model that took answers from the key up to 0.95 on the original
    # images; its fresh accuracy stays the 0.80 model's, Phi(-0.3 + 0.83 x 0.84162) = 0.6549.
    original = np.append(original, 9500)
    fresh = np.append(fresh, round(on_line(0.80) * 10_000))
    _, expected, z = line_test(original, 10_000, fresh, 10_000)
    # Files of 0.95 on the original get Phi(-0.3 + 0.83 x 1.64485) = 0.8566.
    assert expected[-1] == pytest.approx(0.8566, abs=2e-3)
    assert z[-1] > 10 and np.abs(z[:-1]).max() < 1
    row = FreshRow("cheat", "cheat.csv", 0.95, 0.6549, float(expected[-1]), float(z[-1]), True)
    assert row.reason == (
        f"95.0% on the original test images, 65.5% on the fresh ones, where files of that "
        f"accuracy get 85.7% (z = {z[-1]:.1f}): consistent with a lookup of the public "
        "CIFAR-10 labels"
    )
    assert row.p_value < 1e-20


def test_the_line_is_fitted_robustly_lookups_do_not_drag_it():
    rng = np.random.default_rng(5)
    honest = rng.uniform(0.6, 0.95, 12)
    cheats = rng.uniform(0.65, 0.85, 5)
    original = np.concatenate([honest, cheats + (1 - cheats) * 0.7])  # 70% of errors fixed
    fresh = np.array([on_line(a) for a in np.concatenate([honest, cheats])])
    o = rng.binomial(7000, original)
    f = rng.binomial(2000, fresh)
    line, _, z = line_test(o, 7000, f, 2000)
    threshold = z_threshold(len(z))
    assert (z[:12] < threshold).all()
    assert (z[12:] >= threshold).all()
    assert line.intercept == pytest.approx(-0.3, abs=0.05)


def test_edge_files_right_on_all_or_none_and_a_class_of_identical_files():
    _, expected, z = line_test(np.array([0, 7000] * 5), 7000, np.array([0, 2000] * 5), 2000)
    assert np.isfinite(z).all() and np.isfinite(expected).all()
    same, _, z = line_test(np.full(10, 6000), 7000, np.full(10, 1500), 2000)
    assert same.slope == 0.83 and same.class_slope is None  # the reference slope
    assert np.abs(z).max() < 1e-9


# ----------------------------------------------------------------------------
# Simulated classes: honest files on a line with realistic noise, 2,000 fresh images
# ----------------------------------------------------------------------------


def simulated_class(rng, files: int):
    """A class's right answers on 7,000 original Private and 2,000 fresh images: a line of
    random slope and intercept (around the 30 published models' 0.83 and -0.29), each
    file's own deviation from it (sd 0.035 probit, more than the 0.026 those models show:
    benchmarks/bench_fresh.py), then binomial noise."""
    slope, intercept = rng.uniform(0.7, 1.0), rng.uniform(-0.45, -0.15)
    x = rng.uniform(NORMAL.inv_cdf(0.55), NORMAL.inv_cdf(0.97), files)
    y = intercept + slope * x + rng.normal(0, 0.035, files)
    original = np.array([NORMAL.cdf(v) for v in x])
    return original, rng.binomial(7000, original), rng.binomial(2000, [NORMAL.cdf(v) for v in y])


def test_no_false_flag_in_20_simulated_classes_and_their_lookups_are_flagged():
    rng = np.random.default_rng(20)
    false_flags, caught, lookups = 0, 0, 0
    for _ in range(20):
        files = int(rng.integers(10, 61))
        accuracy, original, fresh = simulated_class(rng, files)
        # Three students who took 70% of their errors' answers from the key: files of
        # models under 90% (above it a 70% fix moves the accuracy too little to see).
        weak = np.flatnonzero(accuracy < 0.9)
        cheats = rng.choice(weak, min(3, len(weak)), replace=False)
        fixed = original[cheats] + rng.binomial(7000 - original[cheats], 0.7)
        _, _, z = line_test(np.append(original, fixed), 7000, np.append(fresh, fresh[cheats]), 2000)
        threshold = z_threshold(len(z))
        false_flags += int((z[:files] >= threshold).sum())
        caught += int((z[files:] >= threshold).sum())
        lookups += len(cheats)
    assert false_flags == 0
    assert caught == lookups > 40


def test_in_big_classes_a_fixed_z_of_3_would_flag_honest_students_often():
    """Why the threshold grows with the class: 200 classes of 150 honest files."""
    rng = np.random.default_rng(150)
    with_flag_rule = with_flag_z3 = 0
    for _ in range(200):
        _, original, fresh = simulated_class(rng, 150)
        _, _, z = line_test(original, 7000, fresh, 2000)
        with_flag_rule += bool((z >= z_threshold(150)).any())
        with_flag_z3 += bool((z >= 3).any())
    assert with_flag_rule <= 4  # ALPHA = 1% of 200: 2 expected (2 seen)
    assert with_flag_z3 >= 20  # 31 seen (grader/stats/fresh.py)


# ----------------------------------------------------------------------------
# grader score on the 30 published models (original test set and CIFAR-10.1 v6)
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def write_competition(root: Path, data) -> tuple[Path, np.ndarray]:
    """A solution of the 10,000 original test images (30% Public) then the 2,000 fresh
    ones (Private), listed in fresh.csv; returns it and the labels by row."""
    private = root / "private"
    private.mkdir(parents=True, mode=0o700)
    labels = np.concatenate([data["original_labels"], data["fresh_labels"]]).astype(int)
    public = np.zeros(12_000, bool)
    public[:10_000] = np.arange(10_000) % 10 < 3
    (private / "solution.csv").write_text(
        "id,label,Usage\n"
        + "".join(
            f"{i},{CIFAR10_CLASSES[y]},{'Public' if p else 'Private'}\n"
            for i, (y, p) in enumerate(zip(labels, public, strict=True))
        )
    )
    (private / "fresh.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(10_000, 12_000)))
    return private / "solution.csv", labels


def write_file(path: Path, predicted: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{i},{CIFAR10_CLASSES[c]}\n" for i, c in enumerate(predicted))
    path.write_text("id,label\n" + rows)


@pytest.fixture(scope="module")
def published_class(published, tmp_path_factory):
    """The 30 models as students (one as --staff), and AlexNet with half of its original
    errors replaced by the true labels, submitting its own fresh predictions."""
    root = tmp_path_factory.mktemp("published")
    solution, labels = write_competition(root, published)
    subs = root / "subs"
    for name, original, fresh in zip(
        published["names"], published["original"], published["fresh"], strict=True
    ):
        write_file(subs / f"{name}.csv", np.concatenate([original, fresh]))
    alexnet = list(published["names"]).index("alexnet_tf_ben")
    cheat = published["original"][alexnet].astype(int)
    wrong = np.flatnonzero(cheat != labels[:10_000])
    fixed = np.random.default_rng(0).choice(wrong, len(wrong) // 2, replace=False)
    cheat[fixed] = labels[fixed]
    write_file(subs / "cheat.csv", np.concatenate([cheat, published["fresh"][alexnet]]))
    return root, subs, solution


def score(root: Path, subs: Path, solution: Path, name: str, *flags: str):
    out = root / name
    result = grader(
        "score", str(subs), "--solution", str(solution), "--out", str(out),
        "--review", str(root / f"{name}.review"), "--history", str(root / f"{name}.sqlite"),
        "--staff", "cudaconvnet", *flags,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result, out, root / f"{name}.review"


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_grader_score_flags_the_partial_lookup_and_no_published_model(published_class):
    root, subs, solution = published_class
    result, out, review = score(root, subs, solution, "on")
    assert (
        "Fresh-image check: 1 of 30 ranked files flagged as far below the class's line on "
        "the 2,000 fresh images (z >= 3.40; advice only: ranks and grades are unchanged; "
        "fresh.csv in the review folder)." in result.stdout
    )
    with (review / "fresh.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "participant",
        "file",
        "original_accuracy",
        "fresh_accuracy",
        "expected_fresh_accuracy",
        "z",
        "flagged",
    ]
    assert len(rows) == 30  # 31 ranked files, the staff one helps to fit but is no suspect
    assert "cudaconvnet" not in {r["participant"] for r in rows}
    assert [r["participant"] for r in rows if r["flagged"] == "yes"] == ["cheat"]
    cheat = next(r for r in rows if r["participant"] == "cheat")
    assert cheat["fresh_accuracy"] == "0.6920"  # AlexNet's own, 1,384 of 2,000
    assert float(cheat["original_accuracy"]) - float(cheat["expected_fresh_accuracy"]) < 0.15
    assert float(cheat["z"]) > 6
    with (review / "flags.csv").open() as f:
        flags = [r for r in csv.DictReader(f) if r["kind"] == "fresh-gap"]
    assert [(r["participants"], r["files"]) for r in flags] == [("cheat", "cheat.csv")]
    assert flags[0]["reason"].startswith(
        f"{float(cheat['original_accuracy']):.1%} on the original test images, 69.2% on the "
        "fresh ones, where files of that accuracy get "
    )
    assert (
        "| `fresh.csv` | the fresh-image check per ranked file"
        in (review / "README.md").read_text()
    )
    assert not (out / "fresh.csv").exists()


@pytest.mark.slow
def test_the_board_is_byte_identical_with_and_without_the_check(published_class):
    root, subs, solution = published_class
    _, on, _ = score(root, subs, solution, "with")
    result_off, off, review_off = score(root, subs, solution, "without", "--no-fresh-check")
    assert contents(on) == contents(off)
    assert not (review_off / "fresh.csv").exists()
    assert "Fresh-image check: off (--no-fresh-check)." in result_off.stdout
    with (review_off / "flags.csv").open() as f:
        assert "fresh-gap" not in {r["kind"] for r in csv.DictReader(f)}
    # and with no fresh.csv at all (a bundle built without --fresh): no line, same board
    plain = root / "plain"
    plain.mkdir(mode=0o700)
    (plain / "solution.csv").write_bytes(solution.read_bytes())
    result_plain, board, _ = score(root, subs, plain / "solution.csv", "plain-board")
    assert contents(board) == contents(on)
    assert "Fresh-image check" not in result_plain.stdout


def test_too_few_files_skip_the_check_and_say_so(published, tmp_path):
    solution, _ = write_competition(tmp_path, published)
    subs = tmp_path / "subs"
    for name, original, fresh in list(
        zip(published["names"], published["original"], published["fresh"], strict=True)
    )[:9]:
        write_file(subs / f"{name}.csv", np.concatenate([original, fresh]))
    result = grader(
        "score", str(subs), "--solution", str(solution), "--out", str(tmp_path / "out"),
        "--review", str(tmp_path / "review"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "Fresh-image check: skipped, 9 ranked file(s); it needs at least 10 to fit the line "
        "of fresh-image against original accuracy." in result.stdout
    )
    assert not (tmp_path / "review" / "fresh.csv").exists()


def test_a_fresh_csv_that_does_not_fit_the_solution_is_a_usage_error(published, tmp_path):
    solution, _ = write_competition(tmp_path, published)
    (solution.parent / "fresh.csv").write_text("id\n0\n")  # row 0 is Public
    (tmp_path / "subs").mkdir()
    with pytest.raises(UsageError) as caught:
        score_submissions(
            ScoreOptions(folder=tmp_path / "subs", solution=solution, out=tmp_path / "out")
        )
    assert str(caught.value) == (
        f"--solution: {solution.parent / 'fresh.csv'} line 2: id 0 is Public in solution.csv; "
        "fresh images are all Private. It must list the fresh images that `grader prepare "
        "--fresh` added; rebuild the bundle."
    )
    assert not (tmp_path / "out").exists()
