"""The fresh-image check: files whose accuracy on new images falls below their class's line.

CIFAR-10's test labels are public, and a file that took part of them from the answer
key is more accurate than its model: no test on the labels alone tells it from a
better honest model (grader.stats.lookup catches only the cruder lookups). Fresh test
images can (`grader prepare --fresh`: images that are not in CIFAR-10, all in the
Private split). Honest models lie on a line: in probit space, a model's accuracy on
new images collected like CIFAR-10's test set is close to a linear function of its
accuracy on the original test set (Recht et al. 2018, "Do CIFAR-10 Classifiers
Generalize to CIFAR-10?", arXiv:1806.00451; for 30 published models on CIFAR-10.1 v6
the scatter about the line is under a point of accuracy: benchmarks/bench_fresh.py).
A lookup raises the original accuracy and leaves the fresh one where the model put it:
the file falls below the line.

For each ranked file (staff files help to fit the line but are never suspects):

* x = probit(accuracy on the original Private images), y = probit(accuracy on the
  fresh images) (the Private images only: the public board can be climbed by
  probing, the Private split cannot); accuracies of 0 or 1 count as half an image;
* the line y = intercept + slope x is fitted on the class's own files, robustly
  (most students are honest): the slope is the Theil-Sen estimate (the median of the
  pairwise slopes), averaged with `REFERENCE_SLOPE` (the 30 published models'
  slope) by their precisions, so a small class, or one whose accuracies lie close
  together, leans on the reference slope; the intercept is the median of y - slope x;
  the flagged files are then left out and the line fitted again, until the same files
  are left out (a few lookups in a small class would otherwise bend the line);
* the file's z-score is how far y lies below the line, over the standard deviation
  of y under the line: the binomial noise of its fresh accuracy and, through the
  slope, of its original accuracy; the honest files' own scatter about the line
  (estimated from the class's residuals by their median absolute deviation, never
  below `MIN_SPREAD`); and the uncertainty of the fitted line at its x;
* a file is flagged when z reaches the class's threshold: the larger of `Z_MIN` (3)
  and the z whose one-sided normal tail is `ALPHA` / n, for n files tested
  (Bonferroni's bound): 3.09 for 10 files, 3.40 for 30, 3.72 for 100. In 200
  simulated classes of 150 honest files (tests/grader/stats/test_fresh.py), a fixed z >= 3 flags
  someone in 31; this rule, in 2.

The check runs when the bundle has private/fresh.csv and at least `MIN_FILES` files
are ranked. It is advice for the TA, in the review folder only (it uses Private rows):
it never changes a rank or a grade. What it cannot see: a file that also found the
fresh images' labels (CIFAR-10.1's are public), and a lookup too small to move the
accuracy beyond the noise of the fresh images (docs/fresh-images.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from grader.stats.integrity import Flag

MIN_FILES = 10  # fewer ranked files: no line can be fitted; the check is skipped
Z_MIN = 3.0
ALPHA = 0.01  # the chance that any honest file of a class is flagged, at most (Bonferroni)
# The Theil-Sen slope of the 30 models whose predictions the CIFAR-10.1 authors
# published, original test set -> CIFAR-10.1 v6, probit space, Private split of
# benchmarks/bench_fresh.py (which prints it); and how far a class's own slope is
# allowed to stray from it before its own data decide (a judgement: new images of
# another kind, a TA's photos, may give another slope).
REFERENCE_SLOPE = 0.83
REFERENCE_SLOPE_SD = 0.2
# The least scatter about the line beyond binomial noise assumed, in probit units (half
# a point of accuracy at 90%), so a small class whose files happen to agree flags
# nobody: the 30 published models show 0.026 (bench_fresh.py prints it), rounded up.
MIN_SPREAD = 0.03
SLOPE_FILES = 200  # the Theil-Sen slope uses at most this many files, spread over x
REFIT_ROUNDS = 5  # fit, leave the flagged files out, fit again: at most this many fits
MAD_TO_SD = 1.4826  # the median absolute deviation of a normal sample, times this, is its sd
THEIL_SEN_EFFICIENCY = 0.91  # its variance is about 1/0.91 times least squares' (normal noise)

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Line:
    """The class's line, probit(fresh) = intercept + slope x probit(original)."""

    slope: float
    intercept: float
    spread: float  # honest files' scatter about the line beyond binomial noise (probit)
    class_slope: float | None  # the class's own Theil-Sen slope (None: x all equal)
    files: int  # files it was fitted on

    def expected(self, original_accuracy: float) -> float:
        """The fresh accuracy the line gives a file of this original accuracy."""
        return _NORMAL.cdf(self.intercept + self.slope * _NORMAL.inv_cdf(original_accuracy))


