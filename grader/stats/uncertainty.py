"""How sure is a leaderboard? Bootstrap intervals, paired tests and tied groups.

On a 3,000-image public split, a 90% model's accuracy has a 95% interval of
about +-1.1 points (binomial standard error sqrt(0.9 x 0.1 / 3000) = 0.55
points), so neighbours on a board are often indistinguishable. This module
says so:

* accuracy: the 95% Wilson score interval (`wilson`), which stays
  informative at 0% and 100%;
* `Bootstrap`: 95% percentile intervals for macro-F1, from 1,000 resamples
  of the split's rows. The resamples are drawn once from a seeded generator
  and shared by every submission (paired), and all of a submission's
  resamples are scored by one matrix product;
* `mcnemar`: the exact two-sided McNemar test of two submissions on the same
  rows: under the null hypothesis the rows where exactly one is right split
  50/50, so p = P(Binomial(b + c, 1/2) <= min(b, c)) x 2, capped at 1;
* `tied_groups`: walking down the board, a new group starts at the first
  submission that differs significantly (p < 0.05) from the group's leader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grader.core.constants import DEFAULT_RANK_BY
from grader.score.entry import Entry, entry_value
from grader.stats.metrics import competition_ranks, f1_from_counts

RESAMPLES = 1000
PERMUTATIONS = 1000  # random swap patterns of the macro-F1 test
CHUNK = 32  # files per bootstrap matrix product: (resamples x rows) @ (rows x 20 CHUNK)
LEVEL = 0.95
ALPHA = 0.05
SEED = 20261126  # fixed: intervals are reproducible, and bootstrapping is not the secret split


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


class Bootstrap:
    """Shared resamples of one split's rows; scores any submission on all of them.

    A resample is stored as counts: `weights[b, i]` is how many times row i
    was drawn in resample b. Per-class true positives and predicted counts of
    every resample are then one matrix product, (B x n) @ (n x 2K), so a
    submission costs a few milliseconds for 1,000 resamples.
    """

    def __init__(
        self, truth: np.ndarray, n_classes: int, resamples: int = RESAMPLES, seed: int = SEED
    ) -> None:
        rng = np.random.default_rng(seed)
        n = len(truth)
        self.n_classes, self.truth = n_classes, truth
        self.index = rng.integers(0, n, size=(resamples, n), dtype=np.int64)
        codes = (np.arange(resamples)[:, None] * n + self.index).ravel()
        self.weights = np.bincount(codes, minlength=resamples * n).reshape(resamples, n)
        self.weights = self.weights.astype(np.float32)
        self.true_onehot = np.eye(n_classes, dtype=np.float32)[truth]
        self.true_counts = self.weights @ self.true_onehot  # (B, K), the same for everyone

    def intervals(self, predicted: np.ndarray) -> dict[str, Interval]:
        """95% percentile intervals of accuracy and macro-F1 for one submission."""
        return self.many_intervals([predicted])[0]

    def many_intervals(self, predictions: list[np.ndarray]) -> list[dict[str, Interval]]:
        """`intervals` of several submissions, scored by one matrix product."""
        k = self.n_classes
        eye = np.eye(k, dtype=np.float32)
        columns = np.hstack(
            [
                block
                for predicted in predictions
                for block in (self.true_onehot * (predicted == self.truth)[:, None], eye[predicted])
            ]
        )
        counts = (self.weights @ columns).astype(np.float64)  # exact: integers below 2**24
        result = []
        for i in range(len(predictions)):
            tp, predicted_count = (
                counts[:, 2 * k * i : 2 * k * i + k],
                counts[:, 2 * k * i + k : 2 * k * (i + 1)],
            )
            f1 = f1_from_counts(tp, predicted_count, self.true_counts)
            right = int(np.count_nonzero(predictions[i] == self.truth))
            result.append(
                {
                    "accuracy": wilson(right, len(self.truth)),
                    "macro_f1": _percentile(f1.mean(axis=1)),
                }
            )
        return result


Z_LEVEL = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95%


def wilson(right: int, n: int) -> Interval:
    """The 95% Wilson score interval of an accuracy of right / n: unlike a bootstrap or
    the normal approximation, it keeps a width at 0% and 100% (99.87%-100% for 3,000
    of 3,000)."""
    if n == 0:
        return Interval(0.0, 1.0)
    p, z2 = right / n, Z_LEVEL**2
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_LEVEL / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Interval(max(0.0, center - half), min(1.0, center + half))


def _percentile(values: np.ndarray) -> Interval:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))


def mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value of two submissions' correctness on the same rows."""
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    n = b + c
    if n == 0:
        return 1.0
    # log P(K = k) for k = 0..min(b, c): log C(n, k) + n log(1/2), C(n, k) built up as
    # the running product of (n - j + 1) / j, all in one array pass.
    j = np.arange(1, min(b, c) + 1, dtype=np.float64)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - j + 1) - np.log(j))])
    tail = float(np.exp(log_choose + n * math.log(0.5)).sum())
    return min(1.0, 2 * tail)


