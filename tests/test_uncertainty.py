"""Intervals, paired tests and tied groups: hand-computed cases and reference checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from grader.metrics import score
from grader.uncertainty import Bootstrap, mcnemar, tied_groups


def correctness(b: int, c: int, both: int = 0, neither: int = 0):
    """Two submissions' correctness with b rows only A right, c rows only B right."""
    a = np.array([True] * b + [False] * c + [True] * both + [False] * neither)
    bb = np.array([False] * b + [True] * c + [True] * both + [False] * neither)
    return a, bb


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (3, 0, 2 * 1 / 8),  # P(X <= 0 | n=3) = 1/8
        (5, 1, 2 * 7 / 64),  # P(X <= 1 | n=6) = (1 + 6) / 64
        (1, 1, 1.0),  # capped at 1
        (0, 0, 1.0),  # no discordant rows: no evidence either way
    ],
)
def test_mcnemar_by_hand(b, c, expected):
    a, bb = correctness(b, c, both=10, neither=4)
    assert mcnemar(a, bb) == pytest.approx(expected)
    assert mcnemar(bb, a) == pytest.approx(expected)  # symmetric


@pytest.mark.parametrize(("b", "c"), [(40, 25), (300, 260), (12, 0), (1000, 1100)])
def test_mcnemar_matches_scipys_exact_binomial_test(b, c):
    a, bb = correctness(b, c)
    reference = binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar(a, bb) == pytest.approx(reference, rel=1e-9, abs=1e-300)


def test_bootstrap_equals_a_plain_loop_over_the_same_resamples():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, 300)
    predicted = np.where(rng.random(300) < 0.7, truth, rng.integers(0, 4, 300))
    boot = Bootstrap(truth, 4, resamples=200, seed=5)
    spans = boot.intervals(predicted)
    plain = [score(truth[i], predicted[i], 4) for i in boot.index]
    accuracy = np.percentile([m.accuracy for m in plain], [2.5, 97.5])
    f1 = np.percentile([m.macro_f1 for m in plain], [2.5, 97.5])
    assert (spans["accuracy"].low, spans["accuracy"].high) == pytest.approx(tuple(accuracy))
    assert (spans["macro_f1"].low, spans["macro_f1"].high) == pytest.approx(tuple(f1))


def test_bootstrap_interval_has_the_binomial_width():
    # 90% right on 3,000 images: 95% half-width ~ 1.96 x sqrt(0.9 x 0.1 / 3000) = 1.07 points.
    truth = np.zeros(3000, dtype=np.int64)
    predicted = np.where(np.arange(3000) % 10 == 0, 1, 0)
    span = Bootstrap(truth, 10).intervals(predicted)["accuracy"]
    assert (span.high - span.low) / 2 == pytest.approx(0.0107, abs=0.0015)
    assert span.low < 0.9 < span.high
    perfect = Bootstrap(truth, 10).intervals(truth)["accuracy"]
    assert (perfect.low, perfect.high) == (1.0, 1.0)


def test_tied_groups_follow_the_group_leader():
    base = np.array([True] * 500 + [False] * 500)
    close = base.copy()
    close[:3] = False  # 3 rows worse than base: not significant
    far = base.copy()
    far[:60] = False  # 60 rows worse: significant against base
    farther = far.copy()
    farther[60:62] = False  # 2 rows worse than far: tied with far
    assert tied_groups([base, close, far, farther]) == [1, 1, 2, 2]
    assert tied_groups([]) == []


def test_kendall_tau_matches_scipy():
    from scipy.stats import kendalltau

    from grader.uncertainty import kendall_tau

    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 6, 30).astype(float)  # with ties
        y = x + rng.normal(0, 2, 30)
        assert kendall_tau(x, y) == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


def test_shakeup_of_close_models_is_what_resplits_predict():
    from grader.answers import AnswerKey
    from grader.score import BoardRow, Entry, split_metrics
    from grader.uncertainty import shakeup

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 100)
    public = np.zeros(1000, bool)
    for c in range(10):
        public[rng.choice(np.flatnonzero(labels == c), 30, replace=False)] = True
    key = AnswerKey(np.arange(1000), tuple("abcdefghij"), labels, public)
    # Eight models within a point of each other: public and private ranks barely agree.
    board = []
    for i in range(8):
        predicted = np.where(rng.random(1000) < 0.80 + 0.002 * i, labels, (labels + 1) % 10)
        entry = Entry(f"p{i}", f"p{i}.csv", None, status="scored", predicted=predicted)
        entry.metrics = split_metrics(key, predicted)
        board.append(BoardRow(i + 1, f"p{i}", entry, 1))
    moved = shakeup(board, key, resplits=100)
    assert moved.participants == [f"p{i}" for i in range(8)]
    assert all(1 <= r <= 8 for r in moved.public_rank + moved.private_rank)
    assert min(moved.public_rank) == min(moved.private_rank) == 1
    assert -1 <= moved.tau <= 1 and moved.resplit_tau_sd > 0.05
    assert abs(moved.tau - moved.resplit_tau_mean) < 3 * moved.resplit_tau_sd