@dataclass(frozen=True)
class FreshRow:
    """One row of review/fresh.csv: a ranked file's two accuracies and what the line expects."""

    participant: str
    file: str
    original_accuracy: float  # on the original Private test images
    fresh_accuracy: float
    expected_fresh_accuracy: float
    z: float  # how many standard deviations below the line (negative: above it)
    flagged: bool  # z at or above the class's threshold (FreshCheck.threshold)

    @property
    def p_value(self) -> float:
        """The one-sided normal tail probability of z."""
        return 0.5 * math.erfc(self.z / math.sqrt(2))

    @property
    def reason(self) -> str:
        """The plain reason shown for a flagged file."""
        return (
            f"{self.original_accuracy:.1%} on the original test images, "
            f"{self.fresh_accuracy:.1%} on the fresh ones, where files of that accuracy get "
            f"{self.expected_fresh_accuracy:.1%} (z = {self.z:.1f}): consistent with a lookup "
            "of the public CIFAR-10 labels"
        )


@dataclass(frozen=True)
class FreshCheck:
    """What the check found: rows in board order (None: fewer than MIN_FILES ranked)."""

    images: int  # fresh images in the test set
    ranked: int  # ranked files, staff included
    rows: list[FreshRow] | None
    line: Line | None
    threshold: float = math.inf  # the z from which a file is flagged


def z_threshold(files: int) -> float:
    """The z from which one of `files` tested files is flagged: at least Z_MIN, and high
    enough that all of them together are flagged by chance with probability ALPHA."""
    return max(Z_MIN, _NORMAL.inv_cdf(1 - ALPHA / max(files, 1)))


def fresh_check(board, key) -> FreshCheck | None:
    """The check for every ranked file of `board`; None when the key has no fresh images."""
    if key.fresh is None or not key.fresh.any():
        return None
    rows = [row for row in board if row.entry.predicted is not None]
    images = int(key.fresh.sum())
    original = ~key.public & ~key.fresh
    if len(rows) < MIN_FILES or not original.any():
        return FreshCheck(images=images, ranked=len(rows), rows=None, line=None)
    correct = np.stack([row.entry.predicted == key.labels for row in rows])
    threshold = z_threshold(sum(not row.staff for row in rows))
    line, expected, z = line_test(
        correct[:, original].sum(axis=1),
        int(original.sum()),
        correct[:, key.fresh].sum(axis=1),
        images,
        threshold,
    )
    found = [
        FreshRow(
            participant=row.participant,
            file=row.entry.file,
            original_accuracy=float(correct[i, original].mean()),
            fresh_accuracy=float(correct[i, key.fresh].mean()),
            expected_fresh_accuracy=float(expected[i]),
            z=float(z[i]),
            flagged=bool(z[i] >= threshold),
        )
        for i, row in enumerate(rows)
        if not row.staff
    ]
    return FreshCheck(images=images, ranked=len(rows), rows=found, line=line, threshold=threshold)


def fresh_flags(check: FreshCheck | None) -> list[Flag]:
    """A flag (kind "fresh-gap") for each flagged row."""
    if check is None or check.rows is None:
        return []
    return [
        Flag(
            kind="fresh-gap",
            participants=(r.participant,),
            files=(r.file,),
            reason=r.reason,
            p_value=r.p_value,
        )
        for r in check.rows
        if r.flagged
    ]


def line_test(
    original_right: np.ndarray,
    original_images: int,
    fresh_right: np.ndarray,
    fresh_images: int,
    threshold: float | None = None,
    reference_slope: float = REFERENCE_SLOPE,
) -> tuple[Line, np.ndarray, np.ndarray]:
    """Fit the class's line and test each file against it (the module docstring's rule).

    Takes each file's right answers on the original Private images and on the fresh
    ones; returns the line, each file's expected fresh accuracy and its z-score. Files
    at or above `threshold` (default: z_threshold of the number of files) are left out
    and the line refitted, until the files left out stay the same (at most REFIT_ROUNDS
    rounds, never leaving out half the class): a class with several lookups would
    otherwise bend the line towards them.
    """
    p_original = _accuracy(original_right, original_images)
    p_fresh = _accuracy(fresh_right, fresh_images)
    x, y = probit(p_original), probit(p_fresh)
    threshold = z_threshold(len(x)) if threshold is None else threshold
    fitted_on = np.ones(len(x), dtype=bool)
    for _ in range(REFIT_ROUNDS):
        line, expected, z = _test(
            x, y, p_original, original_images, fresh_images, fitted_on, reference_slope
        )
        honest = z < threshold
        if np.array_equal(honest, fitted_on) or 2 * honest.sum() <= len(x):
            break
        fitted_on = honest
    return line, expected, z


