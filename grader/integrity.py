"""Flags for the TA to review: copies, implausible scores, late files.

None of these decides anything: each flag names the participants and files
and says why. Some are computed from Private rows (near-identical uses every
test row), so flags live in the review folder, never in the public board.

* identical: byte-identical files (same sha256) from different participants;
* near-identical: two participants' ranked files that make the same wrong
  prediction on at least 90% of the test images both get wrong (with at least
  30 such images). Independent models share hard images but usually not the
  wrong class on nearly all of them: a copy shares both;
* implausible: a public accuracy at or above a threshold (default 99%): the
  CIFAR-10 test labels are public, so a near-perfect score deserves a look at
  the code behind it;
* late: submitted after `deadline` (which must carry a timezone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np

SAME_ERRORS = 0.90
MIN_SHARED_ERRORS = 30
PLAUSIBLE = 0.99


@dataclass(frozen=True)
class Flag:
    """One row of review/flags.csv."""

    kind: str  # identical | near-identical | implausible | late
    participants: tuple[str, ...]
    files: tuple[str, ...]
    reason: str
    p_value: float | None = None  # where a test stands behind the flag


def integrity_flags(
    entries, board, key, plausible: float = PLAUSIBLE, deadline: datetime | None = None
) -> list[Flag]:
    """Every flag of a scoring run, in a stable order."""
    flags = _identical(entries) + _near_identical(board, key)
    for e in entries:
        if e.status == "scored" and e.metrics["public"].accuracy >= plausible:
            flags.append(
                Flag(
                    "implausible",
                    (e.participant,),
                    (e.file,),
                    f"public accuracy {e.metrics['public'].accuracy:.2%} is at or "
                    f"above {plausible:.0%}; CIFAR-10's test labels are public, "
                    "so check the code behind it",
                )
            )
        if deadline is not None and e.submitted_at > deadline:
            flags.append(
                Flag(
                    "late",
                    (e.participant,),
                    (e.file,),
                    f"submitted {e.submitted_at.isoformat(timespec='seconds')}, "
                    f"after the deadline {deadline.isoformat(timespec='seconds')}",
                )
            )
    return flags


def _identical(entries) -> list[Flag]:
    by_hash: dict[str, list] = defaultdict(list)
    for e in entries:
        if e.sha256:
            by_hash[e.sha256].append(e)
    return [
        Flag(
            "identical",
            tuple(dict.fromkeys(e.participant for e in same)),
            tuple(e.file for e in same),
            f"byte-identical files (sha256 {digest[:12]}...) from "
            f"{len({e.participant for e in same})} participants",
        )
        for digest, same in sorted(by_hash.items(), key=lambda item: item[1][0].file)
        if len({e.participant for e in same}) > 1
    ]


def _near_identical(board, key) -> list[Flag]:
    """Pairs of ranked files that share most of their wrong predictions."""
    rows = [row for row in board if row.entry.predicted is not None]
    if len(rows) < 2:
        return []
    predicted = np.stack([row.entry.predicted for row in rows])
    wrong = predicted != key.labels[None, :]
    flags = []
    for i in range(len(rows)):
        both_wrong = wrong[i] & wrong[i + 1 :]  # (later rows, n)
        same = both_wrong & (predicted[i] == predicted[i + 1 :])
        shared, identical = both_wrong.sum(axis=1), same.sum(axis=1)
        for offset in np.flatnonzero(
            (shared >= MIN_SHARED_ERRORS) & (identical >= SAME_ERRORS * shared)
        ):
            a, b = rows[i].entry, rows[i + 1 + offset].entry
            if a.sha256 == b.sha256:
                continue  # already flagged as identical
            flags.append(
                Flag(
                    "near-identical",
                    (rows[i].participant, rows[i + 1 + offset].participant),
                    (a.file, b.file),
                    f"the same wrong class on {identical[offset]} of the {shared[offset]} test "
                    f"images both get wrong (flagged from {SAME_ERRORS:.0%})",
                )
            )
    return flags
