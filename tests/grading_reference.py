"""docs/grading-rules.md, sections 3 to 6, implemented again from the page alone.

Plain Python over plain records (no NumPy, nothing from grader): a file is its
participant, name, time, whether that time is known, the LMS's late mark, whether
it is selected, and which test rows it gets right on each split. Scores are exact
fractions and the paired test is McNemar's exact binomial, also in fractions.
tests/test_grading_reference.py checks the kit against it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction

LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
ALPHA = Fraction(5, 100)


@dataclass(frozen=True)
class File:
    participant: str
    name: str
    time: datetime
    right_public: tuple[bool, ...]
    right_private: tuple[bool, ...]
    selected: bool = False
    time_known: bool = True
    lms_late: bool | None = None

    def right(self, split: str) -> tuple[bool, ...]:
        return self.right_public if split == "public" else self.right_private

    def score(self, split: str) -> Fraction:
        return accuracy(self.right(split))


@functools.cache
def accuracy(right: tuple[bool, ...]) -> Fraction:
    return Fraction(sum(right), len(right))


@dataclass(frozen=True)
class Class:
    """One run of grader score: files, roster (participant -> extension hours), flags."""

    files: tuple[File, ...]
    roster: dict[str, float]
    staff: frozenset[str]
    baseline: str
    deadline: datetime | None
    policy: str  # ignore | zero | penalty
    percent: Fraction = Fraction(0)  # per day, for penalty
    final: bool = False


@dataclass(frozen=True)
class Row:
    participant: str
    rank: int | None  # None: staff
    file: str


@dataclass(frozen=True)
class Grade:
    points: Fraction
    rank: int | None  # None: no row on the board
    file: str | None  # the graded file; None: no valid submission, or none on time


@dataclass
class Result:
    board: list[Row] = field(default_factory=list)
    grades: dict[str, Grade] = field(default_factory=dict)


# ----------------------------------------------------------------------------
# Section 3: lateness
# ----------------------------------------------------------------------------


def student_deadline(c: Class, participant: str) -> datetime | None:
    """3.2: --deadline plus the roster's extension; never past the end of time."""
    if c.deadline is None:
        return None
    hours = c.roster.get(participant, 0.0)
    if c.deadline > LATEST - timedelta(hours=hours):
        return None  # the extension passes the year 9999: never late
    return c.deadline + timedelta(hours=hours)


def lateness(c: Class, f: File) -> tuple[bool | None, int]:
    """(late: True, on time: False, undecided: None; started days late)."""
    if f.time_known:
        own = student_deadline(c, f.participant)
        if own is None or f.time <= own:
            return False, 0
        return True, math.ceil((f.time - own) / timedelta(days=1))
    if f.lms_late:
        if c.roster.get(f.participant, 0.0):
            return None, 0
        return True, 1
    return False, 0


def share(c: Class, f: File) -> Fraction:
    """6.4: the share of its points a file keeps under the policy."""
    late, days = lateness(c, f)
    if late is not True or c.policy == "ignore":
        return Fraction(1)
    if c.policy == "zero":
        return Fraction(0)
    return max(Fraction(0), 1 - c.percent / 100 * days)


def is_late(c: Class, f: File) -> bool:
    return lateness(c, f)[0] is True


# ----------------------------------------------------------------------------
# Sections 4 and 5: the board
# ----------------------------------------------------------------------------


def split_of(c: Class) -> str:
    return "private" if c.final else "public"


def order_key(f: File, split: str) -> tuple:
    """4.5 and 5.1: higher score first, then the earlier file, then the file name."""
    return (-f.score(split), f.time, f.name)


def candidates(files: list[File], final: bool) -> list[File]:
    """4.1 and 4.2, over the files given."""
    if not final:
        return list(files)
    chosen = sorted((f for f in files if f.selected), key=lambda f: (f.time, f.name))
    if chosen:
        return chosen[-2:]
    return sorted(files, key=lambda f: order_key(f, "public"))[:2]


def shown_file(files: list[File], final: bool, split: str) -> File | None:
    """4.5: the candidate a row shows."""
    pool = candidates(files, final)
    return min(pool, key=lambda f: order_key(f, split)) if pool else None


def files_of(c: Class, participant: str) -> list[File]:
    return [f for f in c.files if f.participant == participant]


def board_files(c: Class, participant: str) -> list[File]:
    """4.3: under zero and penalty the final board drops late files (staff's aside)."""
    own = files_of(c, participant)
    if c.final and c.policy != "ignore" and participant not in c.staff:
        own = [f for f in own if not is_late(c, f)]
    return own


def board(c: Class) -> list[Row]:
    split = split_of(c)
    shown = []
    for participant in sorted({f.participant for f in c.files}):
        best = shown_file(board_files(c, participant), c.final, split)
        if best is not None:
            shown.append((participant, best))
    shown.sort(key=lambda item: (*order_key(item[1], split), item[0]))
    ranked = [best.score(split) for p, best in shown if p not in c.staff]
    return [
        Row(p, None if p in c.staff else 1 + sum(s > best.score(split) for s in ranked), best.name)
        for p, best in shown
    ]


# ----------------------------------------------------------------------------
# Section 6: points and the graded file
# ----------------------------------------------------------------------------


def mcnemar(a: tuple[bool, ...], b: tuple[bool, ...]) -> Fraction:
    """The exact two-sided McNemar p-value, as a fraction."""
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    n = only_a + only_b
    if n == 0:
        return Fraction(1)
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(Fraction(1), 2 * Fraction(tail, 2**n))


def points(f: File, base: File, split: str) -> int:
    """6.1."""
    if f.score(split) <= base.score(split):
        return 6
    return 10 if mcnemar(f.right(split), base.right(split)) < ALPHA else 8


def grade(c: Class, participant: str, rows: dict[str, Row], base: File) -> Grade:
    split = split_of(c)
    own = files_of(c, participant)
    rank = rows[participant].rank if participant in rows else None
    if not own:
        return Grade(Fraction(0), rank, None)
    if c.policy == "ignore":  # 6.2
        graded = next(f for f in own if f.name == rows[participant].file)
        return Grade(Fraction(points(graded, base, split)), rank, graded.name)
    on_time = shown_file([f for f in own if not is_late(c, f)], c.final, split)  # 6.3
    options = [on_time] if on_time is not None else []
    if c.policy == "penalty":  # 6.4
        keeping = [f for f in own if share(c, f) > 0]
        options += [f for f in candidates(keeping, c.final) if is_late(c, f)]
    if not options:
        return Grade(Fraction(0), rank, None)
    graded = min(
        options,
        key=lambda f: (-points(f, base, split) * share(c, f), -share(c, f), order_key(f, split)),
    )
    return Grade(points(graded, base, split) * share(c, graded), rank, graded.name)


def grade_class(c: Class) -> Result:
    result = Result(board=board(c))
    rows = {row.participant: row for row in result.board}
    base_name = rows[c.baseline].file
    base = next(f for f in c.files if f.name == base_name)
    for participant in c.roster:
        result.grades[participant] = grade(c, participant, rows, base)
    return result
