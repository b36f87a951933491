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

The graded file (docs/grading-rules.md, section 6): under `ignore`, the file on
the student's board row. Under `zero` and `penalty` (grader.grades.late), the file
the board would show for the student if their late files had never been
submitted (on the final board, which leaves them out, the board's own file);
under `penalty` it competes with each late file the board would choose from if
late files counted, each earning its points times the share the policy leaves
it, and the most points count; on equal points the larger share (the on-time
file first), then the board's order. The note says which file was graded and why.

Without --final the grades rest on the Public split, which students can probe
with their submissions: every row's note says the grade is provisional.

A roster student matches the participant of their participant key
(`kaggle_name`, else `student_id`), both NFC-normalised (grader.core.names); when
none has exactly that name, a participant whose name differs only by letter
case is matched, if there is exactly one, and the match is reported.
gradebook.csv (in the review folder) has one row per roster student, for an
LMS import: student_id, kaggle_name, points, rank, score (the ranking metric),
p_vs_baseline, note. Rank, score and p_vs_baseline are the student's row on the
board (empty without one), so the gradebook's ranks read in the board's order;
points are the graded file's. Participants on the board but not on the roster
(staff aside) are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from grader.core import names
from grader.core.constants import DEFAULT_RANK_BY
from grader.core.text import csv_cell, csv_text, p_text
from grader.folder.roster import Student, match_participants
from grader.grades.late import IGNORE, Lateness, Policy, factor, penalty_text
from grader.score.entry import Entry, entry_value
from grader.score.ranking import board_candidates, board_order
from grader.stats.uncertainty import paired_p

ALPHA = 0.05
COLUMNS = ["student_id", "kaggle_name", "points", "rank", "score", "p_vs_baseline", "note"]


@dataclass
class Gradebook:
    """The rows of gradebook.csv and what the TA should hear about the matching."""

    rows: list[list]
    graded: list[str | None] = field(default_factory=list)  # per row: the graded file
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
    rank_by: str = DEFAULT_RANK_BY
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
    base = entry_value(base_entry, g.split, g.rank_by)
    unscored: dict[str, int] = {}
    for e in g.entries:
        if e.status != "scored" and e.name:
            unscored[names.clash_key(e.name)] = unscored.get(names.clash_key(e.name), 0) + 1
    own: dict[str, list[Entry]] = {}
    for e in g.entries:
        if e.status == "scored" and e.identified:
            own.setdefault(e.participant, []).append(e)
    # Every participant with a scored file: under a late policy the final board may
    # have no row for a student whose files are all late, who is still graded.
    matched, by_case = match_participants(students, own)
    participant_of = {id(s): p for p, s in matched.items()}
    book = Gradebook(rows=[], case_matches=[(s.participant, p) for s, p in by_case])
    for student in students:
        participant = participant_of.get(id(student))
        if participant is None:
            count = unscored.get(names.clash_key(student.participant), 0)
            note = "no valid submission" + (
                f" ({count} file(s) not scored: see scores.csv)" if count else ""
            )
            book.rows.append(_row(student, pts=0, rank="", score="", p="", notes=[note], g=g))
            book.graded.append(None)
            continue
        i = index.get(participant)
        notes = []
        if participant != student.participant:
            notes.append(f"matched participant {participant!r} by letter case")
        choice = _graded(g, i, own[participant], base_entry, base)
        notes += choice.notes
        book.late_changed += choice.changed
        pts = 0
        if choice.file is not None:
            pts = points(entry_value(choice.file, g.split, g.rank_by), base, choice.p)
        book.graded.append(None if choice.file is None else choice.file.file)
        book.rows.append(
            _row(
                student,
                pts=pts * choice.share,
                rank="" if i is None else g.board[i].rank,
                score="" if i is None else repr(entry_value(g.board[i].entry, g.split, g.rank_by)),
                p="" if i is None else p_text(g.stats[i].p_vs_baseline),
                notes=notes,
                g=g,
            )
        )
    known = set(matched) | {g.baseline} | set(g.staff)
    book.strangers = [row.participant for row in g.board if row.participant not in known]
    return book


def _row(student: Student, *, pts, rank, score: str, p: str, notes: list[str], g: Grading):
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


@dataclass(frozen=True)
class Choice:
    """The graded file of one student (None: none counts), the share of its points it
    keeps, its p vs the baseline, the notes, and whether the late policy changed the
    grade."""

    file: Entry | None
    share: Fraction
    p: float | None
    notes: list[str]
    changed: bool


def _graded(g: Grading, i: int | None, own: list[Entry], base_entry: Entry, base: float) -> Choice:
    """The module docstring's rule: which file of `own` (the student's scored files) is
    graded; `i` is the student's board row (None without one)."""
    ranked = g.board[i].entry if i is not None else None

    def p_of(e: Entry) -> float | None:
        return g.stats[i].p_vs_baseline if e is ranked else _p(e, base_entry, g)

    if g.policy.kind == "ignore":
        return Choice(
            file=ranked,
            share=Fraction(1),
            p=p_of(ranked),
            notes=_flag_notes(g, ranked),
            changed=False,
        )
    share = {e.file: factor(g.policy, g.late.get(e.file)) for e in own}
    notes = []
    if ranked is not None and _late(g, ranked):  # the public board keeps late files
        lateness = g.late[ranked.file]
        notes.append(
            f"ranked file {ranked.file} is late: {lateness.reason}; "
            f"{penalty_text(g.policy, lateness)}"
        )
    options = _options(g, own, share)
    if not options:
        return Choice(
            file=None,
            share=Fraction(0),
            p=None,
            notes=[*notes, "no file was on time"],
            changed=True,
        )
    # The most points win; on equal points the larger share (on time first), then the
    # board's order (max keeps the first of equals).
    graded = max(
        options,
        key=lambda e: (
            points(entry_value(e, g.split, g.rank_by), base, p_of(e)) * share[e.file],
            share[e.file],
        ),
    )
    notes += _choice_notes(g, graded, ranked, own)
    changed = graded is not _shown(own, g) or share[graded.file] < 1  # _shown: ignore's
    return Choice(
        file=graded, share=share[graded.file], p=p_of(graded), notes=notes, changed=changed
    )


def _options(g: Grading, own: list[Entry], share: dict[str, Fraction]) -> list[Entry]:
    """The files that compete under zero or penalty, in the board's order: the file the
    board would show without the late files; under penalty also each late file the board
    would choose from if late files counted (those that keep points)."""
    on_time = [e for e in own if not _late(g, e)]
    options = [_shown(on_time, g)] if on_time else []
    if g.policy.kind == "penalty":
        keeping = [e for e in own if share[e.file] > 0]
        options += [e for e in board_candidates(keeping, g.rank_by, g.final) if _late(g, e)]
    return sorted(options, key=lambda e: board_order(e, g.split, g.rank_by))


def _choice_notes(g: Grading, graded: Entry, ranked: Entry | None, own: list[Entry]) -> list[str]:
    """Why the graded file is graded, when it is not the board's; what zero left out."""
    notes = []
    if graded is not ranked and not _late(g, graded):
        notes.append(f"graded the on-time file {graded.file}")
    elif graded is not ranked:
        other = g.late[graded.file]
        note = f"graded {graded.file}, late: {other.reason}; {penalty_text(g.policy, other)}"
        if ranked is not None and not _late(g, ranked):
            note += f"; it keeps more points than the board's file {ranked.file}"
        notes.append(note)
    if g.policy.kind == "zero":
        skipped = [e.file for e in own if _late(g, e) and e is not ranked]
        if skipped:
            notes.append(f"not counted, late (--late-policy zero): {', '.join(skipped)}")
    return notes + _flag_notes(g, graded)


def _shown(files: list[Entry], g: Grading) -> Entry:
    """The file a board row would show, of these files (ranking's rule)."""
    return min(
        board_candidates(files, g.rank_by, g.final),
        key=lambda e: board_order(e, g.split, g.rank_by),
    )


def _late(g: Grading, e: Entry) -> bool:
    """Whether the late rules judged the file late (undecided counts as on time)."""
    lateness = g.late.get(e.file)
    return lateness is not None and lateness.late is True


def _flag_notes(g: Grading, e: Entry) -> list[str]:
    """The note of a graded file that the late rules flagged: late under `ignore`, or
    undecided (an LMS mark against an extension)."""
    lateness = g.late.get(e.file)
    if lateness is None:
        return []
    if lateness.late is None:
        return [f"undecided: {lateness.reason}"]
    if g.policy.kind == "ignore":
        return [f"late: {lateness.reason}; {penalty_text(g.policy, lateness)}"]
    return []


def _p(entry: Entry, base_entry: Entry, g: Grading) -> float | None:
    if g.key is None:
        return None
    return paired_p(entry.predicted, base_entry.predicted, g.key, g.split, g.rank_by)


def gradebook_csv(rows: list[list], rank_by: str = DEFAULT_RANK_BY) -> str:
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


def points_text(value: float | Fraction) -> str:
    """Points as written: whole numbers without a decimal point, else two decimals."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.2f}"