def _test(
    x: np.ndarray,
    y: np.ndarray,
    p_original: np.ndarray,
    original_images: int,
    fresh_images: int,
    fitted_on: np.ndarray,
    reference_slope: float,
) -> tuple[Line, np.ndarray, np.ndarray]:
    """The line fitted on the files of `fitted_on`; every file's expectation and z."""
    class_slope, slope_variance = theil_sen(x[fitted_on], y[fitted_on])
    slope = _combine(class_slope, slope_variance, reference_slope)
    residual = y - slope * x
    intercept = float(np.median(residual[fitted_on]))
    fitted = intercept + slope * x
    p_expected = cdf(fitted)
    noise = p_expected * (1 - p_expected) / fresh_images / pdf(fitted) ** 2 + slope**2 * (
        p_original * (1 - p_original) / original_images / pdf(x) ** 2
    )
    scale = MAD_TO_SD * float(np.median(np.abs(residual[fitted_on] - intercept)))
    typical_noise = float(np.median(noise[fitted_on]))
    spread = math.sqrt(max(MIN_SPREAD**2, scale**2 - typical_noise))
    # The fitted line's own uncertainty at each x: its median intercept's (pi/2 times a
    # mean's), plus its slope's, growing with the distance from the files' median x.
    n = int(fitted_on.sum())
    combined_slope_variance = (
        REFERENCE_SLOPE_SD**2
        if math.isinf(slope_variance)
        else REFERENCE_SLOPE_SD**2 * slope_variance / (REFERENCE_SLOPE_SD**2 + slope_variance)
    )
    fit_variance = (
        math.pi / 2 * (typical_noise + spread**2) / n
        + (x - np.median(x[fitted_on])) ** 2 * combined_slope_variance
    )
    z = (fitted - y) / np.sqrt(noise + spread**2 + fit_variance)
    return (
        Line(slope=slope, intercept=intercept, spread=spread, class_slope=class_slope, files=n),
        p_expected,
        z,
    )


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float]:
    """The Theil-Sen slope of y on x, the median of the pairwise slopes (of at most
    SLOPE_FILES files, spread evenly over x), and its approximate variance; (None, inf)
    when every x is the same."""
    order = np.argsort(x, kind="stable")
    pick = order[
        np.unique(np.linspace(0, len(x) - 1, min(len(x), SLOPE_FILES)).round().astype(int))
    ]
    i, j = np.triu_indices(len(pick), 1)
    dx = x[pick][j] - x[pick][i]
    keep = dx != 0
    if not keep.any():
        return None, math.inf
    slope = float(np.median((y[pick][j] - y[pick][i])[keep] / dx[keep]))
    # The least-squares variance sigma^2 / sum (x - center)^2 with robust stand-ins
    # (median center and MAD spread of x, MAD of the residuals), over Theil-Sen's efficiency.
    residual = y - slope * x
    sigma = MAD_TO_SD * float(np.median(np.abs(residual - np.median(residual))))
    x_spread = MAD_TO_SD * float(np.median(np.abs(x - np.median(x))))
    if x_spread == 0:
        return slope, math.inf
    variance = max(sigma, MIN_SPREAD) ** 2 / (len(x) * x_spread**2) / THEIL_SEN_EFFICIENCY
    return slope, variance


def _combine(class_slope: float | None, variance: float, reference: float) -> float:
    """The precision-weighted mean of the class's slope and the reference slope."""
    if class_slope is None or math.isinf(variance):
        return reference
    prior = REFERENCE_SLOPE_SD**2
    return (class_slope * prior + reference * variance) / (prior + variance)


def _accuracy(right: np.ndarray, images: int) -> np.ndarray:
    """right / images, kept half an image away from 0 and 1 (whose probits are infinite)."""
    return np.clip(np.asarray(right, dtype=np.float64), 0.5, images - 0.5) / images


def probit(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile of each of `p` (all strictly between 0 and 1)."""
    return np.array([_NORMAL.inv_cdf(float(v)) for v in p])


def cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal distribution function at each of `z`."""
    return np.array([_NORMAL.cdf(float(v)) for v in z])


def pdf(z: np.ndarray) -> np.ndarray:
    """The standard normal density at each of `z`."""
    return np.exp(-0.5 * np.asarray(z) ** 2) / math.sqrt(2 * math.pi)
