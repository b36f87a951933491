"""The class roster: one CSV file for `grader collect`, the gradebook and the late rules.

Two kinds of file are read, told apart by the header:

**The kit's roster.** Columns (header names are compared ignoring case and
surrounding spaces):

* `student_id` (required): the id the LMS gradebook knows;
* `kaggle_name`: the student's Kaggle user name;
* `name`: the full name, as Moodle writes it (Moodle's fallback match); without it,
  `first_name` and `last_name` joined by a space;
* `email`;
* `canvas_id`: the Canvas user id in Canvas's export names;
* `canvas_anon_id`: the `anon_<id>` of a Canvas export made with anonymous grading;
* `moodle_id`: the *participant* id in Moodle's export names, which Moodle numbers
  per assignment (it is not the Moodle user id); with `name`, the export's full
  name must agree with it (`Roster.same_name`);
* `username`: the Blackboard user name;
* `github`: the GitHub user name (GitHub Classroom);
* `sis_user_id`, `sis_login_id`, `section`, `first_name`, `last_name`: what the
  LMS import files of `grader score --gradebook-format` need (grader.grades.lms);
* `extension_hours`: extra hours past `--deadline` for this student (default 0);
* `kaggle_notebook`: the student's Kaggle notebook, shared with the TA's account:
  `owner/slug` or its address (https://www.kaggle.com/code/owner/slug), read by
  `grader notebooks pull` (grader.provenance).

**An LMS's gradebook export**, so that no roster has to be made by hand (LMS_EXPORTS):
Canvas's gradebook export (`Student, ID, [SIS User ID,] SIS Login ID, Section,
...`; its `Points Possible` row and a `Manual Posting` row are skipped), Moodle's
grade export (`First name, Last name (or Surname), ID number, Institution,
Department, Email address, ...`) and Blackboard's Grade Center download (`Last
Name, First Name, Username, Student ID, ...`, comma- or tab-separated, UTF-8 or
UTF-16). `student_id` is the institution's student number the export holds (SIS
User ID, ID number, Student ID), else, row by row, the LMS's own id of the student
(Canvas ID, Moodle email address, Blackboard username); the names and the LMS ids
fill the columns above. A column named like one of the roster's (`kaggle_name`,
`extension_hours`, ...) is read as that column: adding `kaggle_name` to the export
is how a TA names participants by their Kaggle names. Other columns (the
assignments, totals) are not used. `Roster.summary` says in one line which layout
was read and what student_id is.

A student's *participant key* is `kaggle_name` when given, else `student_id`:
their folder in the submissions folder, their row on the board, in the
gradebook and in the Kaggle reconciliation. A key must pass the identity rule
of grader.core.names and be usable as a folder name. Rosters of the earlier form
(`kaggle_name,student_id`) keep working. Unknown columns of the kit's roster get a
warning; a repeated student id, participant key (ignoring case), or LMS id is an
error naming both lines. Excel's `;`-separated CSV and a byte-order mark are read;
a quote never closed, a cell holding a line break or a row with more cells than
the header is an error naming its line (grader.core.text.csv_table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.core import names
from grader.core.errors import UsageError
from grader.core.text import CsvError, csv_table
from grader.folder.collected import MANIFEST_NAME

REQUIRED = "student_id"
ID_COLUMNS = ("canvas_id", "canvas_anon_id", "moodle_id", "username", "github")
# What the LMS import files need besides ids (grader.grades.lms).
LMS_COLUMNS = ("sis_user_id", "sis_login_id", "section", "first_name", "last_name")
COLUMNS = (
    "student_id",
    "kaggle_name",
    "name",
    "email",
    *ID_COLUMNS,
    *LMS_COLUMNS,
    "extension_hours",
    "kaggle_notebook",
)
MAX_KEY_LENGTH = 100  # characters: the key is a folder name, and names stay readable


@dataclass(frozen=True)
class Student:
    """One roster row. `kaggle_name` is NFC ('' when the roster has none)."""

    student_id: str
    kaggle_name: str = ""
    name: str = ""
    email: str = ""
    ids: dict[str, str] = field(default_factory=dict, compare=False)  # ID_COLUMNS present
    extension_hours: float = 0.0
    line: int = 0
    kaggle_notebook: str = ""  # owner/slug ('' when the roster names none)
    # Every non-empty cell of COLUMNS as written (stripped; ids keep their case): what
    # the LMS import files copy.
    cells: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def participant(self) -> str:
        """The participant key: the Kaggle name when given, else the student id."""
        return self.kaggle_name or names.identity(self.student_id)


@dataclass
class Roster:
    """The students of a roster file, and lookups by each kind of id."""

    path: Path
    students: list[Student]
    columns: tuple[str, ...]  # the known columns the file has
    layout: str = "roster"  # or the LMS_EXPORTS key of the export it was read from
    summary: str = ""  # one line: which export was read, and what student_id is

    def __post_init__(self) -> None:
        self._by_id = {
            column: {s.ids[column]: s for s in self.students if s.ids.get(column)}
            for column in ID_COLUMNS
        }
        self._by_key = {s.participant: s for s in self.students}
        self._by_id_column = {s.student_id: s for s in self.students}
        self._by_name: dict[str, list[Student]] = {}
        for s in self.students:
            if s.name:
                self._by_name.setdefault(names.clash_key(s.name), []).append(s)

    def by(self, column: str, value: str) -> Student | None:
        """The student whose `column` (one of ID_COLUMNS) is `value`, compared as the
        LMS writes it (GitHub and Blackboard names ignoring case)."""
        value = value.strip()
        if column in ("username", "github"):
            value = value.casefold()
        return self._by_id.get(column, {}).get(value)

    def by_name(self, full_name: str) -> list[Student]:
        """The students whose `name` equals `full_name`, ignoring case, runs of spaces and
        Unicode normalisation (names.clash_key; several when names repeat)."""
        return self._by_name.get(names.clash_key(full_name), [])

    def same_name(self, student: Student, full_name: str) -> bool:
        """Whether `full_name` (as an LMS writes it in a file name) is the student's `name`,
        ignoring case, Unicode normalisation, punctuation and runs of spaces (Moodle
        writes `O'Neil` as `O_Neil`); True when the roster gives no name."""
        return not student.name or _letters(student.name) == _letters(full_name)

    def by_student_id(self, student_id: str) -> Student | None:
        """The student with this student_id (exactly)."""
        return self._by_id_column.get(student_id.strip())

    def by_participant(self, key: str) -> Student | None:
        """The student whose participant key is `key`, exactly after NFC."""
        return self._by_key.get(names.identity(key))


def _letters(text: str) -> str:
    """The letters and digits of a name, words apart, compared by `Roster.same_name`."""
    return " ".join("".join(c if c.isalnum() else " " for c in names.clash_key(text)).split())


def read_roster(
    path: Path, warn: Callable[[str], None] = lambda message: None, flag: str = "--roster"
) -> Roster:
    """The roster's students; every error names the file, the line and the fix."""
    where = f"{flag} {path}"
    if path.is_dir():
        raise UsageError(f"{where}: a folder, not a file. Pass the roster CSV.")
    if not path.is_file():
        raise UsageError(f"{where}: no such file. It needs at least the column student_id.")
    try:
        header, rows = csv_table(path.read_bytes(), utf16=True)
    except OSError as exc:
        raise UsageError(f"{where}: cannot be read ({exc.strerror or exc}).") from None
    except CsvError as exc:
        fix = ' Save it as "CSV UTF-8".' if exc.line == 0 else ""
        raise UsageError(exc.at(where) + fix) from None
    return _parse(path, header, rows, where, warn)


