"""The stratified split the kit makes twice: the bundle's Public/Private test rows
(grader.bundle.prepare) and the baseline's validation rows (baseline/lesson.py).

A module of its own, NumPy only, so that the students' lesson imports a helper and
not the TA's bundle builder (`baseline` may import `grader`, never the reverse).
"""

from __future__ import annotations

import numpy as np


def stratified_mask(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Choose round(fraction x n) rows, the same fraction of each class, at random.

    Class quotas are floor(fraction x class count), and the rows still missing
    from the total go to the classes with the largest remainders.
    """
    counts = np.bincount(labels)
    exact = counts * fraction
    quota = np.floor(exact).astype(np.int64)
    missing = round(len(labels) * fraction) - int(quota.sum())
    quota[np.argsort(quota - exact, kind="stable")[:missing]] += 1
    mask = np.zeros(len(labels), dtype=bool)
    for index, k in enumerate(quota):
        members = np.flatnonzero(labels == index)
        mask[rng.choice(members, size=min(k, len(members)), replace=False)] = True
    return mask
