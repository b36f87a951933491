"""`grader collect`: the class's CSV files from LMS exports into the layout grader score reads.

Kaggle's API gives a host no participant's file, so the files arrive through the
LMS's "download all submissions" export. `collect` reads zips or folders
(grader.collect.exports), tells the LMS from the names (grader.collect.lms), maps each file to a
student through the roster (grader.folder.roster) and copies, never moves, every CSV to

    DIR/<participant>/<YYYY-MM-DDTHH-MM-SS>_<original name>.csv

(UTC; the timestamp grader score reads). Canvas, Moodle and GitHub Classroom
names carry no time: such a file gets the time of its entry in the export
(usually the export's own time) and is marked "time unknown" in the manifest
`DIR/collected.csv` (grader.folder.collected), so that deadline rules use the LMS's late
mark instead. Its modification time is set to that time too, the stamp by which grader
score knows it for an export's time when its manifest row is gone.

* Idempotent: a file whose content the participant already has (in the manifest
  or in their folder) is not copied again; a later export adds only what is new.
* Safe: nothing is extracted by the export's own paths; entries with `..`,
  absolute paths or links are refused and reported; every file is read up to
  `--max-size` (and all of them up to MAX_TOTAL); every copy is written
  atomically and never replaces a file; the manifest is replaced atomically; a
  lock beside DIR keeps a second run out; Ctrl-C lands between two files (it is
  held back while one is placed) and keeps what was copied, listed.
* Honest: every file of an export is accounted for: copied (a CSV file, or a
  spreadsheet a student uploaded for one: .csv.txt, .tsv, .xlsx, .xls, .ods, which
  grader score lists with the fix), already there, listed (receipts, notes,
  online-text entries), refused (a compressed
  file too: Kaggle takes a zipped CSV, grader score does not), or matched to no
  roster student. Exit 0 when every CSV was placed, 1 when a file was refused or
  unmatched, 2 for a usage error (nothing copied) or a manifest that could not be
  written (the copies stay, and the next run lists them), 130 on Ctrl-C (the CLI).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from grader.collect.exports import Export, Item, TooLarge, open_export
from grader.collect.lms import (
    FORMATS,
    ID_COLUMN,
    LABEL,
    SEPARATOR,
    Parsed,
    User,
    Zone,
    classroom_top,
    detect,
    parse,
    settle_users,
)
from grader.collect.options import CollectOptions
from grader.core import names
from grader.core.errors import UsageError
from grader.core.fileio import (
    exclusive_lock,
    file_digest,
    is_system_file,
    relation,
    signals_held,
    write_bytes_atomically,
    write_text_atomically,
)
from grader.core.text import table, terminal_text, time_text
from grader.folder.collected import MANIFEST_NAME, ManifestError, Row, manifest_text, read_manifest
from grader.folder.layout import participant_named, timestamp_text, upload_suffix
from grader.folder.roster import Roster, Student, key_problem, read_roster

MAX_TOTAL = 2 << 30  # bytes read from all exports of one run (a zip bomb of many entries)
# Archives Kaggle takes as a submission (a zipped CSV), or that hold one: never a note.
COMPRESSED = (".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar")
MAX_NAME_BYTES = 150  # of the original name kept in the copy's name (file names: 255 bytes)


# What became of a file of an export ("" until decided): copied; already in DIR; listed
# (not a CSV, not copied); refused; unmatched (no student).
OutcomeKind = Literal["", "copied", "already", "listed", "refused", "unmatched"]


@dataclass
class Outcome:
    """One file of an export and what became of it."""

    export: str
    entry: str
    kind: OutcomeKind
    reason: str = ""
    participant: str = ""
    file: str = ""  # where it is in DIR (copied or already there)


@dataclass
class Collection:
    """Everything one run did: per export, per file, and the manifest after it."""

    options: CollectOptions
    zone: Zone
    roster: Roster | None
    exports: list[tuple[str, str, str]] = field(default_factory=list)  # label, format, note
    outcomes: list[Outcome] = field(default_factory=list)
    manifest: list[Row] = field(default_factory=list)
    by_name: list[str] = field(default_factory=list)  # matches on Moodle's full name
    interrupted: bool = False
    manifest_error: str = ""  # collected.csv could not be written

    @property
    def exit_code(self) -> int:
        """0 when every CSV was placed, 1 when one was refused or matched no student, 2 when
        the manifest could not be written."""
        if self.manifest_error:
            return 2
        return 1 if any(o.kind in ("refused", "unmatched") for o in self.outcomes) else 0


def collect(
    options: CollectOptions, warn: Callable[[str], None] = lambda message: None
) -> Collection:
    """Run `grader collect`; UsageError (nothing copied) for a bad flag, path or export."""
    zone = _zone(options.timezone)
    if options.format not in ("auto", *FORMATS):
        raise UsageError(f"--format {options.format}: use auto or one of {', '.join(FORMATS)}.")
    if not (math.isfinite(options.max_size) and options.max_size > 0):
        raise UsageError(
            f"--max-size {options.max_size:g}: give a finite size in MB above 0, e.g. 10."
        )
    _check_into(options)
    roster = read_roster(options.roster, warn) if options.roster is not None else None
    result = Collection(options=options, zone=zone, roster=roster)
    exports = _open_all(options.exports, zone)
    try:
        with exclusive_lock(options.into, "--into", "grader collect"):
            options.into.mkdir(parents=True, exist_ok=True)
            _Run(result).collect(exports)
    finally:
        for export in exports:
            export.close()
    return result


def _zone(text: str) -> Zone:
    try:
        return Zone(text)
    except ValueError as exc:
        raise UsageError(f"--timezone: {exc}.") from None


def _check_into(options: CollectOptions) -> None:
    """--into must be a folder (or not exist yet), no link, and apart from every export."""
    into = options.into
    if into.is_symlink():
        raise UsageError(
            f"--into {into}: a symbolic link; pass the folder it points to "
            f"({into.resolve()}) instead."
        )
    if into.exists() and not into.is_dir():
        raise UsageError(f"--into {into}: a file, not a folder. Choose a folder.")
    place = into.absolute().resolve()
    for export in options.exports:
        how = relation(export.absolute().resolve(), place)
        if how in ("is", "inside"):
            raise UsageError(
                f"{export}: lies inside --into {into}, where grader score would take it for a "
                "submission (and collect would read its own copies). Keep exports apart."
            )
        if how == "contains" and export.is_dir():
            raise UsageError(
                f"--into {into}: lies inside the export {export}; collect into a folder apart."
            )


def _open_all(paths: tuple[Path, ...], zone: Zone) -> list[Export]:
    """Every export opened before anything is copied: one that cannot be read stops the
    run (exit 2) with nothing copied."""
    if not paths:
        raise UsageError("no export given: pass the LMS's .zip file(s) or folder(s).")
    opened: list[Export] = []
    try:
        for path in paths:
            opened.append(open_export(path, zone))
    except UsageError:
        for export in opened:
            export.close()
        raise
    return opened


class _Run:
    """One collect run into options.into: state shared by every file it places."""

    def __init__(self, result: Collection) -> None:
        self.result = result
        self.into = result.options.into
        self.limit = int(result.options.max_size * 1_000_000)
        self.read_total = 0
        self.rows = self._manifest()
        self.have = {(r.participant, r.sha256): r.file for r in self.rows}
        self.listed = set(r.file for r in self.rows)
        self.on_disk: dict[str, dict[str, str]] = {}  # participant -> sha256 -> file
        self.shared_names: dict[str, list[str]] = {}  # see _shared_names
        self.conflicts: dict[tuple[str, str], str] = {}  # see _user_conflicts
        # Spelled as on disk: an NFD folder copied from a Mac is not the NFC name a roster
        # gives, though grader score reads both as one participant (and refuses the pair).
        self.spelled = {names.clash_key(p): p for p in _top_participants(self.into)}
        self.now = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def _manifest(self) -> list[Row]:
        path = self.into / MANIFEST_NAME
        if not path.exists():
            return []
        if path.is_symlink() or not path.is_file():
            raise UsageError(f"{path}: not a regular file; move it away and run again.")
        try:
            return read_manifest(path)
        except (ManifestError, OSError) as exc:
            raise UsageError(
                f"{path}: {exc}. It is grader collect's manifest: fix it, or move it away "
                "(the files already copied stay where they are)."
            ) from None

    def collect(self, exports: list[Export]) -> None:
        """Place every file of every export; the manifest is written even on Ctrl-C."""
        before = len(self.rows)
        try:
            readings = [self._read_export(export) for export in exports]
            if self.result.roster is None:
                self.shared_names = self._shared_names(readings)
                self.conflicts = self._user_conflicts(readings)
            for export, reading in zip(exports, readings, strict=True):
                if reading is not None:
                    self._place_export(export, reading)
        except KeyboardInterrupt:
            self.result.interrupted = True
        finally:
            self.result.manifest = self.rows
            if len(self.rows) != before:
                self._write_manifest()

    def _write_manifest(self) -> None:
        path = self.into / MANIFEST_NAME
        try:
            write_text_atomically(path, manifest_text(self.rows))
        except OSError as exc:
            self.result.manifest_error = (
                f"{path} could not be written ({exc.strerror or exc}): the files above were "
                "copied, but grader score will not know their times and late marks. Free the "
                "space or fix the permissions, then run grader collect again: it finds the "
                "copies and lists them."
            )

    def _read_export(self, export: Export) -> _Reading | None:
        """The export's format and what each file's name says (None for an empty export)."""
        options, zone = self.result.options, self.result.zone
        if not export.items:
            self.result.exports.append(
                (export.label, "empty", "no files in it: download it again?")
            )
            return None
        paths = [item.parts for item in export.items if not item.problem]
        if options.format == "auto":
            fmt, count = detect(paths, zone, export.stem)
            note = (
                f"detected: {count} of {len(paths)} file(s) follow its naming"
                if fmt != "folder"
                else "detected: no LMS naming, read as <participant>.csv or <participant>/*.csv"
            )
        else:
            fmt, note = options.format, "--format"
        if fmt == "blackboard":
            note += f"; attempt times read in {zone} (--timezone)"
        self.result.exports.append((export.label, LABEL[fmt], note))
        top = classroom_top(paths, export.stem) or 0
        parsed = {id(item): parse(fmt, item.parts, zone, top) for item in export.items}
        users = self._users(fmt, [p for p in parsed.values() if p is not None])
        return _Reading(LABEL[fmt], parsed, users)

    def _place_export(self, export: Export, reading: _Reading) -> None:
        for item in export.items:
            # Ctrl-C lands between files: a copy and its manifest row are made together.
            with signals_held():
                outcome = self._item(export, item, reading.parsed[id(item)], reading)
                self.result.outcomes.append(outcome)

    def _shared_names(self, readings: list[_Reading | None]) -> dict[str, list[str]]:
        """Without a roster, a Canvas or Moodle name is the student's folder: the names
        (names.clash_key) that stand for several LMS ids, in this run's exports or in
        the manifest's rows, with those ids."""
        found = [p for r in readings if r is not None for p in r.parsed.values() if p]
        for row in self.rows:
            if not row.student_id and row.format in ("canvas", "moodle"):
                found.append(parse(row.format, row.entry.split("/"), self.result.zone))
        ids: dict[str, set[str]] = {}
        for p in found:
            if p is not None and p.format in ("canvas", "moodle") and not p.id_column:
                ids.setdefault(names.clash_key(p.display), set()).add(p.lms_id)
        return {key: sorted(v, key=lambda i: (len(i), i)) for key, v in ids.items() if len(v) > 1}

    def _user_conflicts(self, readings: list[_Reading | None]) -> dict[tuple[str, str], str]:
        """Without a roster, a Blackboard or GitHub Classroom user name is read from the
        export's names (lms.settle_users), and another export can read the same name
        another way. Refused, by (format, LMS name), with the reason: a name read as
        another user than collected.csv records for it, and a user name that two LMS
        names read as (in this run, or one here and one in collected.csv)."""
        earlier: dict[tuple[str, str], str] = {}  # (format, LMS name) -> participant
        for row in self.rows:
            if not row.student_id and row.format in SEPARATOR:
                parts = row.entry.split("/")
                # A GitHub Classroom entry below the export's own -submissions folder.
                wrapped = len(parts) > 2 and parts[0].endswith("-submissions")
                top = int(row.format == "classroom" and wrapped)
                parsed = parse(row.format, parts, self.result.zone, top)
                if parsed is not None:
                    earlier.setdefault((row.format, parsed.display), row.participant)
        now: dict[tuple[str, str], str] = {}
        for reading in readings:
            for p in reading.parsed.values() if reading else ():
                user = reading.users.get(p.display, User("")) if p else User("")
                if p and p.format in SEPARATOR and not p.receipt and user.name:
                    now[(p.format, p.display)] = names.identity(user.name)
        holders: dict[tuple[str, str], set[str]] = {}  # (format, user) -> LMS names
        for (fmt, display), participant in [*earlier.items(), *now.items()]:
            holders.setdefault((fmt, names.clash_key(participant)), set()).add(display)
        found = {}
        for (fmt, display), participant in now.items():
            what, column = LABEL[fmt], ID_COLUMN[fmt]
            fix = (
                "Without --roster a user name cannot be told apart from the assignment's part "
                f"of the name: pass --roster with their {column}; not copied."
            )
            old = earlier.get((fmt, display))
            others = sorted(holders[(fmt, names.clash_key(participant))] - {display})
            if old is not None and old != participant:
                found[(fmt, display)] = (
                    f"the {what} name {display!r} reads as the user name {participant!r} in "
                    f"this export, but collected.csv has it as {old!r}. {fix}"
                )
            elif old is None and (before := [d for d in others if (fmt, d) in earlier]):
                found[(fmt, display)] = (
                    f"the {what} name {display!r} reads as the user name {participant!r}, "
                    f"which collected.csv already has for the {what} name {before[0]!r}: one "
                    f"student or two? {fix}"
                )
            elif others:
                every = sorted([display, *others])
                listed = ", ".join(repr(d) for d in every[:-1]) + f" and {every[-1]!r}"
                found[(fmt, display)] = (
                    f"the {what} names {listed} {'both' if len(every) == 2 else 'all'} read "
                    f"as the user name {participant!r}: one student or two? {fix}"
                )
        return found

    def _users(self, fmt: str, parsed: list[Parsed]) -> dict[str, User]:
        """Blackboard's and GitHub Classroom's user names, settled over the export."""
        if fmt not in ("blackboard", "classroom"):
            return {}
        roster = self.result.roster
        column = ID_COLUMN[fmt]
        known = {s.ids[column] for s in roster.students if column in s.ids} if roster else set()
        files = [p for p in parsed if not p.receipt]
        return settle_users(files or parsed, known, fmt)

    def _item(self, export: Export, item: Item, parsed: Parsed | None, reading) -> Outcome:
        outcome = Outcome(export=export.label, entry=names.shown(item.path), kind="")
        if item.problem:
            return _set(outcome, "refused", item.problem)
        if item.name.lower().endswith(COMPRESSED):
            return _set(outcome, "refused", self._compressed(parsed, reading))
        if not upload_suffix(item.name):  # a spreadsheet that is no CSV is copied: 2.2
            what = "a Blackboard receipt" if parsed and parsed.receipt else "not a .csv file"
            return _set(outcome, "listed", f"{what}; not copied.")
        if parsed is None:
            reason = f"does not follow {reading.label}'s naming; not copied."
            return _set(outcome, "unmatched", reason)
        student, participant, problem, by_name = self._student(parsed, reading.users)
        if problem:
            return _set(outcome, "unmatched", problem)
        outcome.participant = participant
        if problem := self._clash(participant):
            return _set(outcome, "refused", problem)
        if by_name:
            self.result.by_name.append(by_name)
        try:
            data = self._read(export, item)
        except TooLarge:
            reason = f"larger than --max-size {self.result.options.max_size:g} MB; not copied."
            return _set(outcome, "refused", reason)
        except OSError as exc:
            return _set(outcome, "refused", f"cannot be read ({exc.strerror or exc}); not copied.")
        try:
            return self._place(outcome, export, item, parsed, student, data)
        except OSError as exc:  # a full disk, a folder that cannot be written
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            reason = f"cannot be copied ({where}{exc.strerror or exc}); not copied."
            return _set(outcome, "refused", reason)

    def _student(self, parsed: Parsed, users) -> tuple[Student | None, str, str, str]:
        """(roster student, participant key, '', how a full name matched, or '') or
        (None, '', why not, '')."""
        roster = self.result.roster
        reading = users.get(parsed.display, User(""))
        if reading.problem:
            return None, "", reading.problem + "; not copied.", ""
        user = reading.name
        if roster is None:
            if ids := self.shared_names.get(names.clash_key(parsed.display)):
                return None, "", _shared_name(parsed, ids), ""
            if conflict := self.conflicts.get((parsed.format, parsed.display)):
                return None, "", conflict, ""
            name = {"blackboard": user, "classroom": user}.get(parsed.format, parsed.display)
            if not name:
                why = f"cannot tell the user name in {parsed.display!r}; pass --roster."
                return None, "", why, ""
            if problem := key_problem(names.identity(name)):
                why = (
                    f"the name {names.spelled(name)} {problem}, so it cannot name a "
                    "folder; pass --roster to name the student by their roster entry."
                )
                return None, "", why, ""
            return None, names.identity(name), "", ""
        student, why = _match(roster, parsed, user)
        if student is None:
            return None, "", why, ""
        return student, student.participant, "", why

    def _compressed(self, parsed: Parsed | None, reading) -> str:
        """Why a compressed file is refused, and where its CSV goes once unzipped."""
        participant = self._student(parsed, reading.users)[1] if parsed else ""
        where = (
            f"{self.into}/{participant}/"
            if participant
            else (f"the student's folder in {self.into}/")
        )
        return (
            "a compressed file (Kaggle accepts zipped submissions; grader score reads .csv "
            f"files only): unzip it and put the CSV in {where}; not copied."
        )

    def _clash(self, participant: str) -> str:
        """A folder or file in DIR whose name, as spelled on disk, differs from
        `participant` only by case, spaces or normalisation: grader score would refuse
        both. Names are shown with non-ASCII characters spelled out (names.spelled)."""
        key = names.clash_key(participant)
        other = self.spelled.setdefault(key, participant)
        if other != participant:
            return (
                f"{self.into}/ already has the participant {names.spelled(other)}, and grader "
                "score refuses names that differ only by letter case, spaces or normalisation "
                f"({names.spelled(participant)}). Rename one of them; not copied."
            )
        return ""

    def _read(self, export: Export, item: Item) -> bytes:
        """The item's bytes; OSError past --max-size or past MAX_TOTAL for the run."""
        too_much = (
            f"this run's exports hold more than {MAX_TOTAL / 2**30:g} GB of CSV files, the "
            "most one run reads"
        )
        if self.read_total + min(item.size, self.limit) > MAX_TOTAL:
            raise OSError(too_much)
        data = export.read(item, self.limit)
        self.read_total += len(data)
        if self.read_total > MAX_TOTAL:
            raise OSError(too_much)
        return data

    def _place(self, outcome, export, item, parsed, student, data: bytes) -> Outcome:
        participant = outcome.participant
        digest = hashlib.sha256(data).hexdigest()
        if (participant, digest) in self.have:
            outcome.file = self.have[(participant, digest)]
            return _set(outcome, "already", f"already collected as {outcome.file}.")
        folder = self.into / participant
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return _set(outcome, "refused", f"{folder} is not a folder; move it away. Not copied.")
        known = parsed.time is not None
        moment = parsed.time if known else item.when
        name = f"{timestamp_text(moment)}_{safe_name(parsed.original)}"
        file = self._on_disk(participant).get(digest)
        found = file is not None  # the same bytes are there: by hand, or from a stopped run
        if not found:
            folder.mkdir(exist_ok=True)
            file = self._write(folder, name, data)
            if not known:  # the stamp that tells an export's time without collected.csv
                stamp = moment.replace(microsecond=0).timestamp()
                os.utime(self.into / file, (stamp, stamp), follow_symlinks=False)
        outcome.file = file
        self.have[(participant, digest)] = file
        if found and (file in self.listed or not _own_copy(file, f"{participant}/{name}")):
            return _set(outcome, "already", f"the same file is already there as {file}.")
        self.rows.append(
            Row(
                file=file,
                participant=participant,
                student_id=student.student_id if student else "",
                submitted_at=moment.astimezone(timezone.utc).isoformat(timespec="seconds"),
                time_known="yes" if known else "no",
                lms_late="" if parsed.late is None else ("yes" if parsed.late else "no"),
                format=parsed.format,
                export=export.label,
                entry=names.shown(item.path),
                original_name=names.shown(parsed.original),
                sha256=digest,
                collected_at=self.now,
            )
        )
        self.listed.add(file)
        if found:  # this run's own copy, whose manifest row a stopped run did not write
            return _set(outcome, "already", f"found again as {file}; listed in the manifest.")
        return _set(outcome, "copied", "")

    def _on_disk(self, participant: str) -> dict[str, str]:
        """sha256 -> file of the participant's files already in DIR (hashed once)."""
        if participant not in self.on_disk:
            found: dict[str, str] = {}
            folder = self.into / participant
            if folder.is_dir() and not folder.is_symlink():
                for path in sorted(folder.iterdir()):
                    hidden = path.name.startswith(".") or is_system_file(path.name)
                    if path.is_file() and not path.is_symlink() and not hidden:
                        found.setdefault(file_digest(path), f"{participant}/{path.name}")
            self.on_disk[participant] = found
        return self.on_disk[participant]

    def _write(self, folder: Path, name: str, data: bytes) -> str:
        """Write `data` as `name` in `folder`, never over an existing file: a taken name
        gets -2, -3, ... before .csv (`numbered`)."""
        for n in range(1, MAX_NUMBER + 1):
            candidate = numbered(name, n)
            if write_bytes_atomically(folder / candidate, data, replace=False):
                return f"{folder.name}/{candidate}"
        raise OSError(f"{folder}: no free name for {name}")