def _parse(
    path: Path,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    where: str,
    warn: Callable[[str], None],
) -> Roster:
    if not any(header):
        raise UsageError(f"{where}: empty. It needs a header line with at least student_id.")
    fields = [cell.lower() for cell in header]
    if REQUIRED not in fields:
        export = _export_of(header)
        if export is None:
            raise UsageError(
                f"{where} line 1: needs the column student_id, or the header of a Canvas, "
                "Moodle or Blackboard gradebook export (docs/grades-to-lms.md); found "
                f"{', '.join(cell for cell in header if cell) or 'none'}."
            )
        return _parse_export(path, export, header, rows, where)
    unknown = [header[i] for i, f in enumerate(fields) if f and f not in COLUMNS]
    if unknown:
        warn(
            f"{where}: column(s) {', '.join(repr(u) for u in unknown)} not used; the known "
            f"columns are {', '.join(COLUMNS)}."
        )
    students = [_student(dict(zip(fields, row, strict=False)), line, where) for line, row in rows]
    _refuse_repeats(students, where)
    return Roster(path=path, students=students, columns=tuple(c for c in COLUMNS if c in fields))


def _student(row: dict[str, str], line: int, where: str) -> Student:
    def cell(column: str) -> str:
        return (row.get(column) or "").strip()

    student_id = cell("student_id")
    if not student_id:
        raise UsageError(f"{where} line {line}: empty student_id; every row needs one.")
    kaggle_name = names.identity(cell("kaggle_name"))
    ids = {c: cell(c).casefold() if c in ("username", "github") else cell(c) for c in ID_COLUMNS}
    full_name = cell("name") or " ".join(n for n in (cell("first_name"), cell("last_name")) if n)
    student = Student(
        student_id=student_id,
        kaggle_name=kaggle_name,
        name=full_name,
        email=cell("email"),
        ids={c: v for c, v in ids.items() if v},
        extension_hours=_hours(cell("extension_hours"), line, where),
        line=line,
        kaggle_notebook=_notebook(cell("kaggle_notebook"), line, where),
        cells={c: v for c in COLUMNS if (v := full_name if c == "name" else cell(c))},
    )
    column = "kaggle_name" if kaggle_name else "student_id"
    if problem := key_problem(student.participant):
        raise UsageError(
            f"{where} line {line}: the {column} {names.spelled(student.participant)} "
            f"{problem}; it names the student's folder and board row. Correct it."
        )
    return student


