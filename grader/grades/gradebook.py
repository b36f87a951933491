"""Turn a board into grades: the roster (grader.folder.roster) maps participants to student ids.

Points (out of 10), per student, from the participant's graded file on the
board's split (public, or private with --final) against --baseline's, on the
board's ranking metric (accuracy, or macro-F1 with --rank-by macro_f1):

* 0: no valid submission;
* 6: a valid submission that does not beat the baseline;
* 8: a higher score than the baseline, not significantly;
* 10: a significantly higher score: the board's two-sided paired test against
  the baseline (p_vs_baseline: exact McNemar, or the permutation test of
  macro-F1) below 0.05 with the higher score, which is a one-sided test at
  the 2.5% level.

The graded file is the participant's ranked file on the board, except when it
is late under a late policy (grader.grades.late): then every file of the student the
board could rank (on the final board: the selected ones, else the 2 best
public, of those that keep any points) earns its points times the share the
policy leaves it (`zero`: 1 on time, 0 late; `penalty`: less per started
day), and the most points count; on equal points the on-time file, then the
board's order. The note says which file was graded and why.

Without --final the grades rest on the Public split, which students can probe
with their submissions: every row's note says the grade is provisional.

A roster student matches the participant of their participant key
(`kaggle_name`, else `student_id`), both NFC-normalised (grader.core.names); when
none has exactly that name, a participant whose name differs only by letter
case is matched, if there is exactly one, and the match is reported.
gradebook.csv (in the review folder) has one row per roster student, for an
LMS import: student_id, kaggle_name, points, rank, score (the ranking metric),
p_vs_baseline, note. Participants on the board but not on the roster (staff
aside) are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.core import names
from grader.core.text import csv_cell, csv_text, p_text
from grader.folder.roster import Student, match_participants
from grader.grades.late import IGNORE, Lateness, Policy, factor, penalty_text
from grader.score.entry import Entry
from grader.score.ranking import board_candidates, board_order
from grader.stats.uncertainty import paired_p

ALPHA = 0.05
COLUMNS = ["student_id", "kaggle_name", "points", "rank", "score", "p_vs_baseline", "note"]


@dataclass
class Gradebook:
    """The rows of gradebook.csv and what the TA should hear about the matching."""

    rows: list[list]
    strangers: list[str] = field(default_factory=list)  # on the board, not on the roster
    case_matches: list[tuple[str, str]] = field(default_factory=list)  # (roster, participant)
    late_changed: int = 0  # students whose grade the late policy changed

    @property
    def without_submission(self) -> int:
        return sum(1 for row in self.rows if row[2] == 0 and row[3] == "")


PROVISIONAL = "provisional: Public split; the final grade comes from grader score --final"


def points(score: float | None, baseline: float, p_value: float | None) -> int:
    """The rule of the module docstring."""
    if score is None:
        return 0
    if score <= baseline:
        return 6
    return 10 if p_value is not None and p_value < ALPHA else 8


@dataclass(frozen=True)
class Grading:
    """What the gradebook needs besides the board (one object, not ten arguments)."""

    board: list
    stats: list
    split: str
    baseline: str
    entries: list[Entry]
    rank_by: str = "accuracy"
    key: object = None  # the AnswerKey: paired tests of files that are not board rows
    late: dict[str, Lateness] = field(default_factory=dict)  # by file (grader.grades.late.judge)
    policy: Policy = IGNORE
    staff: frozenset[str] = frozenset()

    @property
    def final(self) -> bool:
        return self.split == "private"


def gradebook(students: list[Student], grading: Grading) -> Gradebook:
    """Grade every roster student from the board; entries explain missing grades."""
    g = grading
    index = {row.participant: i for i, row in enumerate(g.board)}
    base_entry = g.board[index[g.baseline]].entry
    base = _value(base_entry, g)
    matched, by_case = match_participants(students, index)
    participant_of = {id(s): p for p, s in matched.items()}
    unscored: dict[str, int] = {}
    for e in g.entries:
        if e.status != "scored" and e.name:
            unscored[names.clash_key(e.name)] = unscored.get(names.clash_key(e.name), 0) + 1
    own: dict[str, list[Entry]] = {}
    for e in g.entries:
        if e.status == "scored" and e.identified:
            own.setdefault(e.participant, []).append(e)
    book = Gradebook([], case_matches=[(s.participant, p) for s, p in by_case])
    for student in students:
        participant = participant_of.get(id(student))
        if participant is None:
            count = unscored.get(names.clash_key(student.participant), 0)
            note = "no valid submission" + (
                f" ({count} file(s) not scored: see scores.csv)" if count else ""
            )
            book.rows.append(_row(student, 0, "", "", "", [note], g))
            continue
        i = index[participant]
        notes = []
        if participant != student.participant:
            notes.append(f"matched participant {participant!r} by letter case")
        graded, kept, p_value, late_notes = _graded(g, i, own[participant], base_entry, base)
        notes += late_notes
        book.late_changed += graded is not g.board[i].entry or kept < 1
        score = _value(graded, g)
        book.rows.append(
            _row(
                student,
                points(score, base, p_value) * kept,
                g.board[i].rank,
                repr(score),
                p_text(p_value),
                notes,
                g,
            )
        )
    known = set(matched) | {g.baseline} | set(g.staff)
    book.strangers = [row.participant for row in g.board if row.participant not in known]
    return book


def _value(entry: Entry, g: Grading) -> float:
    return getattr(entry.metrics[g.split], g.rank_by)


def _row(student: Student, pts: float, rank, score: str, p: str, notes: list[str], g: Grading):
    provisional = [PROVISIONAL] if g.split == "public" else []
    return [
        student.student_id,
        student.kaggle_name,
        pts,
        "" if rank is None else rank,
        score,
        p,
        "; ".join(n for n in [*notes, *provisional] if n),
    ]


def _graded(g: Grading, i: int, own: list[Entry], base_entry: Entry, base: float):
    """(graded file, share of points kept, its p vs the baseline, notes) under the late
    policy: the ranked file, or, when it is late, the file that earns the most points
    after the policy (the module docstring's rule)."""
    ranked = g.board[i].entry
    lateness = g.late.get(ranked.file)
    if lateness is None:
        return ranked, 1.0, g.stats[i].p_vs_baseline, []
    if not lateness.late or g.policy.kind == "ignore":
        what = "late" if lateness.late else "undecided"
        extra = f"; {penalty_text(g.policy, lateness)}" if lateness.late else ""
        return ranked, 1.0, g.stats[i].p_vs_baseline, [f"{what}: {lateness.reason}{extra}"]
    late_note = (
        f"ranked file {ranked.file} is late: {lateness.reason}; {penalty_text(g.policy, lateness)}"
    )
    kept = {e.file: factor(g.policy, g.late.get(e.file)) for e in own}
    candidates = board_candidates([e for e in own if kept[e.file] > 0], g.rank_by, g.final)
    if not candidates:
        return ranked, 0.0, g.stats[i].p_vs_baseline, [late_note + "; no file was on time"]
    options = []
    for e in sorted(candidates, key=lambda e: board_order(e, g.split, g.rank_by)):
        p = g.stats[i].p_vs_baseline if e is ranked else _p(e, base_entry, g)
        options.append((points(_value(e, g), base, p) * kept[e.file], kept[e.file], e, p))
    # The most points win; on equal points the on-time file, then the board's order.
    _, share, graded, p = max(options, key=lambda o: o[:2])
    notes = [late_note]
    if graded is not ranked and share == 1.0:
        notes.append(f"graded the on-time file {graded.file}")
    elif graded is not ranked:
        other = g.late[graded.file]
        notes.append(f"graded {graded.file}, late: {other.reason}; {penalty_text(g.policy, other)}")
    return graded, share, p, notes


def _p(entry: Entry, base_entry: Entry, g: Grading) -> float | None:
    if g.key is None:
        return None
    return paired_p(entry.predicted, base_entry.predicted, g.key, g.split, g.rank_by)


def gradebook_csv(rows: list[list], rank_by: str = "accuracy") -> str:
    """gradebook.csv's text, names neutralised for spreadsheets; the score column is named
    after the ranking metric."""
    return csv_text(
        [rank_by if c == "score" else c for c in COLUMNS],
        [
            [
                csv_cell(str(row[0])),
                csv_cell(str(row[1])),
                points_text(row[2]),
                *row[3:5],
                row[5],
                csv_cell(row[6]),
            ]
            for row in rows
        ],
    )


def points_text(value: float) -> str:
    """Points as written: whole numbers without a decimal point, else two decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