def macro_f1_permutation(
    predicted_a: np.ndarray,
    predicted_b: np.ndarray,
    truth: np.ndarray,
    n_classes: int,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
) -> float:
    """Two-sided paired permutation p-value of the macro-F1 difference of two submissions
    on the same rows.

    Under the null hypothesis the two are exchangeable on every row: each row where
    they differ swaps its two predictions with probability 1/2. The p-value is the share
    of swap patterns whose |difference| is at least the observed one: all 2**d patterns
    when there are d <= log2(permutations) differing rows (exact), else `permutations`
    random ones plus the observed, (1 + k) / (1 + permutations). Each pattern's counts
    are one matrix product: the base counts plus the swapped rows' changes.
    """
    differ = np.flatnonzero(predicted_a != predicted_b)
    if not len(differ):
        return 1.0
    eye = np.eye(n_classes, dtype=np.float64)
    truth_onehot = eye[truth]
    support = truth_onehot.sum(axis=0)

    def counts(predicted):  # (true positives, predicted) per class, as one row
        return np.concatenate(
            [(truth_onehot * (predicted == truth)[:, None]).sum(0), eye[predicted].sum(0)]
        )

    a, b, t = predicted_a[differ], predicted_b[differ], truth[differ]
    # A swapped row: A gains B's prediction there and loses its own; B the reverse.
    gained_tp = truth_onehot[differ] * ((b == t).astype(np.float64) - (a == t))[:, None]
    change = np.hstack([gained_tp, eye[b] - eye[a]])
    if len(differ) <= math.log2(permutations):
        patterns = (np.arange(2 ** len(differ))[:, None] >> np.arange(len(differ))) & 1
        exact = True
    else:
        rng = np.random.default_rng(seed)
        patterns = rng.integers(0, 2, size=(permutations, len(differ)))
        exact = False
    moved = (patterns.astype(np.float32) @ change.astype(np.float32)).astype(np.float64)
    base_a, base_b = counts(predicted_a), counts(predicted_b)

    def macro(rows):
        k = n_classes
        return f1_from_counts(rows[:, :k], rows[:, k:], support).mean(axis=1)

    observed = abs(float(macro(base_a[None])[0] - macro(base_b[None])[0]))
    swapped = np.abs(macro(base_a + moved) - macro(base_b - moved))
    extreme = int(np.count_nonzero(swapped >= observed - 1e-12))
    return extreme / len(patterns) if exact else (1 + extreme) / (1 + len(patterns))


def paired_p(
    predicted_a: np.ndarray, predicted_b: np.ndarray, key, split: str, rank_by: str
) -> float:
    """The board's paired test of two files on `split`, for the metric that ranks:
    exact McNemar for accuracy, the permutation test for macro-F1 (what
    `board_uncertainty` uses between rows, for files that are not board rows)."""
    mask = key.mask(split)
    truth, a, b = key.labels[mask], predicted_a[mask], predicted_b[mask]
    return paired_test([a, b], truth, len(key.classes), rank_by)(0, 1)


def paired_test(predicted: list[np.ndarray], truth: np.ndarray, n_classes: int, rank_by: str):
    """The paired test of files i and j (predictions on one split), as `test(i, j)`, for
    the metric that ranks: exact McNemar for accuracy (each file's correctness is
    computed once), the permutation test of macro-F1 for macro_f1."""
    if rank_by == "macro_f1":
        return lambda i, j: macro_f1_permutation(predicted[i], predicted[j], truth, n_classes)
    right = [p == truth for p in predicted]
    return lambda i, j: mcnemar(right[i], right[j])


def tied_groups(right: list[np.ndarray], alpha: float = ALPHA, test=None) -> list[int]:
    """Group numbers (1, 1, 2, ...) for submissions in board order.

    Walking down the board, a row joins the current group unless it differs
    significantly (p < alpha, no adjustment for the many comparisons) from the group's
    first row, and then starts the next group. `test(i, j)` gives the p-value of rows i
    and j (default: exact McNemar on `right`, the rows' correctness; with `test`,
    `right` only gives the number of rows).
    """
    test = test or (lambda i, j: mcnemar(right[i], right[j]))
    groups, leader = [], 0
    for i in range(len(right)):
        if i and test(leader, i) < alpha:
            leader = i
        groups.append(groups[leader] if leader < i else (groups[-1] + 1 if groups else 1))
    return groups