# ----------------------------------------------------------------------------
# An LMS's gradebook export as the roster
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """An LMS's gradebook export: how to tell it and which of its columns is student_id."""

    key: str  # canvas | moodle | blackboard
    label: str  # as said to the TA
    institution: str  # the export's column of the institution's student number
    fallback: str  # the LMS's own id of a student: student_id when `institution` is empty


LMS_EXPORTS = {
    "canvas": Export("canvas", "a Canvas gradebook export", "SIS User ID", "ID"),
    "moodle": Export("moodle", "a Moodle grade export", "ID number", "Email address"),
    "blackboard": Export(
        "blackboard", "a Blackboard Grade Center download", "Student ID", "Username"
    ),
}
# Canvas's importer skips a row whose cells are all empty, "Muted" or "Manual Posting..."
# (the exporter's row above Points Possible): lib/gradebook_importer.rb in canvas-lms.
_POSTING_ROW = re.compile(r"\s*(muted|manual posting.*)?\s*", re.I)
# Canvas writes a name that starts with = as ="name", so a spreadsheet shows it as text.
_CANVAS_QUOTED = re.compile(r'="(.*)"', re.S)


def _export_of(header: list[str]) -> Export | None:
    """Which LMS export a header is (None: none the kit reads)."""
    cells = [cell.casefold() for cell in header]
    present = set(cells)
    canvas_names = cells[:1] == ["student"] or cells[:2] == ["lastname", "firstname"]
    if canvas_names and {"id", "section"} <= present:
        return LMS_EXPORTS["canvas"]
    if {"first name", "email address"} <= present and present & {"last name", "surname"}:
        return LMS_EXPORTS["moodle"]
    # Letter case tells Blackboard's "Last Name" from Moodle's "Last name".
    if {"Last Name", "First Name", "Username"} <= set(header):
        return LMS_EXPORTS["blackboard"]
    return None


