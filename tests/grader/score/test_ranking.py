"""Ranking rules (grader.score.ranking): ties, rank-by, and Kaggle's selection rule on
the final board."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from grader.score.entry import Entry
from grader.score.ranking import leaderboard
from grader.stats.metrics import Metrics, metrics_from_confusion
from tests.helpers import when


def metrics(accuracy: float | np.ndarray) -> Metrics:
    """Real metrics: of a given confusion matrix, or of 100,000 rows `accuracy` right."""
    if isinstance(accuracy, np.ndarray):
        return metrics_from_confusion(accuracy)
    right = round(accuracy * 100_000)
    return metrics_from_confusion(np.array([[right, 100_000 - right], [0, 0]]))


def entry(
    participant: str,
    file: str,
    at: datetime,
    public: float | np.ndarray,
    private: float = 0.0,
    selected: bool = False,
) -> Entry:
    e = Entry(participant, file, at, selected, status="scored")
    e.metrics = {"public": metrics(public), "private": metrics(private), "all": metrics(0)}
    return e


def board_of(entries, **kwargs):
    return [(row.rank, row.participant, row.entry.file) for row in leaderboard(entries, **kwargs)]


def test_equal_scores_share_a_rank_and_the_earlier_submission_comes_first():
    entries = [
        entry("ann", "ann.csv", when(2), 0.9),
        entry("ben", "ben.csv", when(1), 0.9),
        entry("cat", "cat.csv", when(1), 0.8),
        entry("dan", "dan.csv", when(3), 0.95),
    ]
    assert board_of(entries) == [
        (1, "dan", "dan.csv"),
        (2, "ben", "ben.csv"),
        (2, "ann", "ann.csv"),
        (4, "cat", "cat.csv"),
    ]


def test_scores_that_round_alike_are_not_tied():
    entries = [entry("ann", "a.csv", when(1), 0.91230), entry("ben", "b.csv", when(2), 0.91231)]
    assert board_of(entries) == [(1, "ben", "b.csv"), (2, "ann", "a.csv")]


def test_a_participants_best_public_file_counts_earliest_among_equals():
    entries = [
        entry("ann", "ann/1.csv", when(1), 0.7),
        entry("ann", "ann/3.csv", when(3), 0.9),
        entry("ann", "ann/2.csv", when(2), 0.9),
    ]
    assert board_of(entries) == [(1, "ann", "ann/2.csv")]
    assert leaderboard(entries)[0].scored_files == 3


def test_rank_by_macro_f1():
    # 90 rows of class 0, 10 of class 1. ann predicts 0 everywhere: accuracy 0.9,
    # F1 180/190 and 0, macro 0.474. ben: accuracy 0.8, F1 150/170 and 10/30, macro 0.608.
    ann, ben = np.array([[90, 0], [10, 0]]), np.array([[75, 15], [5, 5]])
    entries = [entry("ann", "a.csv", when(1), ann), entry("ben", "b.csv", when(1), ben)]
    assert metrics(ann).macro_f1 == pytest.approx((180 / 190) / 2)
    assert metrics(ben).macro_f1 == pytest.approx((150 / 170 + 10 / 30) / 2)
    assert board_of(entries) == [(1, "ann", "a.csv"), (2, "ben", "b.csv")]
    assert board_of(entries, rank_by="macro_f1") == [(1, "ben", "b.csv"), (2, "ann", "a.csv")]


def test_equal_macro_f1_ties_whatever_the_order_of_the_classes():
    # The same per-class counts with the classes relabelled: equal macro-F1 exactly,
    # although float sums in another order can differ in the last bit.
    rng = np.random.default_rng(5)
    for _ in range(50):
        confusion = rng.integers(0, 40, size=(10, 10))
        order = rng.permutation(10)
        relabelled = confusion[np.ix_(order, order)]
        entries = [
            entry("ann", "a.csv", when(1), confusion),
            entry("ben", "b.csv", when(2), relabelled),
        ]
        assert [rank for rank, _, _ in board_of(entries, rank_by="macro_f1")] == [1, 1]
        assert metrics(confusion).macro_f1 == metrics(relabelled).macro_f1


def test_unscored_files_never_reach_the_board():
    bad = Entry("eve", "eve.csv", when(1), status="invalid", error="x")
    assert board_of([bad, entry("ann", "a.csv", when(1), 0.5)]) == [(1, "ann", "a.csv")]


def test_final_board_follows_kaggles_selection_rule():
    entries = [
        # bob selected his second file: it counts even though its public score is lower.
        entry("bob", "bob/a.csv", when(1), public=0.90, private=0.70),
        entry("bob", "bob/b.selected.csv", when(2), public=0.80, private=0.85, selected=True),
        # carol selected nothing: her 2 best public files count, the best private wins,
        # and her third file (best private, worst public) does not count.
        entry("carol", "carol/a.csv", when(1), public=0.90, private=0.60),
        entry("carol", "carol/b.csv", when(2), public=0.85, private=0.88),
        entry("carol", "carol/c.csv", when(3), public=0.50, private=0.99),
        # dave selected 3: only the 2 latest selected count.
        entry("dave", "dave/a.selected.csv", when(1), public=0.7, private=0.95, selected=True),
        entry("dave", "dave/b.selected.csv", when(2), public=0.7, private=0.80, selected=True),
        entry("dave", "dave/c.selected.csv", when(3), public=0.7, private=0.81, selected=True),
    ]
    assert board_of(entries, final=True) == [
        (1, "carol", "carol/b.csv"),
        (2, "bob", "bob/b.selected.csv"),
        (3, "dave", "dave/c.selected.csv"),
    ]
