"""Grades the LMS imports (`grader score --gradebook-format`) and the LMS's own gradebook
export as the roster (grader.folder.roster, grader.grades.lms).

The exports in tests/data are written from each LMS's documentation and source
(tests/data/README.md says which); the import files are checked byte for byte
and against the rules each LMS's importer applies.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

from grader.core.errors import UsageError
from grader.folder.roster import read_roster
from grader.grades.lms import assignment_problem, lms_gradebook
from tests.helpers import ROOT, grader
from tests.scoring_fixtures import solution_rows, write_predictions

DATA = ROOT / "tests" / "data"
CANVAS = DATA / "canvas_gradebook_export.csv"
MOODLE = DATA / "moodle_grade_export.csv"
BLACKBOARD = DATA / "blackboard_grade_center.csv"


def students_of(path: Path) -> list[tuple[str, str, str]]:
    """(student_id, participant key, name) of each roster row."""
    return [(s.student_id, s.participant, s.name) for s in read_roster(path).students]


# ----------------------------------------------------------------------------
# The LMS's gradebook export as the roster
# ----------------------------------------------------------------------------


def test_a_canvas_gradebook_export_is_the_roster():
    roster = read_roster(CANVAS, warn=pytest.fail)  # assignment columns are no warning
    assert roster.layout == "canvas"
    # Lee has no SIS User ID: the Canvas ID stands in. Mallory's name was written
    # ="=Mallory, Eve" by Canvas so that a spreadsheet shows it as text.
    assert students_of(CANVAS) == [
        ("s1001", "s1001", "Smith, John"),
        ("s1002", "s1002", "García, José"),
        ("1003", "1003", "Lee, Ann"),
        ("s1004", "s1004", "=Mallory, Eve"),
    ]
    assert [s.ids for s in roster.students] == [{"canvas_id": str(i)} for i in range(1001, 1005)]
    assert roster.students[2].cells == {
        "student_id": "1003",
        "name": "Lee, Ann",
        "canvas_id": "1003",
        "sis_login_id": "alee",
        "section": "DL-02",
    }
    assert roster.summary == (
        f"--roster {CANVAS}: read as a Canvas gradebook export: 4 student(s), 2 row(s) naming "
        "no student skipped (Canvas's Points Possible and Manual Posting rows); student_id "
        "is the SIS User ID, or the ID for the 1 without one; no kaggle_name column, so "
        "each participant (folder, board row) is named by student_id."
    )


def test_a_moodle_grade_export_is_the_roster():
    roster = read_roster(MOODLE, warn=pytest.fail)
    assert roster.layout == "moodle"
    # Bo Chen has no ID number: his email address stands in, as Moodle wrote it.
    assert students_of(MOODLE) == [
        ("s2001", "s2001", "Anne Able"),
        ("s2002", "s2002", "José García"),
        ("bo.chen@example.edu", "bo.chen@example.edu", "Bo Chen"),
        ("s2004", "s2004", "Mary O'Neil"),
    ]
    assert roster.students[1].cells["email"] == "Jose.Garcia@example.edu"
    assert roster.summary.endswith(
        "read as a Moodle grade export: 4 student(s); student_id is the ID number, or the "
        "Email address for the 1 without one; no kaggle_name column, so each participant "
        "(folder, board row) is named by student_id."
    )


def test_a_blackboard_grade_center_download_is_the_roster(tmp_path):
    roster = read_roster(BLACKBOARD, warn=pytest.fail)
    assert roster.layout == "blackboard"
    assert students_of(BLACKBOARD) == [
        ("3001", "3001", "Li Wei"),
        ("3002", "3002", "Chen Wei"),
        ("JMuller", "JMuller", "Jürgen Müller"),
    ]
    # grader collect matches Blackboard's user names ignoring case; the import file
    # writes them as Blackboard did.
    assert roster.by("username", "jmuller") is roster.students[2]
    assert roster.students[2].cells["username"] == "JMuller"
    # The same download tab-separated and in UTF-16 (Blackboard's .xls download is
    # tab-separated text) reads the same.
    rows = list(csv.reader(io.StringIO(BLACKBOARD.read_text(encoding="utf-8-sig"))))
    tabbed = tmp_path / "gc.xls"
    tabbed.write_bytes("\n".join("\t".join(r) for r in rows).encode("utf-16"))
    assert [(s.student_id, s.cells) for s in read_roster(tabbed).students] == [
        (s.student_id, s.cells) for s in roster.students
    ]


def test_a_kaggle_name_column_added_to_the_export_names_the_participants(tmp_path):
    rows = list(csv.reader(io.StringIO(MOODLE.read_text(encoding="utf-8"))))
    rows[0].append("kaggle_name")
    for row, name in zip(rows[1:], ["anne", "", "bochen", "mary"], strict=True):
        row.append(name)
    path = tmp_path / "moodle.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    assert students_of(path) == [
        ("s2001", "anne", "Anne Able"),
        ("s2002", "s2002", "José García"),
        ("bo.chen@example.edu", "bochen", "Bo Chen"),
        ("s2004", "mary", "Mary O'Neil"),
    ]
    assert read_roster(path).summary.endswith(
        "participants are named by kaggle_name where given, else by student_id."
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "Name,ID\nAnn,1\n",
            "line 1: needs the column student_id, or the header of a Canvas, Moodle or "
            "Blackboard gradebook export (docs/grades-to-lms.md); found Name, ID.",
        ),
        (
            # Moodle's export without the email address column: not Blackboard's either.
            "First name,Last name,Username\nAnn,Lee,alee\n",
            "line 1: needs the column student_id, or the header of a Canvas, Moodle or "
            "Blackboard gradebook export (docs/grades-to-lms.md); found First name, Last name, "
            "Username.",
        ),
        (
            "Student,ID,SIS Login ID,Section,Quiz (1)\n    Points Possible,,,,5\n"
            '"Lee, Ann",,alee,A,4\n',
            "line 3: empty ID (and no SIS User ID); every student of a Canvas gradebook "
            "export has one, so this row is no student's. Remove it.",
        ),
        (
            "First name,Surname,Email address\nAnn,Lee,ann@x\nBo,Li,ANN@x\n",
            "line 3: student_id 'ANN@x' repeats line 2 (names are compared ignoring letter "
            "case); every student needs a folder and a board row of their own.",
        ),
        (
            "Last Name,First Name,Username\nLee,Ann,alee\nLee,Anne,ALee\n",
            "line 3: username 'alee' repeats line 2; each student needs their own.",
        ),
    ],
)
def test_an_export_the_kit_cannot_read_is_refused_in_one_line(content, message, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as info:
        read_roster(path)
    assert str(info.value) == f"--roster {path} {message}"


def test_canvas_first_and_last_name_columns_are_read(tmp_path):
    """Canvas's export with the "show first and last names" setting."""
    path = tmp_path / "canvas.csv"
    path.write_text(
        "LastName,FirstName,ID,SIS Login ID,Section,Quiz (7)\n"
        "    Points Possible,,,,,5.00\nSmith,John,1001,jsmith,A,4.00\n"
    )
    [student] = read_roster(path).students
    assert (student.student_id, student.name, student.cells["last_name"]) == (
        "1001",
        "John Smith",
        "Smith",
    )