MAX_NUMBER = 9_999  # copies of one name in one folder


def numbered(name: str, n: int) -> str:
    """The name of the n-th copy of `name` (a .csv name, or another upload_suffix): itself,
    then <stem>-2.csv, ..."""
    cut = len(name) - len(upload_suffix(name))
    stem, suffix = name[:cut], name[cut:]
    return name if n == 1 else f"{stem}-{n}{suffix}"


def _own_copy(file: str, name: str) -> bool:
    """Whether `file` is a name collect gives a copy of `name` (both <participant>/<name>):
    so a copy whose manifest row was lost (a kill, a full disk) is listed again, and a
    file of other name, placed by hand, is not."""
    if file == name:
        return True
    suffix = len(upload_suffix(name))
    number = file[len(name) - suffix + 1 : len(file) - suffix]
    return (
        number.isascii()
        and number.isdigit()
        and 2 <= int(number) <= MAX_NUMBER
        and file == numbered(name, int(number))
    )


@dataclass(frozen=True)
class _Reading:
    """An export's naming (LABEL) and what it says of each file (by id of the item)."""

    label: str
    parsed: dict[int, Parsed | None]
    users: dict[str, User]  # Blackboard's and GitHub Classroom's (lms.settle_users)


def _shared_name(parsed: Parsed, ids: list[str]) -> str:
    what = "participant ids" if parsed.format == "moodle" else "Canvas user ids"
    return (
        f"the {LABEL[parsed.format]} name {parsed.display!r} stands for {len(ids)} students "
        f"({what} {', '.join(ids)}): without --roster they would share one folder. Pass "
        f"--roster with their {ID_COLUMN[parsed.format]}; not copied."
    )


