"""Flags for the TA to review: copies, implausible scores, late files.

None of these decides anything: each flag names the participants and files
and says why. Some are computed from Private rows (near-identical uses every
test row), so flags live in the review folder, never in the public board.

* identical: byte-identical files (same sha256) from different participants, the
  untouched sample submission aside (every student may hand it in);
* near-identical: two participants' ranked files (sample submissions aside) that
  give the same wrong class on at least 90% of the test images either of them gets
  wrong (with at least 30 such images). Independent models share hard images, but each also
  has errors of its own; a copy with a few rows changed shares nearly all.
  A copy whose owner then fixed many of its errors is not caught by this rule
  (the price of finding pairs without comparing every pair);
* implausible: a public accuracy at or above a threshold (default 99%): the
  CIFAR-10 test labels are public, so a near-perfect score deserves a look at
  the code behind it;
* late: submitted after the student's deadline, or marked late by the LMS
  (grader.grades.late decides; its reason is the flag's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from grader.core.constants import PLAUSIBLE
from grader.score.entry import Entry, entry_value

SAME_ERRORS = 0.90
MIN_SHARED_ERRORS = 30
SIZE_STEP = 1.25  # error counts of one size class span at most this factor
HASH_CHUNK = 256  # files hashed at once (bounds memory at 5,000 files)
COMPARE_CHUNK = 1024  # candidate pairs compared at once


@dataclass(frozen=True)
class Flag:
    """One row of review/flags.csv."""

    # identical | near-identical | implausible | late | lookup (grader.stats.lookup)
    # | fresh-gap (grader.stats.fresh)
    kind: str
    participants: tuple[str, ...]
    files: tuple[str, ...]
    reason: str
    p_value: float | None = None  # where a test stands behind the flag


def integrity_flags(
    entries: list[Entry], board, key, plausible: float = PLAUSIBLE, late=None
) -> list[Flag]:
    """Every flag of a scoring run, in a stable order; `late` maps files to their
    grader.grades.late.Lateness (late or undecided)."""
    late = late or {}
    flags = _identical(entries) + _near_identical(board, key)
    for e in entries:
        if e.status == "scored" and entry_value(e, "public", "accuracy") >= plausible:
            flags.append(
                Flag(
                    kind="implausible",
                    participants=(e.participant,),
                    files=(e.file,),
                    reason=f"public accuracy {entry_value(e, 'public', 'accuracy'):.2%} is at or "
                    f"above {plausible:.0%}; CIFAR-10's test labels are public, "
                    "so check the code behind it",
                )
            )
        if e.file in late and e.identified:
            flags.append(
                Flag(
                    kind="late",
                    participants=(e.participant,),
                    files=(e.file,),
                    reason=late[e.file].reason,
                )
            )
    return flags


def _identical(entries: list[Entry]) -> list[Flag]:
    by_hash: dict[str, list] = defaultdict(list)
    for e in entries:
        if e.sha256 and not e.sample:
            by_hash[e.sha256].append(e)
    return [
        Flag(
            kind="identical",
            participants=tuple(dict.fromkeys(e.participant for e in same)),
            files=tuple(e.file for e in same),
            reason=f"byte-identical files (sha256 {digest[:12]}...) from "
            f"{len({e.participant for e in same})} participants",
        )
        for digest, same in sorted(by_hash.items(), key=lambda item: item[1][0].file)
        if len({e.participant for e in same}) > 1
    ]


def _near_identical(board, key) -> list[Flag]:
    """Pairs of ranked files that make nearly the same wrong predictions."""
    rows = [row for row in board if row.entry.predicted is not None and not row.entry.sample]
    if len(rows) < 2:
        return []
    predicted = np.stack([row.entry.predicted for row in rows])
    flags = []
    for i, j, same, either in near_identical_pairs(predicted, key.labels).pairs:
        a, b = rows[i].entry, rows[j].entry
        if a.sha256 == b.sha256:
            continue  # already flagged as identical
        flags.append(
            Flag(
                kind="near-identical",
                participants=(rows[i].participant, rows[j].participant),
                files=(a.file, b.file),
                reason=f"the same wrong class on {same} of the {either} test images either file "
                f"gets wrong (flagged from {SAME_ERRORS:.0%})",
            )
        )
    return flags


@dataclass(frozen=True)
class NearIdentical:
    """What `near_identical_pairs` found, and what it cost."""

    pairs: list[tuple[int, int, int, int]]  # (i, j, same wrong class, either wrong), i < j
    compared: int  # candidate pairs checked image by image


def near_identical_pairs(predicted: np.ndarray, labels: np.ndarray) -> NearIdentical:
    """Every pair of rows of `predicted` (files x test rows, class indices) that gives the
    same wrong class on at least 90% of the images either of the two gets wrong, with at
    least 30 such images; exact, without comparing every pair.

    Why it finds every such pair: say file a gets `na` images wrong and b gets `nb <= na`.
    The pair qualifies only if `same >= 0.9 * either`; as `either >= na` and `same <= nb`,
    that needs `nb >= 0.9 * na`, and the two disagree on `either - same <= na / 9` images.
    Files are put in size classes by error count: class c holds counts from `low` up to
    (not including) `high`, about 1.25 x `low`, and cuts the test images into
    `(high - 1) // 9 + 1` blocks, more than a pair whose larger file is in the class can
    disagree on; so the two predict identically on at least one whole block (pigeonhole).
    Each file gets a signature per block (a hash of its predictions there); sorting the
    signatures brings the files that match on a block together, and only those pairs are
    compared image by image. A file joins its own class, and the class above when it could
    be the smaller file of a pair there (`10 * nb >= 9 * low` of that class). Files with
    fewer than 30 errors join no class. Hash collisions only add candidates; the
    comparison is exact.

    Files with identical predictions are searched once, through one of them, and the
    pairs are then given for every member: a class of hundreds of copies of one file
    costs no more to search than one file.
    """
    if not len(predicted):
        return NearIdentical([], 0)
    first, group = _identical_rows(predicted)
    unique = predicted[first]
    found = _distinct_pairs(unique, labels)
    order = np.argsort(group, kind="stable")  # files of each group, in file order
    members = np.split(order, np.flatnonzero(np.diff(group[order])) + 1)
    pairs = []
    for a, b, same, either in found.pairs:
        pairs += [(min(i, j), max(i, j), same, either) for i in members[a] for j in members[b]]
    errors = (unique != labels[None, :]).sum(axis=1)
    for g, files in enumerate(members):
        if len(files) > 1 and errors[g] >= MIN_SHARED_ERRORS:
            e = int(errors[g])
            pairs += [(int(i), int(j), e, e) for k, i in enumerate(files) for j in files[k + 1 :]]
    return NearIdentical(sorted((int(i), int(j), s, e) for i, j, s, e in pairs), found.compared)


def _weights(m: int) -> np.ndarray:
    """Fixed odd 64-bit weights, one per test row: a block's hash is the wrapping sum of
    (prediction + 1) x weight. Equal blocks always hash alike; collisions only add
    candidates, which are then compared exactly."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 2**63, m, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _block_hashes(
    predicted: np.ndarray, rows: np.ndarray, weights: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """(len(rows), len(starts)) hashes of the blocks of `predicted[rows]` that begin at
    `starts`, HASH_CHUNK files at a time (bounds memory at 5,000 files)."""
    out = np.empty((len(rows), len(starts)), np.uint64)
    for lo in range(0, len(rows), HASH_CHUNK):
        values = predicted[rows[lo : lo + HASH_CHUNK]].astype(np.uint64) + np.uint64(1)
        out[lo : lo + HASH_CHUNK] = np.add.reduceat(values * weights, starts, axis=1)
    return out