def _parse_export(
    path: Path, export: Export, header: list[str], rows: list[tuple[int, list[str]]], where: str
) -> Roster:
    """The students of an LMS export, each row mapped to the roster's columns."""
    index: dict[str, int] = {}
    for i, cell in enumerate(header):
        index.setdefault(cell.casefold(), i)

    def get(cells: list[str], *columns: str) -> str:
        """The first non-empty cell of `columns` (export header names, any case)."""
        for column in columns:
            i = index.get(column.casefold())
            if i is not None and i < len(cells) and cells[i].strip():
                return cells[i].strip()
        return ""

    students, skipped, fallbacks = [], 0, 0
    for line, cells in rows:
        if export.key == "canvas" and (
            "Points Possible" in cells[0] or all(_POSTING_ROW.fullmatch(c) for c in cells)
        ):
            skipped += 1
            continue
        # A column named like one of the roster's (kaggle_name, ...) is read as that column.
        mapped = {c: get(cells, c) for c in COLUMNS}
        mapped.update(_EXPORT_ROW[export.key](cells, get))
        mapped = {c: v for c, v in mapped.items() if v}
        if not mapped.get("student_id"):
            raise UsageError(
                f"{where} line {line}: empty {export.fallback} (and no {export.institution}); "
                f"every student of {export.label} has one, so this row is no student's. "
                "Remove it."
            )
        fallbacks += not get(cells, export.institution)
        students.append(_student(mapped, line, where))
    _refuse_repeats(students, where)
    columns = tuple(c for c in COLUMNS if any(c in s.cells for s in students))
    roster = Roster(path=path, students=students, columns=columns, layout=export.key)
    roster.summary = _export_summary(roster, export, index, skipped, fallbacks, where)
    return roster


def _canvas_row(cells: list[str], get) -> dict[str, str]:
    canvas_id, sis_user_id = get(cells, "ID"), get(cells, "SIS User ID")
    first, last = get(cells, "FirstName"), get(cells, "LastName")
    name = get(cells, "Student")
    if quoted := _CANVAS_QUOTED.fullmatch(name):
        name = quoted[1]
    return {
        "student_id": sis_user_id or canvas_id,
        "canvas_id": canvas_id,
        "sis_user_id": sis_user_id,
        "sis_login_id": get(cells, "SIS Login ID"),
        "section": get(cells, "Section"),
        "name": name or " ".join(n for n in (first, last) if n),
        "first_name": first,
        "last_name": last,
    }


def _moodle_row(cells: list[str], get) -> dict[str, str]:
    email = get(cells, "Email address")
    return {
        "student_id": get(cells, "ID number") or email,
        "email": email,
        "first_name": get(cells, "First name"),
        "last_name": get(cells, "Last name", "Surname"),
    }


def _blackboard_row(cells: list[str], get) -> dict[str, str]:
    username = get(cells, "Username")
    return {
        "student_id": get(cells, "Student ID") or username,
        "username": username,
        "first_name": get(cells, "First Name"),
        "last_name": get(cells, "Last Name"),
    }


_EXPORT_ROW = {"canvas": _canvas_row, "moodle": _moodle_row, "blackboard": _blackboard_row}


def _export_summary(
    roster: Roster,
    export: Export,
    index: dict[str, int],
    skipped: int,
    fallbacks: int,
    where: str,
) -> str:
    """One line: the layout read, the students, what student_id is, and the keys."""
    n = len(roster.students)
    if export.institution.casefold() not in index:
        key = f"student_id is the {export.fallback} (the export has no {export.institution})"
    elif fallbacks:
        key = (
            f"student_id is the {export.institution}, or the {export.fallback} for the "
            f"{fallbacks} without one"
        )
    else:
        key = f"student_id is the {export.institution}"
    rows = (
        f", {skipped} row(s) naming no student skipped (Canvas's Points Possible and "
        "Manual Posting rows)"
        if skipped
        else ""
    )
    names_from = (
        "participants are named by kaggle_name where given, else by student_id"
        if "kaggle_name" in roster.columns
        else "no kaggle_name column, so each participant (folder, board row) is named by student_id"
    )
    return f"{where}: read as {export.label}: {n} student(s){rows}; {key}; {names_from}."