def _set(outcome: Outcome, kind: OutcomeKind, reason: str) -> Outcome:
    outcome.kind, outcome.reason = kind, reason
    return outcome


def _top_participants(folder: Path) -> list[str]:
    """The participants DIR already has, named by grader score's rule
    (layout.participant_named) and spelled as on disk (not normalised); hidden entries,
    what an OS leaves behind and the manifest aside."""
    try:
        items = sorted(
            p for p in folder.iterdir() if not (p.name.startswith(".") or is_system_file(p.name))
        )
    except OSError:
        return []
    return [participant_named(p.name, p.is_dir()) for p in items if p.name != MANIFEST_NAME]


def _match(roster: Roster, parsed: Parsed, user: str) -> tuple[Student | None, str]:
    """(student, '' or how a name matched) or (None, why no student matched)."""
    fmt = parsed.format
    if fmt == "folder":
        name = names.identity(parsed.display)
        student = roster.by_participant(name) or roster.by_student_id(name)
        if student is None:
            return (
                None,
                f"no roster student has the kaggle_name or student_id {name!r}; not copied.",
            )
        return student, ""
    column = parsed.id_column or ID_COLUMN[fmt]
    value = user if fmt in ("blackboard", "classroom") else parsed.lms_id
    what = {
        "canvas_id": f"Canvas user id {value} ({parsed.display})",
        "canvas_anon_id": f"the anonymous id {parsed.display}",
        "moodle_id": f"participant id {value} ({parsed.display})",
        "username": f"the user name {value or '?'} ({parsed.display})",
        "github": f"the GitHub user {value or '?'} ({parsed.display})",
    }[column]
    student = roster.by(column, value) if column in roster.columns and value else None
    if student is not None and fmt == "moodle" and not roster.same_name(student, parsed.display):
        return None, (
            f"{what} is the moodle_id of roster student {student.student_id}, whose name is "
            f"{student.name!r}: is the roster's moodle_id from another assignment (Moodle "
            "numbers participants per assignment)? Not copied."
        )
    if student is not None:
        return student, ""
    if column not in roster.columns:
        why = f"the roster has no {column} column to match {what}"
    else:
        why = f"{what} is no {column} of the roster"
    if fmt == "moodle":
        found = roster.by_name(parsed.display)
        if len(found) == 1:
            s = found[0]
            return s, (
                f"{parsed.display!r} (Moodle participant id {parsed.lms_id}) matched roster "
                f"student {s.student_id} by name: {why}"
            )
        if found:
            return (
                None,
                f"{why}, and {len(found)} roster students are named "
                f"{parsed.display!r}; not copied.",
            )
        why += f", and no roster name is {parsed.display!r}"
    return None, why + "; not copied."


