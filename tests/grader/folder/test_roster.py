"""The roster (grader.folder.roster): a bad one is refused naming its line."""

from __future__ import annotations

import pytest

from grader.core.errors import UsageError


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "name,id\nalice,1\n",
            "line 1: needs the column student_id, or the header of a Canvas, Moodle or "
            "Blackboard gradebook export (docs/grades-to-lms.md); found name, id.",
        ),
        (
            "kaggle_name,student_id\nalice,1\nALICE,2\n",
            "line 3: kaggle_name 'ALICE' repeats line 2 (names are compared ignoring letter "
            "case); every student needs a folder and a board row of their own.",
        ),
        ("kaggle_name,student_id\nalice,\n", "line 2: empty student_id; every row needs one."),
        (
            'kaggle_name,student_id,name\nalice,1,"Alice\nbob,2,Bob\ncy,3,Cy\n',
            "line 2: a quote opened on this line is never closed.",
        ),
        (
            "kaggle_name,student_id\nalice,1\nbob,2,Bob Ray\n",
            "line 3: 3 cells, but the header has 2 columns (a ',' in a name needs quotes).",
        ),
        (
            'kaggle_name,student_id,name\nalice,1,"Alice\nbob,2,"\n',
            "line 2: a cell holds a line break (a quote that was not meant to open one?).",
        ),
    ],
)
def test_a_bad_roster_names_the_line(content, message, tmp_path):
    from grader.folder.roster import read_roster

    path = tmp_path / "roster.csv"
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        read_roster(path)
    assert str(info.value) == f"--roster {path} {message}"
