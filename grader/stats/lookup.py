"""The lookup detector: files whose right and wrong answers do not fit their accuracy.

CIFAR-10's test labels are public, so a student can submit them with a few deliberate
errors. No threshold on accuracy separates that from a good model; *which* images are
wrong does. Every honest model fails most on a shared core of hard images and is
right on the easy ones; a lookup with injected errors is wrong on easy images and
right on the hard ones at the same rate.

For each ranked file, leaving that file out:

* each test image's easiness is the share of the *other* ranked files right on it
  (smoothed: (right + 0.5) / files); the hardest images are the 10% least often
  right, the easiest the 50% most often right (more where images tie);
* "files of its accuracy" are described by a one-parameter logistic model (Rasch):
  P(right on image j) = sigmoid(ability + logit(easiness_j)), with the ability that
  gives the file's own number of right answers. Its expected right answers on the
  hardest images and wrong answers on the easiest follow, with their variances;
* the file is flagged when it is wrong on the easiest images far more often,
  *and* on the hardest far less often, than that model expects: at least
  `EASY_RATIO` (1.4) times the expected wrong answers on the easiest, at most
  `HARD_RATIO` (0.75) times the expected wrong answers on the hardest, and both
  differences significant (one-sided z-scores at least `Z_FLAG`, 3; the p-value
  shown is the larger of the two normal tail probabilities). The ratios, not the
  z-scores alone, decide: with 10,000 images, honest models that the model fits
  only roughly (a near-chance file, an unusual architecture) give large z-scores,
  but not these ratios.

The flag is advice for the TA, in the review folder only (it uses Private rows); it
never changes a rank or a grade. On the evidence of benchmarks/bench_lookup.py (22
real models trained at CPU scale, 17-52% accuracy, and 14 strong files from an error
model calibrated on them) it flags no honest file, every lookup built from true labels
or from the real files, and none of the partial lookups built from the error model's
strong files, which look exactly like stronger honest models (docs/score.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grader.stats.integrity import Flag

MIN_FILES = 15  # fewer ranked files: difficulty cannot be estimated; the check is skipped
HARDEST = 0.10
EASIEST = 0.50
Z_FLAG = 3.0  # both z-scores at least this (one-sided normal tail at most 0.0013)
EASY_RATIO = 1.4  # wrong on the easiest at least 1.4 x as often as expected
HARD_RATIO = 0.75  # and wrong on the hardest at most 0.75 x as often as expected
CHUNK = 64  # files at once (bounds memory at 5,000 files)
ABILITY_STEPS = 10
SLOPE_STEPS = 10
SLOPE_FILES = 128


@dataclass(frozen=True)
class LookupRow:
    """One row of review/lookup.csv: what one ranked file did and what was expected."""

    participant: str
    file: str
    accuracy: float
    right_on_hardest: int
    expected_right_on_hardest: float
    wrong_on_easiest: int
    expected_wrong_on_easiest: float
    hardest: int  # how many images are "the hardest"
    easiest: int
    p_value: float
    flagged: bool

    @property
    def reason(self) -> str:
        """The plain reason shown for a flagged file."""
        return (
            f"right on {self.right_on_hardest / self.hardest:.0%} of the hardest images where "
            f"files of its accuracy get {self.expected_right_on_hardest / self.hardest:.0%}, "
            f"and wrong on {self.wrong_on_easiest / self.easiest:.1%} of the easiest where "
            f"they get {self.expected_wrong_on_easiest / self.easiest:.1%}: consistent with "
            "a lookup of the public CIFAR-10 labels"
        )


def lookup_flags(rows: list[LookupRow]) -> list[Flag]:
    """A flag (kind "lookup") for each flagged row."""
    return [
        Flag(
            kind="lookup",
            participants=(r.participant,),
            files=(r.file,),
            reason=r.reason,
            p_value=r.p_value,
        )
        for r in rows
        if r.flagged
    ]


def lookup_rows(board, labels: np.ndarray) -> list[LookupRow] | None:
    """The check for every ranked file of `board`, in board order; None when fewer than
    MIN_FILES files are ranked. Staff files (--staff) help to tell which images are
    hard but are never suspects: they get no row."""
    rows = [row for row in board if row.entry.predicted is not None]
    if len(rows) < MIN_FILES:
        return None
    correct = np.stack([row.entry.predicted == labels for row in rows])
    found = lookup_statistics(correct)
    return [
        LookupRow(participant=row.participant, file=row.entry.file, **stats)
        for row, stats in zip(rows, found, strict=True)
        if not row.staff
    ]


def lookup_statistics(correct: np.ndarray) -> list[dict]:
    """For each row of `correct` (files x images, bool), LookupRow's numbers by field:
    accuracy, right on hardest, expected, wrong on easiest, expected, hardest, easiest,
    p_value, flagged."""
    stats = statistics(correct)
    p_value, flagged = decide(stats)
    columns = {
        "accuracy": (float, stats["accuracy"]),
        "right_on_hardest": (int, stats["right_hard"]),
        "expected_right_on_hardest": (float, stats["expected_right"]),
        "wrong_on_easiest": (int, stats["wrong_easy"]),
        "expected_wrong_on_easiest": (float, stats["expected_wrong"]),
        "hardest": (int, stats["n_hard"]),
        "easiest": (int, stats["n_easy"]),
        "p_value": (float, p_value),
        "flagged": (bool, flagged),
    }
    return [
        {name: kind(column[i]) for name, (kind, column) in columns.items()}
        for i in range(len(correct))
    ]


def statistics(correct: np.ndarray) -> dict[str, np.ndarray]:
    """Per file (row of `correct`): accuracy; right answers on its hardest images, their
    expectation and variance under the model; the same for wrong answers on the easiest;
    the sizes of both sets; the z-scores.

    An image's leave-one-out easiness can take only n values (k of the n - 1 other files
    right, k = 0 .. n - 1), so every sum over images is a sum over k, weighted by how
    many images have each k: a file costs one histogram of its images, not a pass over
    them per Newton step.
    """
    n, m = correct.shape
    right_per_image = correct.sum(axis=0)
    easiness = (np.arange(n) + 0.5) / n
    logit = np.log(easiness) - np.log1p(-easiness)  # per k
    # The class's slope: how sharply a file's chance of being right grows with easiness
    # (the median over at most SLOPE_FILES files, evenly spread over the board).
    sample = np.unique(np.linspace(0, n - 1, min(n, SLOPE_FILES)).round().astype(int))
    images, right = _histograms(correct[sample], right_per_image, n)
    slope = float(np.median(_slopes(logit, images, right)))
    found: dict[str, list] = {}
    for lo in range(0, n, CHUNK):
        part = correct[lo : lo + CHUNK]
        images, right = _histograms(part, right_per_image, n)  # (files, n) each
        x = slope * logit
        p = _sigmoid(_ability(x, images, part.sum(axis=1))[:, None] + x[None, :])
        k = np.arange(n)[None, :]
        hard = k <= _cut(images, HARDEST * m, lowest=True)[:, None]
        easy = k >= _cut(images, EASIEST * m, lowest=False)[:, None]
        variance = images * p * (1 - p)
        values = {
            "accuracy": part.mean(axis=1),
            "n_hard": (images * hard).sum(axis=1),
            "n_easy": (images * easy).sum(axis=1),
            "right_hard": (right * hard).sum(axis=1),
            "wrong_easy": ((images - right) * easy).sum(axis=1),
            "expected_right": (images * p * hard).sum(axis=1),
            "expected_wrong": (images * (1 - p) * easy).sum(axis=1),
            "variance_hard": (variance * hard).sum(axis=1),
            "variance_easy": (variance * easy).sum(axis=1),
        }
        for name, value in values.items():
            found.setdefault(name, []).append(value)
    stats = {name: np.concatenate(parts) for name, parts in found.items()}
    stats["z_hard"] = _z(stats["right_hard"], stats["expected_right"], stats["variance_hard"])
    stats["z_easy"] = _z(stats["wrong_easy"], stats["expected_wrong"], stats["variance_easy"])
    return stats


def _histograms(
    part: np.ndarray, right_per_image: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per file of `part`: how many images have k other files right on them (k = 0 ..
    n - 1), and on how many of those the file itself is right."""
    rows = len(part)
    others = right_per_image[None, :] - part  # leave-one-out
    codes = (others + n * np.arange(rows)[:, None]).ravel()
    images = np.bincount(codes, minlength=rows * n).reshape(rows, n)
    right = np.bincount(codes, weights=part.ravel(), minlength=rows * n).reshape(rows, n)
    return images.astype(np.float64), right