def _identical_rows(predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each group of identical rows, group of every row): rows are grouped
    by a hash of the whole row, and a row joins a group only if it equals its first row."""
    whole_row = np.zeros(1, np.int64)
    hashes = _block_hashes(predicted, np.arange(len(predicted)), _weights(predicted.shape[1]),
                           whole_row)[:, 0]  # fmt: skip
    first: list[int] = []
    group = np.empty(len(predicted), np.int64)
    by_hash: dict[int, list[int]] = {}
    for i, h in enumerate(hashes.tolist()):
        for g in by_hash.setdefault(h, []):
            if np.array_equal(predicted[first[g]], predicted[i]):
                group[i] = g
                break
        else:
            by_hash[h].append(len(first))
            group[i] = len(first)
            first.append(i)
    return np.asarray(first, np.int64), group


def _distinct_pairs(predicted: np.ndarray, labels: np.ndarray) -> NearIdentical:
    """near_identical_pairs for files whose predictions all differ."""
    n, m = predicted.shape
    wrong = predicted != labels[None, :]
    errors = wrong.sum(axis=1)
    thresholds = [MIN_SHARED_ERRORS]
    while thresholds[-1] <= m:
        thresholds.append(max(thresholds[-1] + 1, int(thresholds[-1] * SIZE_STEP)))
    size_class = np.searchsorted(thresholds, errors, side="right") - 1  # -1: too few errors
    order = np.random.default_rng(0).permutation(m)  # fixed: never depends on the data
    weights = _weights(m)[order]
    permuted = predicted[:, order]  # blocks are runs of this fixed shuffle of the images
    candidates = []
    for c in range(len(thresholds) - 1):
        upper = thresholds[c + 1]
        members = np.flatnonzero(
            (size_class == c)
            | ((size_class == c - 1) & (c > 0) & (10 * errors >= 9 * thresholds[c]))
        )
        if len(members) < 2:
            continue
        starts = np.linspace(0, m, (upper - 1) // 9 + 2).astype(np.int64)[:-1]
        signatures = _block_hashes(permuted, members, weights, starts)
        candidates.append(_matching(members, signatures, n))
    pairs = np.unique(np.concatenate(candidates)) if candidates else np.empty(0, np.int64)
    first, second = pairs // n, pairs % n
    found = []
    for lo in range(0, len(pairs), COMPARE_CHUNK):
        i, j = first[lo : lo + COMPARE_CHUNK], second[lo : lo + COMPARE_CHUNK]
        either = (wrong[i] | wrong[j]).sum(axis=1)
        same = ((predicted[i] == predicted[j]) & wrong[i]).sum(axis=1)
        for k in np.flatnonzero((same >= MIN_SHARED_ERRORS) & (10 * same >= 9 * either)):
            found.append((int(i[k]), int(j[k]), int(same[k]), int(either[k])))
    return NearIdentical(found, len(pairs))


def _matching(members: np.ndarray, signatures: np.ndarray, n: int) -> np.ndarray:
    """Pairs `i * n + j` (i < j, indices into the whole set of files) of members with the
    same signature on some block."""
    n_members, n_blocks = signatures.shape
    block = np.repeat(np.arange(n_blocks)[None, :], n_members, axis=0).ravel()
    file = np.repeat(members, n_blocks)
    flat = signatures.ravel()
    sort = np.lexsort((file, flat, block))
    block, flat, file = block[sort], flat[sort], file[sort]
    new_run = np.ones(len(flat), bool)
    new_run[1:] = (block[1:] != block[:-1]) | (flat[1:] != flat[:-1])
    run_start = np.flatnonzero(new_run)
    run_length = np.diff(np.append(run_start, len(flat)))
    out = []
    for start, length in zip(run_start[run_length > 1], run_length[run_length > 1], strict=True):
        group = file[start : start + length]
        a, b = np.triu_indices(length, 1)
        out.append(group[a] * n + group[b])
    return np.concatenate(out) if out else np.empty(0, np.int64)
