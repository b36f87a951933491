"""Turn a board into grades: a roster maps Kaggle names to student ids.

Points (out of 10), per student, from the participant's ranked file on the
board's split (public, or private with --final) against --baseline's, on the
board's ranking metric (accuracy, or macro-F1 with --rank-by macro_f1):

* 0: no valid submission;
* 6: a valid submission that does not beat the baseline;
* 8: a higher score than the baseline, not significantly;
* 10: a significantly higher score: the board's two-sided paired test against
  the baseline (p_vs_baseline: exact McNemar, or the permutation test of
  macro-F1) below 0.05 with the higher score, which is a one-sided test at
  the 2.5% level.

Without --final the grades rest on the Public split, which students can probe
with their submissions: every row's note says the grade is provisional.

The roster is a CSV with the columns kaggle_name and student_id (others are
kept out of the gradebook). A roster name matches the participant of the
same name, both NFC-normalised (grader.names); when none has exactly that
name, a participant whose name differs only by letter case is matched, if
there is exactly one, and the match is reported. gradebook.csv (in the review
folder) has one row per roster student, for an LMS import: student_id,
kaggle_name, points, rank, score (the ranking metric), p_vs_baseline, note. Participants on the
board but not on the roster are reported.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from grader import names
from grader.errors import UsageError
from grader.text import csv_cell, csv_text, p_text

ALPHA = 0.05
COLUMNS = ["student_id", "kaggle_name", "points", "rank", "score", "p_vs_baseline", "note"]


@dataclass(frozen=True)
class Student:
    student_id: str
    kaggle_name: str  # NFC


@dataclass
class Gradebook:
    """The rows of gradebook.csv and what the TA should hear about the matching."""

    rows: list[list]
    strangers: list[str] = field(default_factory=list)  # on the board, not on the roster
    case_matches: list[tuple[str, str]] = field(default_factory=list)  # (roster, participant)

    @property
    def without_submission(self) -> int:
        return sum(1 for row in self.rows if row[2] == 0)


def read_roster(path: Path) -> list[Student]:
    """The roster's students; errors name the file and line."""
    if not path.is_file():
        raise UsageError(
            f"--roster {path}: no such file. It needs the columns kaggle_name and student_id."
        )
    try:
        return _read_students(path)
    except OSError as exc:
        raise UsageError(f"--roster {path}: cannot be read ({exc.strerror or exc}).") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(
            f'--roster {path}: not a UTF-8 CSV file ({exc}). Save it as "CSV UTF-8".'
        ) from None


def _read_students(path: Path) -> list[Student]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [name.strip().lower() for name in reader.fieldnames or []]
        if "kaggle_name" not in fields or "student_id" not in fields:
            raise UsageError(
                f"--roster {path} line 1: needs the columns kaggle_name and "
                f"student_id, found {', '.join(reader.fieldnames or []) or 'none'}."
            )
        repeated = sorted({f for f in fields if fields.count(f) > 1})
        if repeated:
            raise UsageError(
                f"--roster {path} line 1: the column {repeated[0]!r} appears "
                f"{fields.count(repeated[0])} times; keep one."
            )
        reader.fieldnames = fields
        students, seen = [], {}
        for line, row in enumerate(reader, start=2):
            name = names.identity((row.get("kaggle_name") or "").strip())
            student = (row.get("student_id") or "").strip()
            if not name or not student:
                raise UsageError(f"--roster {path} line {line}: empty kaggle_name or student_id.")
            key = names.clash_key(name)
            if key in seen:
                raise UsageError(
                    f"--roster {path} line {line}: kaggle_name {name!r} repeats "
                    f"line {seen[key]} (names are compared ignoring letter case)."
                )
            seen[key] = line
            students.append(Student(student, name))
    return students


PROVISIONAL = "provisional: Public split; the final grade comes from grader score --final"


def points(score: float | None, baseline: float, p_value: float | None) -> int:
    """The rule of the module docstring."""
    if score is None:
        return 0
    if score <= baseline:
        return 6
    return 10 if p_value is not None and p_value < ALPHA else 8


def gradebook(
    students: list[Student],
    board,
    stats,
    split: str,
    baseline: str,
    entries=(),
    rank_by: str = "accuracy",
) -> Gradebook:
    """Grade every roster student from the board; `entries` explain missing grades."""
    index = {row.participant: i for i, row in enumerate(board)}

    def value(i: int) -> float:
        return getattr(board[i].entry.metrics[split], rank_by)

    def noted(note: str) -> str:
        return "; ".join(n for n in (note, PROVISIONAL if split == "public" else "") if n)

    base = value(index[baseline])
    # Board participants never differ by case alone (grader.names refuses such names), so
    # a case-insensitive key finds at most one of them.
    loose = {names.case_key(p): p for p in index if p not in {s.kaggle_name for s in students}}
    unscored: dict[str, int] = {}
    for e in entries:
        if e.status != "scored" and e.name:
            unscored[names.clash_key(e.name)] = unscored.get(names.clash_key(e.name), 0) + 1
    book = Gradebook([])
    matched = {baseline}
    for student in students:
        participant = student.kaggle_name
        if participant not in index and (other := loose.get(names.case_key(participant))):
            participant = other
            book.case_matches.append((student.kaggle_name, other))
        i = index.get(participant)
        if i is None:
            count = unscored.get(names.clash_key(student.kaggle_name), 0)
            note = "no valid submission" + (
                f" ({count} file(s) not scored: see scores.csv)" if count else ""
            )
            book.rows.append([student.student_id, student.kaggle_name, 0, "", "", "", noted(note)])
            continue
        matched.add(participant)
        p_value = stats[i].p_vs_baseline
        by_case = participant != student.kaggle_name
        note = f"matched participant {participant!r} by letter case" if by_case else ""
        book.rows.append(
            [
                student.student_id,
                student.kaggle_name,
                points(value(i), base, p_value),
                board[i].rank,
                repr(value(i)),
                p_text(p_value),
                noted(note),
            ]
        )
    book.strangers = [row.participant for row in board if row.participant not in matched]
    return book


def gradebook_csv(rows: list[list], rank_by: str = "accuracy") -> str:
    """gradebook.csv's text, names neutralised for spreadsheets; the score column is named
    after the ranking metric."""
    return csv_text(
        [rank_by if c == "score" else c for c in COLUMNS],
        [
            [csv_cell(str(row[0])), csv_cell(str(row[1])), *row[2:5], row[5], csv_cell(row[6])]
            for row in rows
        ],
    )
