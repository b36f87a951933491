"""The lookup detector: its model, its evidence (real predictions from the fixture) and
what grader score shows of it."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.lookup_evidence import FIXTURE, build
from grader.bundle.files import CIFAR10_CLASSES
from grader.stats.lookup import MIN_FILES, decide, statistics
from tests.helpers import grader, review_of


@pytest.fixture(scope="module")
def evidence():
    return build(FIXTURE)


def test_the_model_expects_exactly_each_files_number_of_right_answers():
    rng = np.random.default_rng(0)
    hardness = rng.normal(0, 1.5, 2000)
    correct = np.stack(
        [rng.random(2000) < 1 / (1 + np.exp(-(s - hardness))) for s in np.linspace(-1, 3, 20)]
    )
    stats = statistics(correct)
    # Hardest and easiest sets hold at least 10% and 50% of the images (more where tied).
    assert (stats["n_hard"] >= 200).all() and (stats["n_easy"] >= 1000).all()
    assert (stats["right_hard"] <= stats["n_hard"]).all()
    # Files from the model the check assumes are not flagged.
    assert not decide(stats)[1].any()


def test_a_file_is_judged_against_the_others_only():
    rng = np.random.default_rng(1)
    correct = rng.random((20, 3000)) < np.linspace(0.3, 0.9, 20)[:, None]
    before = statistics(correct)
    changed = correct.copy()
    changed[5] = ~changed[5]  # one file changes: its own hardness sets do not move
    after = statistics(changed)
    others = [i for i in range(20) if i != 5]
    assert (after["n_hard"][5], after["n_easy"][5]) == (before["n_hard"][5], before["n_easy"][5])
    assert not np.array_equal(after["right_hard"][others], before["right_hard"][others])


def test_no_honest_file_of_the_evidence_is_flagged(evidence):
    honest = np.stack(list(evidence.honest.values()))
    stats = statistics(honest == evidence.labels)
    _, flagged = decide(stats)
    assert len(honest) >= 20 + 14  # real files, and strong ones from the error model
    assert not flagged.any(), [n for n, f in zip(evidence.honest, flagged, strict=True) if f]


def test_lookups_of_the_evidence_are_flagged_where_they_can_be_told_apart(evidence):
    from benchmarks.bench_lookup import KINDS, judge

    honest = np.stack(list(evidence.honest.values()))
    judged = judge(evidence.labels, honest, list(evidence.lookups.values()))
    caught = {name: bool(row["flag"]) for name, row in zip(evidence.lookups, judged, strict=True)}
    found = {
        kind: (sum(caught[n] for n in caught if match(n)), sum(1 for n in caught if match(n)))
        for kind, match in KINDS
    }
    assert found == {
        "true labels with 1-10% random errors": (18, 18),
        "a real file with 50-90% of its errors replaced by true labels": (9, 9),
        # Where it fails: the error model's strong file with errors corrected is, by
        # construction, a stronger file of the same model, not something else.
        "an error-model file with 50-90% of its errors replaced by true labels": (0, 12),
        "true labels with 3-5% errors where a real file errs": (6, 6),
    }


def write_class(root, labels, files: dict[str, np.ndarray]):
    """A competition whose solution is `labels` (30% Public), and one CSV per file."""
    private = root / "competition" / "private"
    private.mkdir(parents=True, mode=0o700)
    public = np.arange(len(labels)) % 10 < 3
    lines = [
        f"{i},{CIFAR10_CLASSES[y]},{'Public' if p else 'Private'}"
        for i, (y, p) in enumerate(zip(labels, public, strict=True))
    ]
    (private / "solution.csv").write_text("id,label,Usage\n" + "\n".join(lines) + "\n")
    subs = root / "subs"
    subs.mkdir()
    for name, predicted in files.items():
        rows = [f"{i},{CIFAR10_CLASSES[c]}" for i, c in enumerate(predicted)]
        (subs / f"{name}.csv").write_text("id,label\n" + "\n".join(rows) + "\n")
    return subs, private / "solution.csv"


def score_class(tmp_path, labels, files):
    """grader score on a class of `files`; returns the result and the board folder."""
    subs, solution = write_class(tmp_path, labels, files)
    out = tmp_path / "board"
    result = grader(
        "score", str(subs), "--solution", str(solution), "--out", str(out),
        "--review", str(review_of(out)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result, out


def test_grader_score_flags_a_lookup_for_review_and_changes_no_rank(evidence, tmp_path):
    honest = list(evidence.honest.values())[: MIN_FILES + 5]
    files = {f"student{k:02d}": p for k, p in enumerate(honest)}
    files["cheat"] = evidence.lookups["true labels, 3% random errors #0"]
    result, out = score_class(tmp_path, evidence.labels, files)
    assert (
        f"Lookup check: 1 of {len(files)} ranked files flagged as consistent with a lookup of "
        "the public CIFAR-10 labels (advice only: ranks and grades are unchanged; lookup.csv "
        "in the review folder)." in result.stdout
    )
    with (review_of(out) / "flags.csv").open() as f:
        lookups = [r for r in csv.DictReader(f) if r["kind"] == "lookup"]
    assert [(r["participants"], r["files"]) for r in lookups] == [("cheat", "cheat.csv")]
    assert lookups[0]["reason"].startswith("right on ")
    assert lookups[0]["reason"].endswith(": consistent with a lookup of the public CIFAR-10 labels")
    assert float(lookups[0]["p_value"]) < 1e-6
    with (review_of(out) / "lookup.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "participant",
        "file",
        "accuracy",
        "right_on_hardest",
        "expected_right_on_hardest",
        "hardest",
        "wrong_on_easiest",
        "expected_wrong_on_easiest",
        "easiest",
        "p_value",
        "flagged",
    ]
    assert [r["participant"] for r in rows if r["flagged"]] == ["cheat"]
    assert len(rows) == len(files)
    assert not (out / "lookup.csv").exists()  # review only: it uses Private rows
    with (out / "leaderboard.csv").open() as f:
        assert next(csv.DictReader(f))["participant"] == "cheat"  # still ranked first


def test_too_few_files_skip_the_check_and_say_so(evidence, tmp_path):
    files = {f"s{k}": p for k, p in enumerate(list(evidence.honest.values())[: MIN_FILES - 1])}
    result, out = score_class(tmp_path, evidence.labels, files)
    assert (
        f"Lookup check: skipped, {MIN_FILES - 1} ranked file(s); it needs at least {MIN_FILES} "
        "to tell which test images are hard." in result.stdout
    )
    assert not (review_of(out) / "lookup.csv").exists()
