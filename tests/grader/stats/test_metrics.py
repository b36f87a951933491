"""Metrics: tiny cases worked out by hand, and a scikit-learn cross-check."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from grader.stats.metrics import score


def test_hand_computed_three_class_case():
    # truth 0 0 1 1 2 2, predicted 0 1 1 1 0 2:
    # confusion [[1,1,0],[0,2,0],[1,0,1]]; 4 of 6 right.
    # precision = 1/2, 2/3, 1/1; recall = 1/2, 2/2, 1/2
    # F1 = 1/2, 2(2/3)(1)/(5/3) = 4/5, 2(1)(1/2)/(3/2) = 2/3; macro = (1/2+4/5+2/3)/3 = 59/90
    m = score(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 0, 2]), 3)
    assert m.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.precision.tolist() == pytest.approx([1 / 2, 2 / 3, 1])
    assert m.recall.tolist() == pytest.approx([1 / 2, 1, 1 / 2])
    assert m.f1.tolist() == pytest.approx([1 / 2, 4 / 5, 2 / 3])
    assert m.macro_f1 == pytest.approx(59 / 90)
    assert m.support.tolist() == [2, 2, 2] and m.n == 6


def test_a_class_never_predicted_counts_as_f1_zero():
    # truth 0 1 2, predicted 0 0 1: class 2 is never predicted, class 1 never right.
    # F1 = 2(1/2)(1)/(3/2) = 2/3, 0, 0; macro = 2/9.
    m = score(np.array([0, 1, 2]), np.array([0, 0, 1]), 3)
    assert m.precision.tolist() == pytest.approx([1 / 2, 0, 0])
    assert m.f1.tolist() == pytest.approx([2 / 3, 0, 0])
    assert m.macro_f1 == pytest.approx(2 / 9)
    assert m.accuracy == pytest.approx(1 / 3)


def test_perfect_and_empty():
    m = score(np.arange(10), np.arange(10), 10)
    assert (m.accuracy, m.macro_f1) == (1.0, 1.0)
    empty = score(np.array([], int), np.array([], int), 10)
    assert (empty.n, empty.accuracy, empty.macro_f1) == (0, 0.0, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_matches_scikit_learn_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 10, 3000)
    predicted = np.where(rng.random(3000) < 0.6, truth, rng.integers(0, 10, 3000))
    predicted[predicted == 7] = 3  # a class never predicted: zero_division matters
    m = score(truth, predicted, 10)
    labels = list(range(10))
    assert m.accuracy == pytest.approx(accuracy_score(truth, predicted), abs=1e-15)
    assert m.macro_f1 == pytest.approx(
        f1_score(truth, predicted, labels=labels, average="macro", zero_division=0), abs=1e-12
    )
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    np.testing.assert_allclose(m.precision, p, atol=1e-12)
    np.testing.assert_allclose(m.recall, r, atol=1e-12)
    np.testing.assert_allclose(m.f1, f, atol=1e-12)
    np.testing.assert_array_equal(m.support, s)
    np.testing.assert_array_equal(m.confusion, confusion_matrix(truth, predicted, labels=labels))
