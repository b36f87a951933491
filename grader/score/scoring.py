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
out of the folder or to it, a name that breaks the identity rule of
grader.core.names). One bad file never stops the run.

Ranking: equal scores share a rank (1, 2, 2, 4), compared exactly as
fractions of the confusion counts; among equals the earlier submission is
listed first.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np

from grader.bundle.answers import AnswerKey
from grader.bundle.submission import SubmissionChecker
from grader.core import names
from grader.core.errors import UsageError
from grader.core.fileio import read_head_and_digest
from grader.folder.collected import MANIFEST_NAME, ManifestError, is_manifest, read_manifest
from grader.folder.layout import SELECTED_SUFFIX, participant_named, time_in_name
from grader.stats.metrics import Metrics, competition_ranks, metrics_from_confusion, score

MAX_SELECTED = 2
RENAME_HINT = "rename it with letters, digits, '-' or '_'"


@dataclass
class Entry:
    """One submission file and what became of it.

    `participant` is the identity of grader.core.names (the NFC name) when
    `identified`; a file whose name breaks the identity rule is not
    identified, shows its name escaped, and never reaches the board, a
    report, the history or the gradebook.
    """

    participant: str
    file: str  # path relative to the submissions folder, with /, printable
    submitted_at: datetime
    selected: bool = False
    status: str = ""  # scored | invalid | error ("valid" between checking and scoring)
    error: str = ""
    sha256: str = ""
    metrics: dict[str, Metrics] = field(default_factory=dict)
    predicted: np.ndarray | None = None  # class index per test row (scored files only)
    identified: bool = True
    name: str = field(default="", repr=False)  # the raw name that names the participant
    time_known: bool = True  # False: grader collect gave it the export's time (collected.csv)
    lms_late: bool | None = None  # the LMS's late mark (collected.csv; None: no mark)


@dataclass(frozen=True)
class BoardRow:
    """A participant's line on the leaderboard. Staff rows (the baseline, the TA's test
    files: --staff) are shown in score order but hold no rank."""

    rank: int | None
    participant: str
    entry: Entry
    scored_files: int
    staff: bool = False


def board_split(final: bool) -> str:
    """The split a board ranks by: Private for the final board, else Public."""
    return "private" if final else "public"


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
    try:
        top = _listing(folder)
    except OSError as exc:
        raise UsageError(
            f"{folder}: the submissions folder cannot be read ({exc.strerror or exc})."
        ) from None
    for item in top:
        if _skipped(item) or _is_manifest(item):
            continue
        link = _link_problem(item, root)
        if link or not item.is_dir():
            found.append(_candidate(participant_named(item.name), item.name, item, link, top=True))
            continue
        try:
            inside = _listing(item)
        except OSError as exc:
            reason = f"the folder cannot be read ({exc.strerror or exc})."
            found.append(_failed(item.name, item.name + "/", item, reason))
            continue
        for path in inside:
            if not _skipped(path):
                rel = f"{item.name}/{path.name}"
                found.append(_candidate(item.name, rel, path, _link_problem(path, root)))
    if not found:
        raise UsageError(
            f"{folder}: no .csv files found. Expected DIR/<participant>.csv or "
            "DIR/<participant>/*.csv."
        )
    _refuse_look_alikes([entry for entry, _ in found])
    return found


def _is_manifest(item: Path) -> bool:
    """grader collect's collected.csv (a regular file with the manifest's header)."""
    return item.name == MANIFEST_NAME and not item.is_symlink() and is_manifest(item)


def apply_manifest(entries: list[Entry], folder: Path) -> str:
    """Mark the files grader collect copied with what it learned: whether the time is
    known and the LMS's late mark. A row applies to the file at its path, else to the
    participant's file with its sha256 (a copy renamed since, e.g. to .selected.csv),
    so `entries` must have been read (check_entry). Returns a warning ('' when none):
    an unreadable manifest is ignored, never fatal."""
    path = folder / MANIFEST_NAME
    if not _is_manifest(path):
        return ""
    try:
        read = read_manifest(path)
    except (ManifestError, OSError) as exc:
        return (
            f"{path}: {exc}; it was ignored, so every file's time is read from its name "
            "and LMS late marks are not used. Run grader collect again to rewrite it."
        )
    rows = {row.file: row for row in read}
    by_content = {(names.identity(row.participant), row.sha256): row for row in read}
    for e in entries:
        row = rows.get(e.file) or by_content.get((e.participant, e.sha256))
        if row is not None and e.identified:
            e.time_known = row.time_known == "yes"
            e.lms_late = {"yes": True, "no": False}.get(row.lms_late)
    return ""


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _skipped(path: Path) -> bool:
    """Hidden files and folders and README files are not submissions (submissions/README.md
    is the kit's); a .csv file, or a folder, is always looked at, whatever its name."""
    name = path.name
    readme = name.lower().startswith("readme") and not name.lower().endswith(".csv")
    return name.startswith(".") or (readme and not path.is_dir())