def key_problem(key: str) -> str:
    """Why a participant key cannot name a folder and a board row ('' when it can)."""
    if problem := names.name_problem(key):
        return problem
    if "/" in key or "\\" in key:
        return "holds a slash"
    if key.startswith("."):
        return "starts with a dot (grader score skips hidden folders)"
    if key.casefold() == MANIFEST_NAME:
        return f"is the name of grader collect's manifest ({MANIFEST_NAME})"
    if len(key) > MAX_KEY_LENGTH:
        return f"is longer than {MAX_KEY_LENGTH} characters"
    return ""


def _notebook(text: str, line: int, where: str) -> str:
    if not text:
        return ""
    ref = notebook_ref(text)
    if ref is None:
        raise UsageError(
            f"{where} line {line}: kaggle_notebook {text!r} names no Kaggle notebook; write "
            "owner/slug or the notebook's address, https://www.kaggle.com/code/owner/slug."
        )
    return ref


# owner/slug, or the notebook's address (its /edit page and ?scriptVersionId=... included);
# a slug has at least five characters (the kaggle client refuses shorter ones).
_NOTEBOOK = re.compile(
    r"^(?:https?://(?:www\.)?kaggle\.com/code/)?([A-Za-z0-9][A-Za-z0-9_-]*)/"
    r"([A-Za-z0-9][A-Za-z0-9_-]{4,})(?:/edit)?/?(?:[?#].*)?$"
)


def notebook_ref(text: str) -> str | None:
    """`owner/slug` of a Kaggle notebook given as owner/slug or as its address (None when
    `text` is neither). A version in the address is ignored: the latest is pulled."""
    match = _NOTEBOOK.match(text.strip())
    return f"{match.group(1)}/{match.group(2)}" if match else None


def _hours(text: str, line: int, where: str) -> float:
    if not text:
        return 0.0
    try:
        hours = float(text.replace(",", "."))  # Excel in many locales writes 1,5
    except ValueError:
        hours = -1.0
    if not 0 <= hours < 24 * 366:
        raise UsageError(
            f"{where} line {line}: extension_hours {text!r} is not a number of hours "
            "from 0 up to a year; write e.g. 48, or leave it empty for none."
        )
    return hours


def _refuse_repeats(students: list[Student], where: str) -> None:
    """A repeated student id, participant key or LMS id would match two students."""
    for column in ("student_id", *ID_COLUMNS):
        seen: dict[str, Student] = {}
        for s in students:
            value = s.student_id if column == "student_id" else s.ids.get(column, "")
            if value and value in seen:
                raise UsageError(
                    f"{where} line {s.line}: {column} {value!r} repeats line "
                    f"{seen[value].line}; each student needs their own."
                )
            seen.setdefault(value, s)
    keys: dict[str, Student] = {}
    for s in students:
        key = names.clash_key(s.participant)
        if key in keys:
            first = keys[key]
            column = "kaggle_name" if s.kaggle_name else "student_id"
            other = (
                ""
                if bool(first.kaggle_name) == bool(s.kaggle_name)
                else (" (its " + ("kaggle_name" if first.kaggle_name else "student_id") + ")")
            )
            raise UsageError(
                f"{where} line {s.line}: {column} {s.participant!r} repeats line {first.line}"
                f"{other} (names are compared ignoring letter case); every student needs a "
                "folder and a board row of their own."
            )
        keys[key] = s


def match_participants(
    students: Iterable[Student], participants: Iterable[str]
) -> tuple[dict[str, Student], list[tuple[Student, str]]]:
    """Which participant each roster student is: (participant -> student, and the
    (student, participant) pairs matched by letter case alone).

    A student matches the participant of exactly their key (both NFC). Only when
    none has it, a participant whose name differs by letter case alone matches, if
    it is the only one (participants never differ by case alone: grader.core.names
    refuses such names). Used by the gradebook and the late rules alike.
    """
    students = list(students)
    present = set(participants)
    keys = {s.participant for s in students}
    loose = {names.case_key(p): p for p in present if p not in keys}
    matched: dict[str, Student] = {}
    by_case: list[tuple[Student, str]] = []
    for s in students:
        if s.participant in present:
            matched[s.participant] = s
        elif (other := loose.get(names.case_key(s.participant))) and other not in matched:
            matched[other] = s
            by_case.append((s, other))
    return matched, by_case
