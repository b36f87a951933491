"""Intervals, paired tests and tied groups: hand-computed cases and reference checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from grader.bundle.answers import AnswerKey
from grader.score.entry import BoardRow, Entry
from grader.stats.metrics import score
from grader.stats.uncertainty import Bootstrap, mcnemar, shakeup, tied_groups
from tests import helpers


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
    f1 = np.percentile([m.macro_f1 for m in plain], [2.5, 97.5])
    assert (spans["macro_f1"].low, spans["macro_f1"].high) == pytest.approx(tuple(f1))


def test_accuracy_interval_has_the_binomial_width():
    # 90% right on 3,000 images: 95% half-width ~ 1.96 x sqrt(0.9 x 0.1 / 3000) = 1.07 points.
    truth = np.zeros(3000, dtype=np.int64)
    predicted = np.where(np.arange(3000) % 10 == 0, 1, 0)
    span = Bootstrap(truth, 10).intervals(predicted)["accuracy"]
    assert (span.high - span.low) / 2 == pytest.approx(0.0107, abs=0.0005)
    assert span.low < 0.9 < span.high
    perfect = Bootstrap(truth, 10).intervals(truth)["accuracy"]
    assert perfect.high == 1.0 and perfect.low == pytest.approx(0.99872, abs=1e-5)


@pytest.mark.parametrize(("right", "n"), [(0, 3000), (3000, 3000), (2700, 3000), (7, 9), (1, 1)])
def test_accuracy_intervals_are_wilsons_and_keep_a_width_at_0_and_100(right, n):
    from statsmodels.stats.proportion import proportion_confint

    from grader.stats.uncertainty import wilson

    low, high = proportion_confint(right, n, alpha=0.05, method="wilson")
    span = wilson(right, n)
    assert (span.low, span.high) == pytest.approx((low, high), abs=1e-12)
    assert span.high - span.low > 0
    if right == n == 3000:
        assert round(span.low, 4) == 0.9987  # what the docstring says


def test_mcnemar_matches_statsmodels():
    from statsmodels.stats.contingency_tables import mcnemar as reference

    for b, c in [(40, 25), (3, 0), (12, 30), (7, 7)]:
        a, bb = correctness(b, c, both=5, neither=3)
        table = [[5, b], [c, 3]]  # both right, only A right / only B right, neither
        assert mcnemar(a, bb) == pytest.approx(reference(table, exact=True).pvalue, rel=1e-9)


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

    from grader.stats.uncertainty import kendall_tau

    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 6, 30).astype(float)  # with ties
        y = x + rng.normal(0, 2, 30)
        assert kendall_tau(x, y) == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


def test_shakeup_of_close_models_is_what_resplits_predict():
    from grader.bundle.answers import AnswerKey
    from grader.score.entry import BoardRow, Entry
    from grader.score.scoring import split_metrics
    from grader.stats.uncertainty import shakeup

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


def test_shakeup_p_value_counts_the_resplits_and_public_rank_is_the_public_boards():
    from grader.bundle.answers import AnswerKey
    from grader.score.entry import Entry
    from grader.score.ranking import leaderboard
    from grader.score.scoring import split_metrics
    from grader.stats.uncertainty import kendall_tau, shakeup

    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(10), 100)
    public = np.zeros(1000, bool)
    for c in range(10):
        public[rng.choice(np.flatnonzero(labels == c), 30, replace=False)] = True
    key = AnswerKey(np.arange(1000), tuple("abcdefghij"), labels, public)
    entries = []
    for i in range(6):
        predicted = np.where(rng.random(1000) < 0.5 + 0.05 * i, labels, (labels + 1) % 10)
        entries.append(Entry(f"p{i}", f"p{i}.csv", when(i), status="scored", predicted=predicted))
    # p0 also hands in a file right on every Public row and wrong on every Private one:
    # first on the public board, last on the final one.
    probe = np.where(public, labels, (labels + 1) % 10)
    entries.append(Entry("p0", "p0/probe.csv", when(9), status="scored", predicted=probe))
    for e in entries:
        e.metrics = split_metrics(key, e.predicted)
    final = leaderboard(entries, final=True)
    public_board = leaderboard(entries, final=False)
    assert public_board[0].entry.file == "p0/probe.csv"
    moved = shakeup(final, key, resplits=50, public_board=public_board)
    rank_of = {row.participant: row.rank for row in public_board}
    assert moved.public_rank == [rank_of[name] for name in moved.participants]
    assert moved.public_rank[moved.participants.index("p0")] == 1
    # The p-value counts re-splits, it does not assume a normal distribution.
    from grader.stats.uncertainty import _resplit_masks, _resplit_scores

    masks = _resplit_masks(key, 50, 20261126)
    pub, priv = _resplit_scores([row.entry for row in final], key, masks, "accuracy")
    taus = [kendall_tau(pub[:, r], priv[:, r]) for r in range(50)]
    assert moved.at_or_below == sum(t <= moved.tau + 1e-12 for t in taus)
    assert moved.p_value == (1 + moved.at_or_below) / 51


def when(hours: int):
    from datetime import datetime, timedelta, timezone

    return datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(hours=hours)


def brute_force_f1_permutation(a, b, truth, k):
    """Every swap pattern of the differing rows, scored by metrics.score."""
    from itertools import product

    from grader.stats.metrics import score

    differ = np.flatnonzero(a != b)
    observed = abs(score(truth, a, k).macro_f1 - score(truth, b, k).macro_f1)
    extreme = 0
    for swaps in product([False, True], repeat=len(differ)):
        x, y = a.copy(), b.copy()
        rows = differ[list(swaps)]
        x[rows], y[rows] = b[rows], a[rows]
        extreme += (
            abs(score(truth, x, k).macro_f1 - score(truth, y, k).macro_f1) >= observed - 1e-12
        )
    return extreme / 2 ** len(differ)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_the_macro_f1_test_is_the_brute_force_permutation_test(seed):
    from grader.stats.uncertainty import macro_f1_permutation

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, 40)
    a = truth.copy()
    a[rng.choice(40, 6, replace=False)] = rng.integers(0, 3, 6)
    b = a.copy()
    b[rng.choice(40, 8, replace=False)] = rng.integers(0, 3, 8)
    expected = brute_force_f1_permutation(a, b, truth, 3)
    assert macro_f1_permutation(a, b, truth, 3) == pytest.approx(expected, abs=1e-12)
    # More differing rows than log2(permutations): random patterns, close to the exact value.
    c = truth.copy()
    c[rng.choice(40, 14, replace=False)] = rng.integers(0, 3, 14)
    exact = brute_force_f1_permutation(a, c, truth, 3)
    assert macro_f1_permutation(a, c, truth, 3, permutations=4000) == pytest.approx(exact, abs=0.03)
    assert macro_f1_permutation(a, a.copy(), truth, 3) == 1.0


def test_the_shakeup_follows_rank_by():
    # 20 rows of class 0 (ids 0-19) and 20 of class 1; odd rows are Private. Both files are
    # right on every Public row. On Private, ann predicts class 0 everywhere: accuracy 10/20,
    # F1 20/30 and 0, macro 1/3. ben has 8 class-0 and 3 class-1 rows wrong: confusion
    # [[2, 8], [3, 7]], accuracy 9/20, F1 4/15 and 14/25, macro 0.413.
    labels = np.repeat([0, 1], 20)
    public = np.tile([True, False], 20)
    key = AnswerKey(np.arange(40), ("a", "b"), labels, public)
    private_rows = np.flatnonzero(~public)
    ann, ben = labels.copy(), labels.copy()
    ann[private_rows] = 0
    wrong = private_rows[[0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12]]
    ben[wrong] = 1 - ben[wrong]

    def row(name: str, predicted: np.ndarray) -> BoardRow:
        e = Entry(name, f"{name}.csv", helpers.when(1), status="scored", predicted=predicted)
        e.metrics = {
            s: score(labels[key.mask(s)], predicted[key.mask(s)], 2) for s in ("public", "private")
        }
        return BoardRow(1, name, e, 1)

    board = [row("ann", ann), row("ben", ben)]
    ann_m, ben_m = (r.entry.metrics["private"] for r in board)
    assert (ann_m.accuracy, ben_m.accuracy) == (0.5, 0.45)
    assert (ann_m.macro_f1, ben_m.macro_f1) == pytest.approx((1 / 3, (4 / 15 + 14 / 25) / 2))
    assert shakeup(board, key, "accuracy", resplits=5).private_rank == [1, 2]
    assert shakeup(board, key, "macro_f1", resplits=5).private_rank == [2, 1]
