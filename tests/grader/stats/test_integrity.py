"""The near-identical check: exact (it finds what comparing every pair finds) and not
quadratic (it compares few pairs). The reference here compares every pair, image by image."""

from __future__ import annotations

import csv
import hashlib
import os

import numpy as np
import pytest

from grader.stats.integrity import MIN_SHARED_ERRORS, near_identical_pairs
from tests.helpers import review_of, score_cli
from tests.scoring_fixtures import solution_rows, write_predictions

N_TEST = 2_000


def every_pair(predicted: np.ndarray, labels: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The rule, pair by pair: the same wrong class on >= 90% of the images either gets
    wrong, and on at least 30 of them."""
    wrong = predicted != labels
    found = []
    for i in range(len(predicted)):
        for j in range(i + 1, len(predicted)):
            either = int((wrong[i] | wrong[j]).sum())
            same = int(((predicted[i] == predicted[j]) & wrong[i]).sum())
            if same >= MIN_SHARED_ERRORS and 10 * same >= 9 * either:
                found.append((i, j, same, either))
    return found


def honest(rng, labels, n_files, skill_low=-1.0, skill_high=3.0):
    """Files of models of varied skill that share hard images and the usual confusions."""
    difficulty = rng.normal(0, 1.5, len(labels))
    partner = (labels + rng.integers(1, 10, len(labels))) % 10  # the usual wrong class
    files = []
    for skill in rng.uniform(skill_low, skill_high, n_files):
        wrong = rng.random(len(labels)) < 1 / (1 + np.exp(skill - difficulty))
        other = (labels + rng.integers(1, 10, len(labels))) % 10
        guess = np.where(rng.random(len(labels)) < 0.7, partner, other)
        files.append(np.where(wrong, guess, labels))
    return files


def edited(rng, labels, base, fixes=0, new_errors=0, new_classes=0):
    """`base` with some errors fixed, some right rows made wrong, some wrong classes changed."""
    copy = base.copy()
    wrong, right = np.flatnonzero(base != labels), np.flatnonzero(base == labels)
    picked = rng.choice(wrong, fixes + new_classes, replace=False)
    copy[picked[:fixes]] = labels[picked[:fixes]]
    changed = picked[fixes:]
    copy[changed] = (base[changed] + rng.integers(1, 9, len(changed))) % 10
    copy[changed] = np.where(
        copy[changed] == labels[changed], (copy[changed] + 1) % 10, copy[changed]
    )
    added = rng.choice(right, new_errors, replace=False)
    copy[added] = (labels[added] + rng.integers(1, 10, new_errors)) % 10
    return copy


def cohort(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Honest files plus copies edited on both sides of the 90% line."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, N_TEST)
    files = honest(rng, labels, 25)
    for base in list(files[:12]):
        a = int((base != labels).sum())
        if a < MIN_SHARED_ERRORS + 5:
            continue
        k = a // 9  # the most new errors a flagged copy can have: either = a + k
        files.append(edited(rng, labels, base, new_errors=k))
        files.append(edited(rng, labels, base, new_errors=k + 1))
        files.append(edited(rng, labels, base, fixes=a // 10))
        files.append(edited(rng, labels, base, fixes=a // 10 + 1))
        files.append(edited(rng, labels, base, fixes=a // 30, new_classes=a // 30))
    order = rng.permutation(len(files))
    return np.stack(files)[order].astype(np.int16), labels


@pytest.mark.parametrize("seed", range(6))
def test_finds_exactly_what_comparing_every_pair_finds(seed):
    predicted, labels = cohort(seed)
    expected = every_pair(predicted, labels)
    found = near_identical_pairs(predicted, labels)
    assert sorted(found.pairs) == expected
    assert len(expected) >= 12  # the cohort does hold flagged copies


def test_the_ninety_percent_line_is_exact():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 10, N_TEST)
    base = labels.copy()
    base[:100] = (labels[:100] + 1) % 10  # 100 errors
    files = [
        base,
        edited(rng, labels, base, fixes=10),  # same 90 of either 100: flagged
        edited(rng, labels, base, fixes=11),  # 89 of 100: not
        edited(rng, labels, base, new_errors=11),  # 100 of 111: flagged (90.09%)
        edited(rng, labels, base, new_errors=12),  # 100 of 112: not (89.3%)
    ]
    found = near_identical_pairs(np.stack(files), labels)
    flagged = {(i, j): (same, either) for i, j, same, either in found.pairs}
    assert flagged[(0, 1)] == (90, 100)
    assert flagged[(0, 3)] == (100, 111)
    assert (0, 2) not in flagged and (0, 4) not in flagged


def test_few_shared_errors_are_not_enough():
    labels = np.zeros(N_TEST, np.int16)
    a = labels.copy()
    a[: MIN_SHARED_ERRORS - 1] = 3
    found = near_identical_pairs(np.stack([a, a.copy()]), labels)
    assert found.pairs == [] and found.compared == 0


def test_three_hundred_files_cost_few_comparisons_not_every_pair():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, 10_000)
    files = honest(rng, labels, 240, skill_low=-1.5, skill_high=4.0)
    files += [
        np.where(rng.random(10_000) < accuracy, labels, rng.integers(0, 10, 10_000))
        for accuracy in np.linspace(0.15, 0.97, 50)
    ]
    files += [edited(rng, labels, files[k], fixes=5, new_errors=5) for k in range(0, 100, 10)]
    predicted = np.stack(files).astype(np.int16)
    found = near_identical_pairs(predicted, labels)
    every = len(files) * (len(files) - 1) // 2  # 44,850
    assert len(files) == 300
    # Comparing every pair would cost 44,850; a quadratic step fails here.
    assert found.compared <= 3 * len(files), found.compared
    assert {(i, j) for i, j, _, _ in found.pairs} >= {(k, 290 + k // 10) for k in range(0, 100, 10)}
    assert every == 44_850


def test_many_copies_of_one_file_cost_one_search():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 10, N_TEST)
    copied = edited(rng, labels, labels, new_errors=300)
    files = [copied] * 40 + honest(rng, labels, 20)
    found = near_identical_pairs(np.stack(files).astype(np.int16), labels)
    pairs = {(i, j) for i, j, _, _ in found.pairs}
    assert {(i, j) for i in range(40) for j in range(i + 1, 40)} <= pairs  # 780 pairs
    assert found.compared <= 20  # the 40 copies were searched as one file
    assert sorted(found.pairs) == every_pair(np.stack(files).astype(np.int16), labels)


def other_class(label: str) -> str:
    return "ship" if label != "ship" else "frog"


def test_integrity_flags_name_the_files_and_say_why(competition, tmp_path):
    rows = solution_rows(competition)
    ids = [int(r["id"]) for r in rows]
    subs = tmp_path / "subs"
    write_predictions(subs / "ann.csv", rows, wrong=set(ids[:35]))  # swaps cat <-> dog
    write_predictions(subs / "ben.csv", rows, wrong=set(ids[:36]))  # the same wrong classes
    lines = (
        ["id,label"]
        + [  # wrong on the same images, but with other classes
            f"{r['id']},{other_class(r['label']) if int(r['id']) in ids[:35] else r['label']}"
            for r in rows
        ]
    )
    (subs / "cy.csv").write_text("\n".join(lines) + "\n")
    write_predictions(subs / "dee.csv", rows, wrong=set())
    (subs / "eve.csv").write_bytes((subs / "dee.csv").read_bytes())
    for name, stamp in (
        ("ann", 1_790_000_000),
        ("ben", 1_790_000_100),
        ("cy", 1_790_000_200),
        ("dee", 1_790_000_300),
        ("eve", 1_795_000_000),
    ):
        os.utime(subs / f"{name}.csv", (stamp, stamp))
    out = tmp_path / "board"
    result = score_cli(
        subs,
        competition,
        out,
        "--deadline",
        "2026-11-01T00:00:00+01:00",
    )
    assert result.returncode == 0, result.stderr
    assert not (out / "flags.csv").exists()  # flags use Private rows: review only
    with (review_of(out) / "flags.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["kind", "participants", "files", "reason", "p_value"]
    assert [(r["participants"], r["p_value"]) for r in rows] == [
        ("dee | eve", ""),
        ("ann | ben", ""),
        ("dee", ""),
        ("eve", ""),
        ("eve", ""),
    ]
    flags = [(r["kind"], r["files"], r["reason"]) for r in rows]
    digest = hashlib.sha256((subs / "dee.csv").read_bytes()).hexdigest()
    assert flags == [
        (
            "identical",
            "dee.csv | eve.csv",
            f"byte-identical files (sha256 {digest[:12]}...) from 2 participants",
        ),
        (
            "near-identical",
            "ann.csv | ben.csv",
            "the same wrong class on 35 of the 36 test images either file gets wrong "
            "(flagged from 90%)",
        ),
        (
            "implausible",
            "dee.csv",
            "public accuracy 100.00% is at or above 99%; CIFAR-10's "
            "test labels are public, so check the code behind it",
        ),
        (
            "implausible",
            "eve.csv",
            "public accuracy 100.00% is at or above 99%; CIFAR-10's "
            "test labels are public, so check the code behind it",
        ),
        (
            "late",
            "eve.csv",
            "submitted 2026-11-18T11:06:40+00:00, after the deadline 2026-11-01T00:00:00+01:00",
        ),
    ]
    assert "Flags for review (5; in the review folder's flags.csv):" in result.stdout