# ----------------------------------------------------------------------------
# The import files, from roster students and gradebook rows
# ----------------------------------------------------------------------------


def rows_for(roster, points: list[float]) -> list[list]:
    """gradebook.csv rows (student_id, kaggle_name, points, ...) in roster order."""
    return [
        [s.student_id, s.kaggle_name, p, "", "", "", ""]
        for s, p in zip(roster, points, strict=True)
    ]


def test_the_canvas_file_is_the_layout_canvas_imports():
    students = read_roster(CANVAS).students
    book = lms_gradebook(students, rows_for(students, [10, 7.5, 0, 6]), "canvas", "Comp", "4402")
    assert book.text == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Comp (4402)\n"
        "Points Possible,,,,,10\n"
        '"Smith, John",1001,s1001,jsmith,DL-01,10\n'
        '"García, José",1002,s1002,jgarcia,DL-01 and DL-02,7.50\n'
        '"Lee, Ann",1003,,alee,DL-02,0\n'
        '"\'=Mallory, Eve",1004,s1004,emallory,DL-02,6\n'
    )
    assert (book.rows, book.left_out, book.file) == (4, [], "gradebook-canvas.csv")
    canvas_reads(book.text, "Comp", "4402")


def canvas_reads(text: str, title: str, assignment_id: str | None) -> None:
    """What Canvas's importer (lib/gradebook_importer.rb) checks of a file: the header's
    student columns (row_has_student_headers?, update_column_count), the assignment
    column's "title (id)" (Assignment.title_and_id), the Points Possible row."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    assert re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3])
    assert "Section" in header[4]  # the last student column: 5 of them
    match = re.fullmatch(r"(.*)\s\((\d+)\)", header[5], re.S)
    assert ((match[1], match[2]) if match else (header[5], None)) == (title, assignment_id)
    assert "Points Possible" in rows[1][0]
    assert all(row[1] or row[2] or row[3] for row in rows[2:])  # each row names its student


def test_the_moodle_file_has_one_identifier_column_and_the_grade():
    students = read_roster(MOODLE).students
    book = lms_gradebook(students, rows_for(students, [10, 8, 0, 6]), "moodle", "Comp", None)
    assert book.text == (
        "Full name,Email address,Comp\n"
        "Anne Able,anne.able@example.edu,10\n"
        "José García,Jose.Garcia@example.edu,8\n"
        "Bo Chen,bo.chen@example.edu,0\n"
        "Mary O'Neil,mary.oneil@example.edu,6\n"
    )


def test_the_blackboard_file_quotes_every_cell_and_names_the_column_id():
    students = read_roster(BLACKBOARD).students
    book = lms_gradebook(students, rows_for(students, [10, 8, 6]), "blackboard", "Comp", "5501")
    assert book.text == (
        '"Last Name","First Name","Username","Comp [Total Pts: 10 Score] |5501"\n'
        '"Wei","Li","li_wei","10"\n'
        '"Wei","Chen","wei","8"\n'
        '"Müller","Jürgen","JMuller","6"\n'
    )
    # Without a column id, Blackboard adds a column of that name.
    assert lms_gradebook(students, rows_for(students, [1, 2, 3]), "blackboard", "Comp").text[
        :53
    ] == ('"Last Name","First Name","Username","Comp"\n"Wei","Li"')


def test_students_the_lms_cannot_identify_are_left_out_and_say_why(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        "student_id,name,email,canvas_id,sis_login_id,username\n"
        "1,Ann,ann@x,11,,ann\n"
        "2,Bo,,,,\n"
        "3,Cy,ann@x,,cy,-cy\n"
        "4,=Di,+di@x,14,,\n"
    )
    students = read_roster(path).students
    rows = rows_for(students, [10, 8, 6, 0])

    def left_out(fmt: str) -> list[tuple[str, str]]:
        return [(s.student_id, why) for s, why in lms_gradebook(students, rows, fmt, "C").left_out]

    assert left_out("canvas") == [
        ("2", "no canvas_id or sis_user_id or sis_login_id in the roster")
    ]
    assert left_out("moodle") == [
        ("1", "the email 'ann@x' is another roster student's too"),
        ("2", "no email in the roster"),
        ("3", "the email 'ann@x' is another roster student's too"),
        ("4", "the email '+di@x' starts like a spreadsheet formula"),
    ]
    assert left_out("blackboard") == [
        ("2", "no username in the roster"),
        ("3", "the username '-cy' starts like a spreadsheet formula"),
        ("4", "no username in the roster"),
    ]
    canvas = lms_gradebook(students, rows, "canvas", "C")
    assert canvas.text.splitlines()[2:] == ["Ann,11,,,,10", "Cy,,,cy,,6", "'=Di,14,,,,0"]


@pytest.mark.parametrize(
    ("fmt", "assignment", "assignment_id", "problem"),
    [
        ("canvas", "CIFAR-10 competition", None, ""),
        ("canvas", " ", None, "--assignment is empty: give the assignment's name as the LMS "
         "shows it."),
        ("canvas", "Comp (2026)", None, "--assignment 'Comp (2026)' ends in a number in "
         "parentheses, which Canvas reads as an assignment id; give the id with "
         "--assignment-id, or another name."),
        ("canvas", "Comp (2026)", "88", ""),
        ("blackboard", "Comp", "88a", "--assignment-id '88a' is not a number: give the number "
         "Canvas shows in the assignment's address (.../assignments/NUMBER) or Blackboard's "
         "column id."),
        ("moodle", "=SUM(A1)", None, "--assignment '=SUM(A1)' starts like a spreadsheet "
         "formula, so it cannot be written as it is; rename the assignment."),
        ("moodle", "Comp\nX", None, "--assignment 'Comp\\nX' holds a line break or control "
         "character."),
    ],
)  # fmt: skip
def test_the_assignment_column_is_checked(fmt, assignment, assignment_id, problem):
    assert assignment_problem(fmt, assignment, assignment_id) == problem


# ----------------------------------------------------------------------------
# End to end: the command a TA types
# ----------------------------------------------------------------------------


@pytest.fixture
def graded(competition, tmp_path):
    """A folder for four roster students and a staff baseline with 6 of the 15 Public
    images wrong, and a function that writes it for given participant keys."""
    rows = solution_rows(competition)
    public = [int(r["id"]) for r in rows if r["Usage"] == "Public"]

    def write(keys: list[str]) -> Path:
        subs = tmp_path / "subs"
        write_predictions(subs / "baseline.csv", rows, wrong=set(public[:6]))
        # Against the baseline: 6 discordant images, all the student's (exact McNemar
        # p = 2/2^6 = 0.031 < 0.05): 10 points; 3 discordant (p = 2/2^3 = 0.25): 8 points;
        # as many right as the baseline: 6 points; no file: 0 points.
        write_predictions(subs / f"{keys[0]}.csv", rows, wrong=set())
        write_predictions(subs / f"{keys[1]}.csv", rows, wrong=set(public[:3]))
        write_predictions(subs / f"{keys[3]}.csv", rows, wrong=set(public[6:12]))
        return subs

    return write


def score(subs: Path, competition: Path, tmp_path: Path, *extra: str):
    return grader(
        "score",
        str(subs),
        "--solution",
        str(competition / "private" / "solution.csv"),
        "--out",
        str(tmp_path / "board"),
        "--review",
        str(tmp_path / "review"),
        "--history",
        str(tmp_path / "history.sqlite"),
        "--staff",
        "baseline",
        "--baseline",
        "baseline",
        *extra,
    )


@pytest.mark.slow
def test_canvas_export_in_canvas_import_file_out(graded, competition, tmp_path):
    subs = graded(["s1001", "s1002", "1003", "s1004"])
    result = score(
        subs, competition, tmp_path, "--roster", str(CANVAS), "--gradebook-format", "canvas",
        "--assignment-id", "4402",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    review = tmp_path / "review"
    text = (review / "gradebook-canvas.csv").read_text(encoding="utf-8")
    assert text == (
        "Student,ID,SIS User ID,SIS Login ID,Section,CIFAR-10 competition (4402)\n"
        "Points Possible,,,,,10\n"
        '"Smith, John",1001,s1001,jsmith,DL-01,10\n'
        '"García, José",1002,s1002,jgarcia,DL-01 and DL-02,8\n'
        '"Lee, Ann",1003,,alee,DL-02,0\n'
        '"\'=Mallory, Eve",1004,s1004,emallory,DL-02,6\n'
    )
    canvas_reads(text, "CIFAR-10 competition", "4402")
    assert (
        f"Roster: --roster {CANVAS}: read as a Canvas gradebook export: 4 student(s)"
    ) in result.stdout
    assert (
        f"Canvas import file: {review / 'gradebook-canvas.csv'} (4 students, grade column "
        "'CIFAR-10 competition (4402)'; how to import it: docs/grades-to-lms.md). Its grades "
        "are provisional (Public split): import a --final run's."
    ) in result.stdout
    assert "Left out" not in result.stdout
    assert (
        "| `gradebook-canvas.csv` | gradebook.csv's points in Canvas's grade import layout, "
        "grade column CIFAR-10 competition (4402): 4 of the roster's 4 students |"
    ) in (review / "README.md").read_text()
    # gradebook.csv holds the same points.
    with (review / "gradebook.csv").open() as f:
        assert [(r["student_id"], r["points"]) for r in csv.DictReader(f)] == [
            ("s1001", "10"),
            ("s1002", "8"),
            ("1003", "0"),
            ("s1004", "6"),
        ]
    # Run again with another format: the review folder is replaced, the Canvas file gone.
    again = score(
        subs, competition, tmp_path, "--roster", str(CANVAS), "--gradebook-format", "plain"
    )
    assert again.returncode == 0, again.stderr
    assert not (review / "gradebook-canvas.csv").exists()


def test_moodle_and_blackboard_exports_round_trip(graded, competition, tmp_path):
    subs = graded(["s2001", "s2002", "bo.chen@example.edu", "s2004"])
    result = score(
        subs, competition, tmp_path, "--roster", str(MOODLE), "--gradebook-format", "moodle",
        "--assignment", "Kaggle CIFAR-10",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "review" / "gradebook-moodle.csv").read_text(encoding="utf-8") == (
        "Full name,Email address,Kaggle CIFAR-10\n"
        "Anne Able,anne.able@example.edu,10\n"
        "José García,Jose.Garcia@example.edu,8\n"
        "Bo Chen,bo.chen@example.edu,0\n"
        "Mary O'Neil,mary.oneil@example.edu,6\n"
    )
    for path in subs.iterdir():
        path.unlink()
    subs.rmdir()
    subs = graded(["3001", "3002", "nobody", "JMuller"])  # 3 students: no one is left without
    result = score(
        subs, competition, tmp_path, "--roster", str(BLACKBOARD), "--gradebook-format",
        "blackboard", "--assignment-id", "5501",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "review" / "gradebook-blackboard.csv").read_text(encoding="utf-8") == (
        '"Last Name","First Name","Username","CIFAR-10 competition [Total Pts: 10 Score] |5501"\n'
        '"Wei","Li","li_wei","10"\n'
        '"Wei","Chen","wei","8"\n'
        '"Müller","Jürgen","JMuller","6"\n'
    )


def test_a_student_left_out_is_named_on_the_terminal(graded, competition, tmp_path):
    subs = graded(["ann", "bo", "cy", "di"])
    roster = tmp_path / "roster.csv"
    roster.write_text("kaggle_name,student_id,email\nann,1,ann@x\nbo,2,\ncy,3,cy@x\ndi,4,di@x\n")
    result = score(subs, competition, tmp_path, "--roster", str(roster), "--gradebook-format",
                   "moodle")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "Left out of gradebook-moodle.csv (1; graded in gradebook.csv, but Moodle could not "
        "tell who they are): 2 (no email in the roster). Add the column to the roster, or "
        "enter their grades by hand."
    ) in result.stdout
    assert (tmp_path / "review" / "gradebook-moodle.csv").read_text().splitlines() == [
        "Full name,Email address,CIFAR-10 competition",
        "1,ann@x,10",
        "3,cy@x,0",
        "4,di@x,6",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--gradebook-format", "canvas"),
            "Error: --gradebook-format canvas writes the roster's grades for Canvas's import: "
            "add --roster CSV and --baseline NAME.\n",
        ),
        (
            ("--gradebook-format", "blackboard", "--roster", str(BLACKBOARD),
             "--assignment-id", "col7"),
            "Error: --assignment-id 'col7' is not a number: give the number Canvas shows in "
            "the assignment's address (.../assignments/NUMBER) or Blackboard's column id.\n",
        ),
    ],
)  # fmt: skip
def test_flags_that_cannot_work_are_refused_before_anything_is_written(
    extra, message, graded, competition, tmp_path
):
    subs = graded(["a", "b", "c", "d"])
    result = score(subs, competition, tmp_path, *extra)
    assert (result.returncode, result.stderr) == (2, message)
    assert not (tmp_path / "board").exists() and not (tmp_path / "review").exists()


def test_an_assignment_flag_without_a_format_warns(graded, competition, tmp_path):
    subs = graded(["a", "b", "c", "d"])
    result = score(subs, competition, tmp_path, "--assignment-id", "12")
    assert result.returncode == 0
    assert result.stderr == (
        "Warning: --assignment and --assignment-id name the grade column of an LMS import "
        "file; without --gradebook-format canvas, moodle or blackboard none is written.\n"
    )


def test_collect_reads_a_canvas_export_as_its_roster(tmp_path):
    """Canvas's submission names carry the Canvas user id: the export's ID column."""
    export = tmp_path / "submissions.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("smithjohn_1001_90001_sub.csv", "id,label\n0,cat\n")
        archive.writestr("leeann_1003_90002_sub.csv", "id,label\n0,dog\n")
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(CANVAS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Roster: --roster {CANVAS}: read as a Canvas gradebook export" in result.stdout
    assert sorted(p.name for p in into.iterdir() if p.is_dir()) == ["1003", "s1001"]


def test_collect_matches_a_moodle_export_roster_by_full_name(tmp_path):
    """Moodle's grade export has no participant id: files are matched by the full name
    (first and last name), and each such match is listed."""
    export = tmp_path / "moodle.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("Bo Chen_41_assignsubmission_file_/sub.csv", "id,label\n0,cat\n")
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(MOODLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "'Bo Chen' (Moodle participant id 41) matched roster student bo.chen@example.edu by "
        "name: the roster has no moodle_id column to match participant id 41 (Bo Chen)"
    ) in result.stdout
    assert [p.name for p in into.iterdir() if p.is_dir()] == ["bo.chen@example.edu"]
