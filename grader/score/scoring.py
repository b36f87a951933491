"""Reading, validating and scoring one submission file against the hidden labels.

Every file gets a status: ``scored``, ``invalid`` (the validator's problems are
the reason) or ``error`` (unreadable, not a regular file; discover's own errors
arrive already set). One bad file never stops the run.
"""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np

from grader.bundle.answers import AnswerKey
from grader.bundle.files import sample_labels
from grader.bundle.submission import SubmissionChecker
from grader.core.fileio import read_head_and_digest
from grader.score.discover import discover
from grader.score.entry import Entry
from grader.stats.metrics import Metrics, metrics_from_confusion, score


def check_entry(entry: Entry, path: Path | None, checker: SubmissionChecker) -> Entry:
    """Read and validate one file (its predictions go to `entry.predicted`); record why
    when it cannot be scored."""
    if entry.status or path is None:
        return entry
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            entry.status, entry.error = "error", "not a regular file; not read."
            return entry
        data, entry.sha256 = read_head_and_digest(path, checker.max_bytes + 1)
    except OSError as exc:
        entry.status, entry.error = "error", f"cannot be read ({exc.strerror or exc})."
        return entry
    checked = checker.check_bytes(data, entry.file)
    if not checked.valid:
        entry.status, entry.error = "invalid", " ".join(checked.problems)
        return entry
    entry.status = "valid"
    entry.predicted = checked.labels
    return entry


SAMPLE_NOTE = "sample submission, scored at chance"


def score_entry(entry: Entry, key: AnswerKey) -> Entry:
    """Metrics of a validated file on every split; other entries are left as they are.
    The untouched sample submission (its predictions, whatever its bytes) is scored like
    any file and marked, so that it is never taken for a copy (docs/grading-rules.md 2.3)."""
    if entry.status == "valid":
        entry.status = "scored"
        entry.metrics = split_metrics(key, entry.predicted)
        if np.array_equal(entry.predicted, sample_labels(key.ids, len(key.classes))):
            entry.sample = True
            entry.note = "; ".join(n for n in (SAMPLE_NOTE, entry.note) if n)
    return entry


def split_metrics(key: AnswerKey, predicted: np.ndarray) -> dict[str, Metrics]:
    """Metrics on the Public split, the Private split and the whole test set."""
    n_classes = len(key.classes)
    result = {
        split: score(key.labels[key.mask(split)], predicted[key.mask(split)], n_classes)
        for split in ("public", "private")
    }
    confusion = result["public"].confusion + result["private"].confusion
    result["all"] = metrics_from_confusion(confusion)
    return result


def check_folder(folder: Path, key: AnswerKey) -> list[Entry]:
    """Every file of a submissions folder, read and validated (not yet scored)."""
    checker = SubmissionChecker(key)
    return [check_entry(entry, path, checker) for entry, path in discover(folder)]


def score_folder(folder: Path, key: AnswerKey) -> list[Entry]:
    """Score every file of a submissions folder against the solution."""
    return [score_entry(entry, key) for entry in check_folder(folder, key)]
