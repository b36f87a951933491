"""Score a folder of submissions and rank them, Kaggle-style (`grader score`).

Layout of the folder (the TA collects files this way, see submissions/README.md):

* ``DIR/<participant>.csv``: one file for a participant;
* ``DIR/<participant>/<any>.csv``: several files for a participant.

Submission time: a timestamp at the start of the file name
(``2026-11-20T14-03-05_...``, ``2026-11-20_1403_...`` or ``20261120-140305...``,
read as UTC), else the file's modification time.

Selected submissions (for the final board): a file whose name ends in
``.selected.csv``. Kaggle lets a participant select up to 2; with more, the 2
latest count. With none selected, the participant's 2 best public scores count.

Every file gets a status: ``scored``, ``invalid`` (the validator's problems
are the reason) or ``error`` (unreadable, not a regular file, a link leading
out of the folder). One bad file never stops the run.

Ranking: equal unrounded scores share a rank (1, 2, 2, 4); among equals the
earlier submission is listed first.
"""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from grader.answers import AnswerKey
from grader.errors import UsageError
from grader.metrics import Metrics, metrics_from_confusion, score
from grader.submission import SubmissionChecker

SPLITS = ("public", "private", "all")
MAX_SELECTED = 2
SELECTED_SUFFIX = ".selected.csv"
_TIMESTAMP = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[-:h]?(\d{2})(?:[-:m]?(\d{2}))?(?!\d)"
)


@dataclass
class Entry:
    """One submission file and what became of it."""

    participant: str
    file: str  # path relative to the submissions folder, with /
    submitted_at: datetime
    selected: bool = False
    status: str = ""  # scored | invalid | error
    error: str = ""
    sha256: str = ""
    metrics: dict[str, Metrics] = field(default_factory=dict)


@dataclass(frozen=True)
class BoardRow:
    """A participant's line on the leaderboard."""

    rank: int
    participant: str
    entry: Entry
    scored_files: int


# ----------------------------------------------------------------------------
# Finding the files
# ----------------------------------------------------------------------------


def discover(folder: Path) -> list[tuple[Entry, Path | None]]:
    """List every submission file in `folder`, with an error entry for each unusable one."""
    if not folder.is_dir():
        raise UsageError(
            f"{folder}: no such folder. Pass the folder of collected submissions "
            "(DIR/<participant>.csv or DIR/<participant>/*.csv)."
        )
    root = folder.resolve()
    found: list[tuple[Entry, Path | None]] = []
    for item in sorted(folder.iterdir()):
        if item.name.startswith("."):
            continue
        if item.suffix.lower() == ".csv":
            found.append((_entry(item.stem, item.name, item, root), item))
        elif item.is_dir() and _leaves(item, root):
            found.append((_entry(item.name, item.name + "/", item, root), None))
        elif item.is_dir():
            for path in _participant_files(item):
                found.append((_entry(item.name, f"{item.name}/{path.name}", path, root), path))
    if not found:
        raise UsageError(
            f"{folder}: no .csv files found. Expected DIR/<participant>.csv or "
            "DIR/<participant>/*.csv."
        )
    return found


def _participant_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix.lower() == ".csv"
    )


def _leaves(path: Path, root: Path) -> bool:
    """Whether a link leads outside the submissions folder."""
    if not path.is_symlink():
        return False
    target = path.resolve()
    return target != root and root not in target.parents


def _entry(participant: str, rel: str, path: Path, root: Path) -> Entry:
    selected = path.name.lower().endswith(SELECTED_SUFFIX)
    entry = Entry(participant, rel, _submission_time(path), selected)
    if _leaves(path, root):
        entry.status = "error"
        entry.error = "a symbolic link leading outside the submissions folder; not followed."
    return entry


def _submission_time(path: Path) -> datetime:
    match = _TIMESTAMP.match(path.name)
    if match:
        parts = [int(p) for p in match.groups(default="0")]
        try:
            return datetime(*parts, tzinfo=timezone.utc)
        except ValueError:
            pass  # not a real date: fall back to the file's time
    try:
        return datetime.fromtimestamp(path.lstat().st_mtime, tz=timezone.utc)
    except OSError:
        return datetime.fromtimestamp(0, tz=timezone.utc)


# ----------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------


def score_entry(entry: Entry, path: Path | None, checker: SubmissionChecker) -> Entry:
    """Validate and score one file; record why when it cannot be scored."""
    if entry.status or path is None:
        return entry
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            entry.status, entry.error = "error", "not a regular file; not read."
            return entry
        with path.open("rb") as f:
            data = f.read(checker.max_bytes + 1)
    except OSError as exc:
        entry.status, entry.error = "error", f"cannot be read ({exc.strerror or exc})."
        return entry
    entry.sha256 = hashlib.sha256(data).hexdigest()
    checked = checker.check_bytes(data, entry.file)
    if not checked.valid:
        entry.status, entry.error = "invalid", " ".join(checked.problems)
        return entry
    entry.status = "scored"
    entry.metrics = split_metrics(checker.key, checked.labels)
    return entry


def split_metrics(key: AnswerKey, predicted: np.ndarray) -> dict[str, Metrics]:
    """Metrics on the Public split, the Private split and the whole test set."""
    n_classes = len(key.classes)
    masks = {"public": key.public, "private": ~key.public}
    result = {name: score(key.labels[m], predicted[m], n_classes) for name, m in masks.items()}
    confusion = result["public"].confusion + result["private"].confusion
    result["all"] = metrics_from_confusion(confusion)
    return result


def score_folder(folder: Path, key: AnswerKey) -> list[Entry]:
    """Score every file of a submissions folder against the solution."""
    checker = SubmissionChecker(key)
    return [score_entry(entry, path, checker) for entry, path in discover(folder)]


# ----------------------------------------------------------------------------
# Ranking
# ----------------------------------------------------------------------------


def value(entry: Entry, split: str, rank_by: str) -> float:
    """The score an entry is ranked by on a split."""
    return getattr(entry.metrics[split], rank_by)


def leaderboard(
    entries: list[Entry], rank_by: str = "accuracy", final: bool = False
) -> list[BoardRow]:
    """One row per participant with a scored file, ranked.

    Public board: each participant's best public score. Final board: the best
    private score among the selected submissions (or the 2 best public ones).
    """
    split = "private" if final else "public"
    by_participant: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.status == "scored":
            by_participant.setdefault(entry.participant, []).append(entry)
    chosen = []
    for participant, own in by_participant.items():
        candidates = _final_candidates(own, rank_by) if final else own
        best = min(candidates, key=lambda e: _order(e, split, rank_by))
        chosen.append((participant, best, len(own)))
    chosen.sort(key=lambda item: (*_order(item[1], split, rank_by), item[0]))
    scores = [value(best, split, rank_by) for _, best, _ in chosen]
    return [
        BoardRow(1 + sum(s > scores[i] for s in scores), participant, best, count)
        for i, (participant, best, count) in enumerate(chosen)
    ]


def _order(entry: Entry, split: str, rank_by: str) -> tuple:
    """Sort key: higher score first, then the earlier submission, then the file name."""
    return (-value(entry, split, rank_by), entry.submitted_at, entry.file)


def _final_candidates(own: list[Entry], rank_by: str) -> list[Entry]:
    selected = sorted((e for e in own if e.selected), key=lambda e: e.submitted_at)
    if selected:
        return selected[-MAX_SELECTED:]
    return sorted(own, key=lambda e: _order(e, "public", rank_by))[:MAX_SELECTED]
