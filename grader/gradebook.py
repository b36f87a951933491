"""Turn a board into grades: a roster maps Kaggle names to student ids.

Points (out of 10), per student, from the participant's ranked file on the
board's split (public, or private with --final) against --baseline's:

* 0: no valid submission;
* 6: a valid submission that does not beat the baseline;
* 8: a higher accuracy than the baseline, not significantly (McNemar p >= 0.05);
* 10: a significantly higher accuracy than the baseline (p < 0.05).

The roster is a CSV with the columns kaggle_name and student_id (others are
kept out of the gradebook). gradebook.csv has one row per roster student, for
an LMS import: student_id, kaggle_name, points, rank, accuracy, p_vs_baseline,
note. Participants on the board but not on the roster are reported.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError

ALPHA = 0.05


@dataclass(frozen=True)
class Student:
    student_id: str
    kaggle_name: str


def read_roster(path: Path) -> list[Student]:
    """The roster's students; errors name the file and line."""
    if not path.is_file():
        raise UsageError(
            f"--roster {path}: no such file. It needs the columns kaggle_name and student_id."
        )
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [name.strip().lower() for name in reader.fieldnames or []]
        if "kaggle_name" not in fields or "student_id" not in fields:
            raise UsageError(
                f"--roster {path} line 1: needs the columns kaggle_name and "
                f"student_id, found {', '.join(reader.fieldnames or []) or 'none'}."
            )
        reader.fieldnames = fields
        students, seen = [], {}
        for line, row in enumerate(reader, start=2):
            name = (row.get("kaggle_name") or "").strip()
            student = (row.get("student_id") or "").strip()
            if not name or not student:
                raise UsageError(f"--roster {path} line {line}: empty kaggle_name or student_id.")
            if name.lower() in seen:
                raise UsageError(
                    f"--roster {path} line {line}: kaggle_name {name!r} repeats "
                    f"line {seen[name.lower()]}."
                )
            seen[name.lower()] = line
            students.append(Student(student, name))
    return students


def points(accuracy: float | None, baseline: float, p_value: float | None) -> int:
    """The rule of the module docstring."""
    if accuracy is None:
        return 0
    if accuracy <= baseline:
        return 6
    return 10 if p_value is not None and p_value < ALPHA else 8


def gradebook(students: list[Student], board, stats, split: str, baseline: str):
    """Rows of gradebook.csv, and the board's participants missing from the roster."""
    index = {row.participant.lower(): i for i, row in enumerate(board)}
    base = board[index[baseline.lower()]].entry.metrics[split].accuracy
    rows = []
    for student in students:
        i = index.get(student.kaggle_name.lower())
        if i is None:
            rows.append(
                [student.student_id, student.kaggle_name, 0, "", "", "", "no valid submission"]
            )
            continue
        accuracy = board[i].entry.metrics[split].accuracy
        p_value = stats[i].p_vs_baseline
        rows.append(
            [
                student.student_id,
                student.kaggle_name,
                points(accuracy, base, p_value),
                board[i].rank,
                repr(accuracy),
                f"{p_value:.4g}",
                "",
            ]
        )
    on_roster = {s.kaggle_name.lower() for s in students} | {baseline.lower()}
    strangers = [row.participant for row in board if row.participant.lower() not in on_roster]
    return rows, strangers


def write_gradebook(path: Path, rows: list[list]) -> None:
    """gradebook.csv, written through a temporary file (never half-written)."""
    from grader.report import csv_cell

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["student_id", "kaggle_name", "points", "rank", "accuracy", "p_vs_baseline", "note"]
    )
    writer.writerows([csv_cell(str(row[0])), csv_cell(str(row[1])), *row[2:]] for row in rows)
    handle, temporary = tempfile.mkstemp(prefix=".gradebook.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(buffer.getvalue())
    Path(temporary).replace(path)
