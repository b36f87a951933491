"""The gradebook as each LMS's grade import reads it: `grader score --gradebook-format`.

One file beside gradebook.csv in the review folder, one grade column (the
assignment, `--assignment`), one row per roster student whom the LMS can
identify; the points are gradebook.csv's (out of POINTS_POSSIBLE). Each layout
follows the LMS's own import (docs/grades-to-lms.md cites the sources):

* **canvas** (`gradebook-canvas.csv`): Canvas's gradebook CSV, `Student, ID, SIS
  User ID, SIS Login ID, Section, <assignment> (<id>)`, then a `Points Possible`
  row, as Canvas's own export writes them. Canvas's importer finds a student by
  `ID` (the Canvas user id), else `SIS User ID`, else `SIS Login ID`, else by name;
  a row needs one of the roster's `canvas_id`, `sis_user_id`, `sis_login_id`.
  Without `--assignment-id` the column is `<assignment>` alone, which Canvas matches
  to the assignment of that exact name or makes into a new one.
* **moodle** (`gradebook-moodle.csv`): `Full name, Email address, <assignment>`;
  Moodle's CSV import maps the user by the column the TA picks ("Map from" Email
  address, "Map to" Email address) and the grade column to a grade item. A row
  needs the roster's `email`: a row with an empty identifier would not be
  skipped by Moodle's importer, it would go to the previous row's user.
* **blackboard** (`gradebook-blackboard.csv`): Blackboard Learn's Grade Center
  upload (Original Course View), `Last Name, First Name, Username, <assignment>
  [Total Pts: 10 Score] |<column id>`, every cell quoted, as its documentation asks
  of comma-separated files. Blackboard finds the student by `Username` (the
  roster's `username`); without `--assignment-id` the column is `<assignment>`,
  which Blackboard adds as a new text column worth 0 points.

A student whom the file cannot identify (no such column in the roster, an id
another student shares, or one that starts like a spreadsheet formula and so
cannot be written as it is) is left out of it and reported (`left_out`); they
keep their row in gradebook.csv. Names pass through grader.core.text.csv_cell.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

from grader.core.text import FORMULA_START, csv_cell
from grader.folder.roster import Student
from grader.grades.gradebook import points_text

POINTS_POSSIBLE = 10  # the gradebook's scale (grader.grades.gradebook.points)
FILE_NAME = {
    "canvas": "gradebook-canvas.csv",
    "moodle": "gradebook-moodle.csv",
    "blackboard": "gradebook-blackboard.csv",
}
LABEL = {"canvas": "Canvas", "moodle": "Moodle", "blackboard": "Blackboard"}
# The roster columns that identify a student to each LMS's import, in its order of use.
IDENTIFIERS = {
    "canvas": ("canvas_id", "sis_user_id", "sis_login_id"),
    "moodle": ("email",),
    "blackboard": ("username",),
}
# Canvas reads "<title> (<digits>)" as the assignment with that id (Assignment.title_and_id).
CANVAS_TITLE_AND_ID = re.compile(r"(.*)\s\((\d+)\)", re.S)


@dataclass
class LmsGradebook:
    """One LMS import file and the roster students it could not hold."""

    format: str  # canvas | moodle | blackboard
    column: str  # the header of the grade column
    text: str  # the file's content
    rows: int = 0  # students in the file
    left_out: list[tuple[Student, str]] = field(default_factory=list)  # (student, why)

    @property
    def file(self) -> str:
        """The file's name in the review folder."""
        return FILE_NAME[self.format]


def grade_column(fmt: str, assignment: str, assignment_id: str | None) -> str:
    """The grade column's header: the assignment, with its id where the LMS reads one."""
    if assignment_id is None or fmt == "moodle":
        return assignment
    if fmt == "canvas":
        return f"{assignment} ({assignment_id})"  # Canvas's own export: Assignment#title_with_id
    return f"{assignment} [Total Pts: {POINTS_POSSIBLE} Score] |{assignment_id}"


