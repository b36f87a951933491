"""grader.score.entry.entry_value: the one way the grader reads a file's score on a split."""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

import numpy as np

from grader.score.entry import Entry, entry_value
from grader.stats.metrics import metrics_from_confusion


def scored_entry() -> Entry:
    # Public: 3 of 4 cats and the 1 dog right. F1 of cat 2*3/(3 predicted + 4 true) = 6/7,
    # of dog 2*1/(2 + 1) = 2/3; macro-F1 (6/7 + 2/3) / 2 = 16/21. Private: 3 of 5 right.
    public = metrics_from_confusion(np.array([[3, 1], [0, 1]]))
    private = metrics_from_confusion(np.array([[2, 2], [0, 1]]))
    return Entry(
        participant="ann",
        file="ann.csv",
        submitted_at=datetime(2026, 11, 20, tzinfo=timezone.utc),
        status="scored",
        metrics={"public": public, "private": private},
    )


def test_the_value_of_a_file_on_a_split_as_shown_and_as_compared():
    entry = scored_entry()
    assert entry_value(entry, "public", "accuracy") == 0.8
    assert entry_value(entry, "private", "accuracy") == 0.6
    assert entry_value(entry, "public", "macro_f1", exact=True) == Fraction(16, 21)
    assert entry_value(entry, "public", "macro_f1") == float(Fraction(16, 21))
    assert entry_value(entry, "private", "accuracy", exact=True) == Fraction(3, 5)