def _link_problem(path: Path, root: Path) -> str:
    """Why a symbolic link is not followed ('' for a file that is no link): a link is
    never followed, whatever it points to."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=False)
    except (OSError, RuntimeError):  # a loop of links
        return "a symbolic link that loops; not followed."
    if target == root or target in root.parents:
        return (
            "a symbolic link to the submissions folder itself or a folder above it; not followed."
        )
    if root not in target.parents:
        return "a symbolic link leading outside the submissions folder; not followed."
    if not target.exists():
        return "a symbolic link to a file that does not exist; not followed."
    if target.is_dir():
        return (
            "a symbolic link to a folder; not followed (it would score another "
            "participant's files under this name)."
        )
    return (
        "a symbolic link to another file of the submissions folder; not followed (it would "
        "score that file under this name): copy the file instead."
    )


def _candidate(
    name: str, rel: str, path: Path, link_problem: str, top: bool = False
) -> tuple[Entry, Path | None]:
    """The entry of one file: `name` names its participant, `rel` is its path, `top`
    for a file directly in the submissions folder."""
    if link_problem:
        return _failed(name, rel, path, link_problem)
    for part, what in ((name, "participant name"), (path.name, "file name")):
        if problem := names.name_problem(part, participant=what == "participant name"):
            reason = f"the {what} '{names.shown(part)}' {problem}; {RENAME_HINT}."
            return _failed(name, rel, path, reason, identified=False)
    if path.is_dir():
        return _failed(
            name, rel + "/", path, "a folder nested too deep; put files in DIR/<participant>/*.csv."
        )
    if path.suffix.lower() != ".csv":
        reason = "not a .csv file; rename it to .csv if it is a submission."
        return _failed(name, rel, path, reason)
    selected = path.name.lower().endswith(SELECTED_SUFFIX)
    entry = Entry(names.identity(name), names.shown(rel), _submission_time(path, top), selected)
    entry.name = name
    return entry, path


def _failed(
    name: str, rel: str, path: Path, reason: str, identified: bool = True
) -> tuple[Entry, None]:
    participant = names.identity(name) if identified else names.shown(name)
    entry = Entry(participant, names.shown(rel), _submission_time(path), status="error")
    entry.error, entry.identified, entry.name = reason, identified, name
    return entry, None


def _refuse_look_alikes(entries: list[Entry]) -> None:
    """Names that differ only by case, spaces or normalisation: every file of each is an
    error."""
    spellings: dict[str, dict[str, Entry]] = {}  # clash key -> raw name -> its first entry
    for entry in entries:
        if entry.identified:
            spellings.setdefault(names.clash_key(entry.name), {}).setdefault(entry.name, entry)
    for entry in entries:
        alike = spellings.get(names.clash_key(entry.name), {}) if entry.identified else {}
        if len(alike) < 2:
            continue
        others = ", ".join(
            f"{names.spelled(other)} ({first.file})"
            for other, first in alike.items()
            if other != entry.name
        )
        reason = (
            f"the participant name {names.spelled(entry.name)} differs from {others} only by "
            "letter case, spaces or Unicode normalisation; one student, or two? Rename the "
            "files so that every participant has exactly one name."
        )
        entry.error = reason + (f" Also: {entry.error}" if entry.error else "")
        entry.status, entry.identified = "error", False
        entry.participant = names.shown(entry.name)


def _submission_time(path: Path, top: bool = False) -> datetime:
    """The time in the file's name (grader.folder.layout), else its modification time."""
    if (moment := time_in_name(path.name, top)) is not None:
        return moment
    try:
        return datetime.fromtimestamp(path.lstat().st_mtime, tz=timezone.utc)
    except OSError:
        return datetime.fromtimestamp(0, tz=timezone.utc)


# ----------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------


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


def score_entry(entry: Entry, key: AnswerKey) -> Entry:
    """Metrics of a validated file on every split; other entries are left as they are."""
    if entry.status == "valid":
        entry.status = "scored"
        entry.metrics = split_metrics(key, entry.predicted)
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


# ----------------------------------------------------------------------------
# Ranking
# ----------------------------------------------------------------------------


def exact_value(entry: Entry, split: str, rank_by: str) -> Fraction:
    """The ranking score as an exact fraction: what every comparison of scores uses."""
    return entry.metrics[split].exact(rank_by)


def leaderboard(
    entries: list[Entry],
    rank_by: str = "accuracy",
    final: bool = False,
    staff: frozenset[str] = frozenset(),
) -> list[BoardRow]:
    """One row per participant with a scored file, ranked.

    Public board: each participant's best public score. Final board: the best
    private score among the selected submissions (or the 2 best public ones).
    Participants in `staff` are placed by score but take no rank: the others are
    ranked as if they were not there.
    """
    split = board_split(final)
    by_participant: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.status == "scored" and entry.identified:
            by_participant.setdefault(entry.participant, []).append(entry)
    chosen = []
    for participant, own in by_participant.items():
        best = min(
            board_candidates(own, rank_by, final), key=lambda e: board_order(e, split, rank_by)
        )
        chosen.append((participant, best, len(own)))
    chosen.sort(key=lambda item: (*board_order(item[1], split, rank_by), item[0]))
    ranked = [item for item in chosen if item[0] not in staff]
    ranks = iter(competition_ranks([exact_value(best, split, rank_by) for _, best, _ in ranked]))
    return [
        BoardRow(None, participant, best, count, staff=True)
        if participant in staff
        else BoardRow(next(ranks), participant, best, count)
        for participant, best, count in chosen
    ]


def board_order(entry: Entry, split: str, rank_by: str) -> tuple:
    """Sort key: higher score first, then the earlier submission, then the file name."""
    return (-exact_value(entry, split, rank_by), entry.submitted_at, entry.file)


def board_candidates(own: list[Entry], rank_by: str, final: bool) -> list[Entry]:
    """The files of one participant a board chooses from: all of them on the public
    board; on the final board the selected ones (the 2 latest), else the 2 best public."""
    if not final:
        return own
    selected = sorted((e for e in own if e.selected), key=lambda e: e.submitted_at)
    if selected:
        return selected[-MAX_SELECTED:]
    return sorted(own, key=lambda e: board_order(e, "public", rank_by))[:MAX_SELECTED]