def safe_name(original: str) -> str:
    """The student's file name made safe to keep in the copy's name: one name (no
    folders), no control or invisible characters (shown as '_'), no leading dot, at
    most MAX_NAME_BYTES bytes, ending in .csv or the other suffix it has of those a
    student uploads as a CSV (`upload_suffix`: .csv.txt, .tsv, .xlsx, ...)."""
    text = names.shown(original).replace(names.REPLACEMENT, "_")
    text = text.replace("/", "_").replace("\\", "_").strip().lstrip(".") or "submission.csv"
    if not upload_suffix(text):
        text += ".csv"
    cut = len(text) - len(upload_suffix(text))
    stem, suffix = text[:cut], text[cut:]
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem or "submission") + suffix


# ----------------------------------------------------------------------------
# What the TA reads
# ----------------------------------------------------------------------------


def collect_summary(result: Collection) -> str:
    """The terminal report: exports, a table per student, then every file not placed."""
    into = result.options.into
    parts = [
        "\n".join(
            [f"Collected from {len(result.exports)} export(s) into {into}/:"]
            + [f"  {terminal_text(label)}: {fmt} ({note})" for label, fmt, note in result.exports]
        )
    ]
    if result.roster is not None and result.roster.summary:
        parts.append(f"Roster: {terminal_text(result.roster.summary)}")
    parts.append(_table(result))
    copied = [o for o in result.outcomes if o.kind == "copied"]
    already = [o for o in result.outcomes if o.kind == "already"]
    listing = (
        f"{into / MANIFEST_NAME} lists {len(result.manifest)} collected file(s)."
        if result.manifest
        else "nothing collected, so no manifest was written."
    )
    parts.append(
        f"{len(copied)} new file(s) copied, {len(already)} already there; {listing}"
        + (
            " Interrupted: the files above were copied; run again for the rest."
            if result.interrupted
            else ""
        )
    )
    for kind, title in (
        ("listed", "Not CSV, listed and not copied"),
        ("refused", "Refused"),
        ("unmatched", "Matched to no student"),
    ):
        chosen = [o for o in result.outcomes if o.kind == kind]
        if chosen:
            parts.append(
                "\n".join(
                    [f"{title} ({len(chosen)}):"]
                    + [
                        f"  {terminal_text(o.export)}: {terminal_text(o.entry, 90)}: "
                        f"{terminal_text(o.reason)}"
                        for o in chosen
                    ]
                )
            )
    if result.by_name:
        parts.append(
            "\n".join(
                [f"Matched by full name, not by id ({len(result.by_name)}): check them."]
                + [f"  {terminal_text(line)}" for line in result.by_name]
            )
        )
    if result.roster is not None:
        have = {r.participant for r in result.manifest}
        missing = [s for s in result.roster.students if s.participant not in have]
        if missing:
            shown = ", ".join(
                terminal_text(s.student_id + (f" ({s.participant})" if s.kaggle_name else ""))
                for s in missing
            )
            parts.append(f"On the roster without a file ({len(missing)}; information): {shown}.")
    return "\n\n".join(parts)


def _table(result: Collection) -> str:
    """student (with a roster), participant, new files, all files, latest time (UTC)."""
    new: dict[str, int] = {}
    for o in result.outcomes:
        if o.kind == "copied":
            new[o.participant] = new.get(o.participant, 0) + 1
    rows_of: dict[str, list[Row]] = {}
    for r in result.manifest:
        rows_of.setdefault(r.participant, []).append(r)
    if not rows_of:
        return "No file collected yet."
    with_ids = any(r.student_id for r in result.manifest)
    heads = ["student"] * with_ids + ["participant", "new", "files", "latest (UTC)"]
    body = []
    for participant in sorted(rows_of):
        rows = rows_of[participant]
        latest = max(rows, key=lambda r: r.moment)
        when = time_text(latest.moment.astimezone(timezone.utc)).replace("T", " ")[:16]
        if latest.time_known == "no":
            when += " (time unknown: export's time)"
        student = next((r.student_id for r in rows if r.student_id), "")
        cells = [terminal_text(participant, 30), str(new.get(participant, 0)), str(len(rows))]
        body.append([terminal_text(student, 20)] * with_ids + [*cells, when])
    return table(heads, body, numeric={len(heads) - 3, len(heads) - 2})