@dataclass(frozen=True)
class RowUncertainty:
    """A board row's 95% intervals, its paired tests and its tied group."""

    accuracy: Interval
    macro_f1: Interval
    p_vs_next: float | None  # against the row below (None for the last row)
    p_vs_baseline: float | None  # against --baseline's ranked file (None without one)
    group: int


def file_intervals(
    entries: list[Entry], key, split: str, resamples: int = RESAMPLES
) -> dict[str, dict[str, Interval]]:
    """95% intervals of accuracy and macro-F1 on `split` for every scored file, by file."""
    mask = key.mask(split)
    boot = Bootstrap(key.labels[mask], len(key.classes), resamples)
    scored = [e for e in entries if e.status == "scored"]
    spans = {}
    for start in range(0, len(scored), CHUNK):  # one matrix product per chunk of files
        part = scored[start : start + CHUNK]
        found = boot.many_intervals([e.predicted[mask] for e in part])
        spans.update({e.file: s for e, s in zip(part, found, strict=True)})
    return spans


def board_uncertainty(
    board,
    key,
    split: str,
    baseline: str | None = None,
    resamples: int = RESAMPLES,
    intervals: dict[str, dict[str, Interval]] | None = None,
    rank_by: str = DEFAULT_RANK_BY,
) -> list[RowUncertainty]:
    """Intervals, tests and tied groups for every row of a board, on its ranking split.

    The tests compare the ranking metric: exact McNemar for accuracy, the paired
    permutation test for macro-F1. `intervals` (from `file_intervals`) saves computing
    them again.
    """
    if intervals is None:
        intervals = file_intervals([row.entry for row in board], key, split, resamples)
    mask = key.mask(split)
    truth = key.labels[mask]
    predicted = [row.entry.predicted[mask] for row in board]
    test = paired_test(predicted, truth, len(key.classes), rank_by)
    reference = next((i for i, row in enumerate(board) if row.participant == baseline), None)
    groups = tied_groups(predicted, test=test)
    rows = []
    for i, row in enumerate(board):
        spans = intervals[row.entry.file]
        rows.append(
            RowUncertainty(
                accuracy=spans["accuracy"],
                macro_f1=spans["macro_f1"],
                p_vs_next=test(i, i + 1) if i + 1 < len(board) else None,
                p_vs_baseline=test(i, reference) if reference is not None else None,
                group=groups[i],
            )
        )
    return rows


# ----------------------------------------------------------------------------
# Shake-up: how far the private ranks moved, against what re-splits alone do
# ----------------------------------------------------------------------------

RESPLITS = 200


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of two score vectors (ties in either count for neither side).

    O(N log N), as in Knight's algorithm: after sorting by (x, y), the
    discordant pairs are the inversions of y, and the tied pairs come from
    group sizes; tau-b = (concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y)).
    """
    n = len(x)
    order = np.lexsort((y, x))
    x, y = np.asarray(x)[order], np.asarray(y)[order]
    pairs = n * (n - 1) // 2
    ties_x, ties_y = _tied_pairs(x), _tied_pairs(np.sort(y))
    ties_xy = _tied_pairs(x, y)
    discordant = _inversions(np.unique(y, return_inverse=True)[1].ravel())
    concordant = pairs - ties_x - ties_y + ties_xy - discordant
    denominator = math.sqrt(float(pairs - ties_x) * float(pairs - ties_y))
    return (concordant - discordant) / denominator if denominator else 0.0


def _tied_pairs(*sorted_keys: np.ndarray) -> int:
    """Pairs of equal rows in arrays sorted so that equal rows are adjacent."""
    if not len(sorted_keys[0]):
        return 0
    change = np.zeros(len(sorted_keys[0]) - 1, dtype=bool)
    for key in sorted_keys:
        change |= key[1:] != key[:-1]
    sizes = np.diff(np.flatnonzero(np.r_[True, change, True]))
    return int((sizes * (sizes - 1) // 2).sum())


def _inversions(values: np.ndarray) -> int:
    """Pairs i < j with values[i] > values[j] (non-negative integers), in O(N log max).

    Bit by bit from the top: among elements whose higher bits are equal, an
    element with this bit 1 is greater than any later one with this bit 0.
    A stable sort by the higher bits keeps the original order in each group.
    """
    values = values.astype(np.int64)
    total = 0
    for bit in range(int(values.max()).bit_length() if len(values) else 0):
        prefix = values >> (bit + 1)
        order = np.argsort(prefix, kind="stable")
        groups, ones = prefix[order], (values[order] >> bit) & 1
        before = np.cumsum(ones) - ones  # ones strictly before, in the whole array
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        first = np.repeat(before[starts], np.diff(np.r_[starts, len(groups)]))
        total += int((before - first)[ones == 0].sum())
    return total


@dataclass(frozen=True)
class Shakeup:
    """Public vs private ranks of the final board, and what chance alone would give."""

    participants: list[str]  # in final-board order
    public_rank: list[int]  # the participant's rank on the public board
    private_rank: list[int]  # the rank of the final file's private score
    tau: float
    resplit_tau_mean: float
    resplit_tau_sd: float
    resplits: int
    at_or_below: int  # re-splits whose tau is at or below the observed one

    @property
    def p_value(self) -> float:
        """The share of re-splits that shake the board at least as much (tau at or below
        the observed), counting the observed split itself: (1 + k) / (1 + resplits)."""
        return (1 + self.at_or_below) / (1 + self.resplits)


def shakeup(
    final_board,
    key,
    rank_by: str = DEFAULT_RANK_BY,
    resplits: int = RESPLITS,
    seed: int = SEED,
    public_board=None,
) -> Shakeup:
    """Kendall tau between the public and private `rank_by` scores of each participant's
    final file, against the taus of random stratified re-splits of the test set (same
    Public size per class): the shake-up that chance alone produces. `public_rank` is
    each participant's rank on `public_board` (the public leaderboard; default: the
    rank of the final file's public score)."""
    entries = [row.entry for row in final_board]
    observed = [
        [entry_value(e, split, rank_by, exact=True) for e in entries] for split in SPLIT_PAIR
    ]
    masks = _resplit_masks(key, resplits, seed)
    public_scores, private_scores = _resplit_scores(entries, key, masks, rank_by)
    taus = np.array(
        [kendall_tau(public_scores[:, r], private_scores[:, r]) for r in range(masks.shape[1])]
    )
    public_rank, private_rank = (competition_ranks(scores) for scores in observed)
    if public_board is not None:
        rank_of = {row.participant: row.rank for row in public_board}
        public_rank = [rank_of[row.participant] for row in final_board]
    tau = kendall_tau(*(np.asarray(_dense(scores)) for scores in observed))
    return Shakeup(
        participants=[row.participant for row in final_board],
        public_rank=public_rank,
        private_rank=private_rank,
        tau=tau,
        resplit_tau_mean=float(np.mean(taus)),
        resplit_tau_sd=float(np.std(taus)),
        resplits=resplits,
        at_or_below=int(np.count_nonzero(taus <= tau + 1e-12)),
    )


