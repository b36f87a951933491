"""Classification metrics from a confusion matrix, without scikit-learn.

scikit-learn is the reference (the tests cross-check against it) but takes
about a second to import; the grader computes the same numbers from one
`np.bincount`. Conventions, as scikit-learn's with `zero_division=0`:

* precision of a class never predicted is 0, recall of a class absent from
  the truth is 0, and F1 is 0 when precision + recall is 0;
* macro-F1 is the unweighted mean of the per-class F1 over all classes, so a
  class a model never predicts pulls it down with an F1 of 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Scores of predictions on one set of test rows (a split)."""

    n: int
    accuracy: float
    macro_f1: float
    precision: np.ndarray  # per class
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray  # true rows per class
    confusion: np.ndarray  # [true, predicted] counts

    def exact(self, metric: str) -> Fraction:
        """`accuracy` or `macro_f1` as an exact fraction of the confusion counts.

        Ranking compares these, not floats: two files with equal macro-F1 get
        equal ranks whatever the order of the classes in the float sum.
        """
        tp = np.diag(self.confusion).tolist()
        if metric == "accuracy":
            return Fraction(sum(tp), self.n) if self.n else Fraction(0)
        denominators = (self.confusion.sum(axis=0) + self.confusion.sum(axis=1)).tolist()
        total = sum(Fraction(2 * t, d) for t, d in zip(tp, denominators, strict=True) if d)
        return total / len(tp)

    def as_dict(self, classes: tuple[str, ...]) -> dict:
        """JSON-ready: overall scores, per-class scores and the confusion matrix."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {
                name: {
                    "precision": float(self.precision[i]),
                    "recall": float(self.recall[i]),
                    "f1": float(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, name in enumerate(classes)
            },
            "confusion_matrix": {
                "rows": "true class",
                "columns": "predicted class",
                "classes": list(classes),
                "counts": self.confusion.tolist(),
            },
        }


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs, shape (n_classes, n_classes)."""
    pairs = truth.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def metrics_from_confusion(confusion: np.ndarray) -> Metrics:
    """Accuracy, macro-F1 and per-class precision/recall/F1 of a confusion matrix."""
    true_positives = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = _safe_divide(true_positives, predicted)
    recall = _safe_divide(true_positives, support)
    f1 = f1_from_counts(true_positives, predicted, support)
    n = int(confusion.sum())
    return Metrics(
        n=n,
        accuracy=float(true_positives.sum() / n) if n else 0.0,
        macro_f1=math.fsum(f1.tolist()) / len(f1),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        confusion=confusion,
    )


def score(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> Metrics:
    """All metrics of `predicted` against `truth` (class indices, same length)."""
    return metrics_from_confusion(confusion_matrix(truth, predicted, n_classes))


def f1_from_counts(
    true_positives: np.ndarray, predicted: np.ndarray, support: np.ndarray
) -> np.ndarray:
    """Per-class F1 = 2 TP / (predicted + true), 0 where a class is neither.

    The one F1 formula of the grader: equal to 2PR / (P + R), computed from
    counts so that it is exact for every row of a batch (the bootstrap passes
    (resamples, classes) arrays).
    """
    return _safe_divide(2 * np.asarray(true_positives, np.float64), predicted + support)


def competition_ranks(keys: list) -> list[int]:
    """Competition ranks (1, 2, 2, 4) of scores, higher first, by sorting.

    `keys` must compare exactly (integers or Fractions), so that equal scores
    share a rank.
    """
    order = sorted(range(len(keys)), key=lambda i: keys[i], reverse=True)
    ranks = [0] * len(keys)
    for position, i in enumerate(order):
        same = position and keys[order[position - 1]] == keys[i]
        ranks[i] = ranks[order[position - 1]] if same else position + 1
    return ranks


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out