def assignment_problem(fmt: str, assignment: str, assignment_id: str | None) -> str:
    """Why `--assignment`/`--assignment-id` cannot head the grade column ('' when they can)."""
    if not assignment.strip():
        return "--assignment is empty: give the assignment's name as the LMS shows it."
    if any(not c.isprintable() for c in assignment):
        return f"--assignment {assignment!r} holds a line break or control character."
    if assignment.startswith(FORMULA_START):
        return (
            f"--assignment {assignment!r} starts like a spreadsheet formula, so it cannot be "
            "written as it is; rename the assignment."
        )
    if assignment_id is not None and not assignment_id.isdigit():
        return (
            f"--assignment-id {assignment_id!r} is not a number: give the number Canvas shows "
            "in the assignment's address (.../assignments/NUMBER) or Blackboard's column id."
        )
    if fmt == "canvas" and assignment_id is None and CANVAS_TITLE_AND_ID.fullmatch(assignment):
        return (
            f"--assignment {assignment!r} ends in a number in parentheses, which Canvas reads "
            "as an assignment id; give the id with --assignment-id, or another name."
        )
    return ""


def lms_gradebook(
    students: list[Student],
    rows: list[list],
    fmt: str,
    assignment: str,
    assignment_id: str | None = None,
) -> LmsGradebook:
    """The import file of `fmt` for the gradebook `rows` (gradebook.csv's, whose first
    cell is the student_id and third the points) of the roster `students`."""
    points = {row[0]: row[2] for row in rows}
    column = grade_column(fmt, assignment, assignment_id)
    book = LmsGradebook(format=fmt, column=column, text="")
    shared = _shared_identifiers(students, fmt)
    lines = []
    for student in students:
        why = _why_left_out(student, fmt, shared)
        if why:
            book.left_out.append((student, why))
            continue
        lines.append([*_student_cells(student, fmt), points_text(points[student.student_id])])
    book.rows = len(lines)
    book.text = _write(fmt, column, lines)
    return book


def _shared_identifiers(students: list[Student], fmt: str) -> set[tuple[str, str]]:
    """(column, value) pairs that more than one student has: the LMS would grade one
    account twice."""
    counts = Counter(
        (column, _key(column, s.cells[column]))
        for s in students
        for column in IDENTIFIERS[fmt]
        if s.cells.get(column)
    )
    return {pair for pair, n in counts.items() if n > 1}


def _key(column: str, value: str) -> str:
    # Blackboard user names are compared ignoring case everywhere else in the kit.
    return value.casefold() if column == "username" else value


def _why_left_out(student: Student, fmt: str, shared: set[tuple[str, str]]) -> str:
    """Why the LMS could not be told which student a row is ('' when it can)."""
    given = [c for c in IDENTIFIERS[fmt] if student.cells.get(c)]
    if not given:
        return f"no {' or '.join(IDENTIFIERS[fmt])} in the roster"
    for column in given:
        value = student.cells[column]
        if (column, _key(column, value)) in shared:
            return f"the {column} {value!r} is another roster student's too"
        if value.startswith(FORMULA_START):
            return f"the {column} {value!r} starts like a spreadsheet formula"
    return ""


def _student_cells(student: Student, fmt: str) -> list[str]:
    """The identifying cells of a student's row, before the grade."""
    cell = student.cells.get
    name = csv_cell(student.name or student.student_id)
    if fmt == "canvas":
        return [
            name,
            cell("canvas_id", ""),
            cell("sis_user_id", ""),
            cell("sis_login_id", ""),
            csv_cell(cell("section", "")),
        ]
    if fmt == "moodle":
        return [name, cell("email", "")]
    first, last = cell("first_name", ""), cell("last_name", "")
    if not (first or last):
        first = student.name  # Blackboard shows the names and does not match by them
    return [csv_cell(last), csv_cell(first), cell("username", "")]


def _write(fmt: str, column: str, lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    quoting = csv.QUOTE_ALL if fmt == "blackboard" else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, lineterminator="\n", quoting=quoting)
    if fmt == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["Points Possible", "", "", "", "", str(POINTS_POSSIBLE)])
    elif fmt == "moodle":
        writer.writerow(["Full name", "Email address", column])
    else:
        writer.writerow(["Last Name", "First Name", "Username", column])
    writer.writerows(lines)
    return buffer.getvalue()