SPLIT_PAIR = ("public", "private")


def _resplit_masks(key, resplits: int, seed: int) -> np.ndarray:
    """(rows, resplits) 0/1 masks: each column a random Public split, stratified like
    the real one (the same number of Public rows in every class). Per class, the k
    smallest of uniform draws pick k rows in every re-split at once."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((len(key.labels), resplits), dtype=np.float32)
    for c in np.unique(key.labels):
        members = np.flatnonzero(key.labels == c)
        k = int(key.public[members].sum())
        picked = np.argsort(rng.random((resplits, len(members))), axis=1)[:, :k]
        masks[members[picked], np.arange(resplits)[:, None]] = 1
    return masks


def _resplit_scores(entries, key, masks: np.ndarray, rank_by: str, chunk: int = 64):
    """(participants, resplits) public and private scores of every re-split."""
    n_public = masks.sum(axis=0)  # the same in every column
    n_private = len(key.labels) - n_public
    if rank_by == "accuracy":
        hits = np.stack([e.predicted == key.labels for e in entries]).astype(np.float32)
        public_counts = hits @ masks  # exact: integers below 2**24
        private_counts = hits.sum(axis=1, keepdims=True) - public_counts
        return public_counts / n_public, private_counts / n_private
    k = len(key.classes)
    eye = np.eye(k, dtype=np.float32)
    true_onehot = eye[key.labels]
    true_public = masks.T @ true_onehot  # (resplits, classes)
    true_private = true_onehot.sum(axis=0) - true_public
    public, private = [], []
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        predicted = np.stack([eye[e.predicted] for e in part], axis=1)  # (n, p, k)
        tp = predicted * true_onehot[:, None, :]
        both = np.concatenate([tp, predicted], axis=2).reshape(len(key.labels), -1)
        counts = (masks.T @ both).reshape(masks.shape[1], len(part), 2, k)
        totals = both.sum(axis=0).reshape(len(part), 2, k)
        for split_counts, truth, out in (
            (counts, true_public, public),
            (totals[None] - counts, true_private, private),
        ):
            f1 = f1_from_counts(split_counts[:, :, 0], split_counts[:, :, 1], truth[:, None, :])
            out.append(f1.mean(axis=2).T)  # (p, resplits)
    return np.concatenate(public), np.concatenate(private)


def _dense(scores: list) -> list[int]:
    """Exact scores as dense integer ranks (equal scores equal), for kendall_tau."""
    order = {value: i for i, value in enumerate(sorted(set(scores)))}
    return [order[value] for value in scores]
