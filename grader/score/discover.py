"""Finding the submission files of a folder, and whose they are.

Layout of the folder (the TA collects files this way, see submissions/README.md):

* ``DIR/<participant>.csv``: one file for a participant;
* ``DIR/<participant>/<any>.csv``: several files for a participant.

A ``.csv.txt`` file is read as CSV (with a note); ``.xlsx``, ``.xls``, ``.ods`` and
``.tsv`` files are listed as not scored, with the fix (grader.folder.layout).

Submission time: a timestamp at the start of the file name
(``2026-11-20T14-03-05_...``, ``2026-11-20_1403_...`` or ``20261120-140305...``,
read as UTC), else the file's modification time. grader collect's collected.csv
adds whether that time is known and the LMS's late mark (apply_manifest); a copy
of an export whose row is gone is recognised by collect's stamp (its modification
time is its name's time) and its time is unknown.

Every file found gets an Entry; an unusable one (unreadable, not a regular file,
a link leading out of the folder or to it, a name that breaks the identity rule
of grader.core.names) is an ``error`` entry with its reason. One bad file never
stops the run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from grader.core import names
from grader.core.errors import UsageError
from grader.core.fileio import is_system_file
from grader.folder.collected import MANIFEST_NAME, ManifestError, is_manifest, read_manifest
from grader.folder.layout import (
    CSV_TXT_NOTE,
    NOT_CSV,
    SELECTED_SUFFIX,
    participant_named,
    time_in_name,
    upload_suffix,
)
from grader.score.entry import Entry

RENAME_HINT = "rename it with letters, digits, '-' or '_'"


def discover(folder: Path) -> list[tuple[Entry, Path | None]]:
    """List every submission file in `folder`, with an error entry for each unusable one."""
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise UsageError(
            f"{folder}: {what}. Pass the folder of collected submissions "
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


def apply_manifest(entries: list[Entry], folder: Path) -> list[str]:
    """Mark the files grader collect copied with what it learned: whether the time is
    known and the LMS's late mark (docs/grading-rules.md 1.6 and 1.7). A row applies to
    the file at its path, else to the participant's file with its sha256 (a copy renamed
    since, e.g. to .selected.csv), else, when the row's own file is gone, to the file
    with its sha256 alone (a renamed participant folder), if the rows with that sha256
    agree. `entries` must have been read (check_entry). A file with no row whose name's
    time is collect's stamp of an export time (`_stamped`) is marked time unknown and
    `row_lost`. Returns warnings: an unreadable manifest (ignored, never fatal), the
    files matched by content alone."""
    path = folder / MANIFEST_NAME
    read: list = []
    warnings = []
    if _is_manifest(path):
        try:
            read = read_manifest(path)
        except (ManifestError, OSError) as exc:
            warnings.append(
                f"{path}: {exc}; it was ignored, so every file's time is read from its name "
                "and LMS late marks are not used. Run grader collect again to rewrite it."
            )
    rows = {row.file: row for row in read}
    by_content = {(names.identity(row.participant), row.sha256): row for row in read}
    present = {e.file for e in entries}
    gone: dict[str, list] = {}  # sha256 -> rows whose file is no longer there
    for row in read:
        if row.file not in present:
            gone.setdefault(row.sha256, []).append(row)
    moved = []
    for e in entries:
        if not e.identified:
            continue
        row = rows.get(e.file) or by_content.get((e.participant, e.sha256))
        same = gone.get(e.sha256, []) if row is None else []
        if same and len({(r.time_known, r.lms_late) for r in same}) == 1:
            row = same[0]
            moved.append(f"{e.file} was collected as {same[0].file}")
        if row is not None:
            e.time_known = row.time_known == "yes"
            e.lms_late = {"yes": True, "no": False}.get(row.lms_late)
        elif _stamped(e, folder):
            e.time_known, e.row_lost = False, True
    if moved:
        shown = "; ".join(moved[:3]) + ("; ..." if len(moved) > 3 else "")
        warnings.append(
            f"{len(moved)} file(s) matched their collected.csv row by content (sha256) alone: "
            f"their folder or name changed since grader collect. {shown}."
        )
    return warnings


def _stamped(e: Entry, folder: Path) -> bool:
    """Whether a file in a participant folder carries grader collect's stamp of an export
    time: its modification time equals its name's time to the second (collect sets it so
    for the Canvas, Moodle and GitHub Classroom files whose names carry no time)."""
    if "/" not in e.file or time_in_name(e.file.rsplit("/", 1)[1]) is None:
        return False
    try:
        modified = int((folder / e.file).lstat().st_mtime)
    except OSError:
        return False
    return modified == int(e.submitted_at.timestamp())


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _skipped(path: Path) -> bool:
    """Hidden files and folders, README files and what an OS or office program leaves
    behind (Thumbs.db, desktop.ini: fileio.is_system_file) are not submissions
    (submissions/README.md is the kit's); a .csv file, or a folder, is always looked at,
    whatever its name."""
    name = path.name
    readme = name.lower().startswith("readme") and not name.lower().endswith(".csv")
    return name.startswith(".") or ((readme or is_system_file(name)) and not path.is_dir())


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
    suffix = upload_suffix(path.name)
    if not suffix:
        reason = "not a .csv file; rename it to .csv if it is a submission."
        return _failed(name, rel, path, reason)
    if suffix in NOT_CSV:
        return _failed(name, rel, path, NOT_CSV[suffix])
    selected = path.name.lower().endswith(SELECTED_SUFFIX)
    entry = Entry(
        participant=names.identity(name),
        file=names.shown(rel),
        submitted_at=_submission_time(path, top),
        selected=selected,
    )
    entry.name = name
    entry.note = CSV_TXT_NOTE if suffix == ".csv.txt" else ""
    return entry, path


def _failed(
    name: str, rel: str, path: Path, reason: str, identified: bool = True
) -> tuple[Entry, None]:
    participant = names.identity(name) if identified else names.shown(name)
    entry = Entry(
        participant=participant,
        file=names.shown(rel),
        submitted_at=_submission_time(path),
        status="error",
    )
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