def decide(stats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(p_value, flagged) per file from `statistics`: the rule of the module docstring."""
    z = np.minimum(stats["z_hard"], stats["z_easy"])
    missed = stats["n_hard"] - stats["right_hard"]
    expected_missed = stats["n_hard"] - stats["expected_right"]
    flagged = (
        (z >= Z_FLAG)
        & (stats["wrong_easy"] >= EASY_RATIO * stats["expected_wrong"])
        & (missed <= HARD_RATIO * expected_missed)
    )
    p_value = 0.5 * np.array([math.erfc(v / math.sqrt(2)) for v in z])
    return p_value, flagged


def _slopes(x: np.ndarray, images: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per file, the slope b of a logistic fit P(right | easiness k) = sigmoid(a + b x_k)
    to `right` of `images` per k, by Newton's method on the two parameters (steps
    capped; a file right on all or none gets 0)."""
    a, b = np.zeros(len(images)), np.ones(len(images))
    for _ in range(SLOPE_STEPS):
        p = _sigmoid(a[:, None] + b[:, None] * x[None, :])
        residual, w = right - images * p, images * p * (1 - p)
        g_a, g_b = residual.sum(axis=1), (residual * x).sum(axis=1)
        h_aa, h_ab, h_bb = w.sum(axis=1), (w * x).sum(axis=1), (w * x * x).sum(axis=1)
        det = np.maximum(h_aa * h_bb - h_ab**2, 1e-12)
        a += np.clip((h_bb * g_a - h_ab * g_b) / det, -2, 2)
        b += np.clip((h_aa * g_b - h_ab * g_a) / det, -2, 2)
    total, hits = images.sum(axis=1), right.sum(axis=1)
    return np.where((hits == 0) | (hits == total), 0.0, b)


def _cut(images: np.ndarray, size: float, lowest: bool) -> np.ndarray:
    """Per file, the k that takes at least `size` images from the bottom (lowest) or the
    top of its histogram, ties included."""
    n = images.shape[1]
    if lowest:
        return np.argmax(np.cumsum(images, axis=1) >= size, axis=1)
    from_top = np.cumsum(images[:, ::-1], axis=1) >= size
    return n - 1 - np.argmax(from_top, axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _z(observed: np.ndarray, expected: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """One-sided z-scores of counts above their expectation (continuity-corrected)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed - 0.5 - expected) / np.sqrt(variance)
    return np.where(variance > 0, z, np.where(observed > expected, np.inf, 0.0))


def _ability(x: np.ndarray, images: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per file, the ability a with sum_k images_k sigmoid(a + x_k) = right, by Newton's
    method (the sum grows with a; steps of at most 2); for files right on none or all
    images, the value for half an image."""
    m = images.sum(axis=1)
    target = np.clip(right, 0.5, m - 0.5)
    ability = np.log(target / (m - target)) - (images * x).sum(axis=1) / m
    for _ in range(ABILITY_STEPS):
        p = _sigmoid(ability[:, None] + x[None, :])
        slope = np.maximum((images * p * (1 - p)).sum(axis=1), 1e-12)
        ability += np.clip((target - (images * p).sum(axis=1)) / slope, -2, 2)
    return ability
