"""The kit against docs/grading-rules.md: the board's rows and ranks, and every gradebook
row (points, rank, graded file), equal those of tests/grading_reference.py, written from
that page alone, on hand-worked examples and on 500 generated classes per run.

The classes are built in memory and go through the library functions grader score runs
(late.judge, late.never_submitted, ranking.leaderboard, uncertainty.board_uncertainty,
gradebook.gradebook), on a 20-row test set ranked by accuracy.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grader.bundle.answers import AnswerKey
from grader.bundle.files import CIFAR10_CLASSES
from grader.folder.roster import Student
from grader.grades.gradebook import Grading, gradebook
from grader.grades.late import judge, never_submitted, parse_policy
from grader.score.entry import Entry, board_split
from grader.score.ranking import leaderboard
from grader.score.scoring import split_metrics
from grader.stats.uncertainty import Interval, board_uncertainty
from tests import grading_reference as ref

N = 10  # test rows per split
KEY = AnswerKey(
    np.arange(2 * N),
    CIFAR10_CLASSES,
    labels=np.arange(2 * N) % 10,
    public=np.arange(2 * N) % 2 == 0,  # Public and Private rows interleaved
)
DEADLINE = datetime(2026, 11, 25, 23, 59, tzinfo=timezone.utc)
NO_SPAN = Interval(0.0, 1.0)
BASELINE = "base"


@functools.lru_cache(maxsize=4096)
def predictions(right_public: tuple[bool, ...], right_private: tuple[bool, ...]):
    """Predictions right exactly on the given rows of each split, and their metrics."""
    predicted = KEY.labels.copy()
    for split, right in (("public", right_public), ("private", right_private)):
        rows = np.flatnonzero(KEY.mask(split))
        wrong = rows[[not r for r in right]]
        predicted[wrong] = (predicted[wrong] + 1) % 10
    return predicted, split_metrics(KEY, predicted)


def entry_of(f: ref.File) -> Entry:
    """The Entry grader score would make of a reference file (a scored file)."""
    e = Entry(f.participant, f.name, f.time, f.selected, status="scored")
    e.predicted, e.metrics = predictions(f.right_public, f.right_private)
    e.sha256 = hashlib.sha256(f.name.encode()).hexdigest()
    e.time_known, e.lms_late = f.time_known, f.lms_late
    return e


def kit(c: ref.Class):
    """The board and the gradebook the kit makes of a class: what grader score does
    between scoring and writing."""
    # Listed in reverse: no rule may depend on the order the files were found in.
    entries = [entry_of(f) for f in reversed(c.files)]
    students = [Student(f"id-{p}", p, extension_hours=h) for p, h in c.roster.items()]
    percent = f"{float(c.percent):g}"
    policy = parse_policy(c.policy if c.policy != "penalty" else f"penalty:{percent}%/day")
    late, _ = judge(entries, c.deadline, dict(c.roster))
    dropped = never_submitted(entries, late, policy, c.staff) if c.final else frozenset()
    board = leaderboard(entries, "accuracy", c.final, c.staff, dropped)
    split = board_split(c.final)
    # Intervals play no part in ranks or points: a placeholder spares the bootstrap.
    spans = {e.file: {"accuracy": NO_SPAN, "macro_f1": NO_SPAN} for e in entries}
    stats = board_uncertainty(board, KEY, split, c.baseline, intervals=spans)
    grading = Grading(
        board=board,
        stats=stats,
        split=split,
        baseline=c.baseline,
        entries=entries,
        key=KEY,
        late=late,
        policy=policy,
        staff=c.staff,
    )
    return board, gradebook(students, grading)


def check(c: ref.Class) -> ref.Result:
    """The kit's board and gradebook equal the reference's; returns the reference's."""
    expected = ref.grade_class(c)
    board, book = kit(c)
    assert [(r.participant, r.rank, r.entry.file) for r in board] == [
        (r.participant, r.rank, r.file) for r in expected.board
    ]
    got = {
        row[1]: (Fraction(row[2]), row[3] if row[3] != "" else None, graded)
        for row, graded in zip(book.rows, book.graded, strict=True)
    }
    assert got == {p: (g.points, g.rank, g.file) for p, g in expected.grades.items()}, c
    return expected


# ----------------------------------------------------------------------------
# Hand-worked examples (docs/grading-rules.md 6.3; issue 24's cases 3 to 5)
# ----------------------------------------------------------------------------


def right(n: int) -> tuple[bool, ...]:
    """The first n of the N rows right."""
    return tuple(i < n for i in range(N))


def at(hours: float) -> datetime:
    return DEADLINE + timedelta(hours=hours)


# The baseline: Public 3/10, Private 4/10. A file right on every row the baseline gets
# right and on k more: McNemar p = 2 x 0.5^k, so k >= 6 gives p = 0.031 < 0.05 (10
# points), k of 1 to 5 gives 8, k = 0 (the same score) gives 6.
BASE = ref.File(BASELINE, "base/b.csv", at(-100), right(3), right(4))
# Alice's A, B, C of the rule page: A and B on time, C a day late.
A = ref.File("alice", "alice/a.csv", at(-50), right(6), right(4))
B = ref.File("alice", "alice/b.csv", at(-40), right(5), right(10))
C = ref.File("alice", "alice/c.csv", at(10), right(9), right(7))
BOB = ref.File("bob", "bob/x.csv", at(-30), right(7), right(8))


def example_class(policy: str, final: bool, files=(A, B, C, BOB), percent=Fraction(10)):
    return ref.Class(
        (BASE, *files),
        {"alice": 0.0, "bob": 0.0},
        frozenset({BASELINE}),
        BASELINE,
        DEADLINE,
        policy,
        percent,
        final,
    )


def outcome(result: ref.Result):
    board = [(r.participant, r.rank, r.file) for r in result.board]
    return board, {p: (g.points, g.rank, g.file) for p, g in result.grades.items()}


def test_the_written_examples():
    # Case 5, --final, zero: C is as if never submitted, so alice's candidates are her 2
    # best public on-time files, A and B; B's Private 10/10 shows (p = 2 x 0.5^6: 10
    # points). bob's 8/10 (4 more than the baseline: p = 0.125, 8 points) ranks below.
    assert outcome(check(example_class("zero", final=True))) == (
        [("alice", 1, "alice/b.csv"), ("bob", 2, "bob/x.csv"), (BASELINE, None, "base/b.csv")],
        {"alice": (10, 1, "alice/b.csv"), "bob": (8, 2, "bob/x.csv")},
    )
    # The same under ignore: C counts, the 2 best public are C and A, C's 7/10 shows and
    # gives 8 points (p = 2 x 0.5^3 = 0.25); bob's 8/10 ranks first.
    assert outcome(check(example_class("ignore", final=True))) == (
        [("bob", 1, "bob/x.csv"), ("alice", 2, "alice/c.csv"), (BASELINE, None, "base/b.csv")],
        {"alice": (8, 2, "alice/c.csv"), "bob": (8, 1, "bob/x.csv")},
    )
    # penalty:10%/day: the board is zero's; C (8 x 0.9 = 7.2) loses to B (10).
    assert outcome(check(example_class("penalty", final=True)))[1]["alice"] == (
        10,
        1,
        "alice/b.csv",
    )
    # penalty:50%/day with B gone: A's 6 against C's 8 x 0.5 = 4: A; with 10%/day, C's 7.2.
    no_b = (A, C, BOB)
    assert outcome(check(example_class("penalty", True, no_b, Fraction(50))))[1]["alice"] == (
        6,
        2,
        "alice/a.csv",
    )
    assert outcome(check(example_class("penalty", True, no_b)))[1]["alice"] == (
        Fraction(72, 10),
        2,
        "alice/c.csv",
    )


def test_a_late_file_never_tops_the_final_board():
    # Case 4: alice's late C (Private 9/10) would top bob's 8/10; under zero she ranks
    # second with B (7/10), and the gradebook says rank 2 (bob's row is rank 1).
    b = replace(B, right_private=right(7))
    c = replace(C, right_private=right(9))
    board, grades = outcome(check(example_class("zero", True, (A, b, c, BOB))))
    assert board[:2] == [("bob", 1, "bob/x.csv"), ("alice", 2, "alice/b.csv")]
    assert grades["alice"] == (8, 2, "alice/b.csv")


def test_a_file_of_unknown_time_is_judged_by_the_lms_mark_alone():
    # Case 3: a Canvas file carries the export's time (after the deadline) and no _LATE
    # mark: it is on time, whatever its time says. Marked late, it is late by one day.
    # With no mark at all (its collected.csv row is gone) it is on time.
    canvas = replace(C, time_known=False, lms_late=False)
    assert outcome(check(example_class("zero", True, (canvas, BOB))))[1]["alice"] == (
        8,
        2,
        "alice/c.csv",
    )
    marked = replace(canvas, lms_late=True)
    assert outcome(check(example_class("zero", True, (marked, BOB))))[1]["alice"] == (
        0,
        None,
        None,
    )
    assert ref.lateness(example_class("zero", True), marked) == (True, 1)
    unknown = replace(canvas, lms_late=None)
    assert outcome(check(example_class("zero", True, (unknown, BOB))))[1]["alice"] == (
        8,
        2,
        "alice/c.csv",
    )


# ----------------------------------------------------------------------------
# Generated classes
# ----------------------------------------------------------------------------

# Offsets from the deadline, in seconds: on both sides of it, at it, a second and a day
# past it (started days), and equal times (ties in the board's order).
OFFSETS = st.one_of(
    st.sampled_from([-86400 * 3, -3600, -1, 0, 1, 3600, 86400, 86401, 86400 * 2, 86400 * 5]),
    st.integers(-86400 * 4, 86400 * 6),
)
# Which rows a file gets right: nested sets (the first k rows, whose paired tests are
# one-sided) and fixed random ones (tests both ways), drawn from one pool so that a
# file's predictions and metrics are computed once.
_RNG = np.random.default_rng(24)
ROW_POOL = [tuple(i < k for i in range(N)) for k in range(N + 1)] + [
    tuple(bool(b) for b in _RNG.random(N) < _RNG.random()) for _ in range(30)
]
ROWS = st.sampled_from(ROW_POOL)
HOURS = st.sampled_from([0.0, 0.0, 0.0, 1.5, 6.0, 24.0, 48.0])


@st.composite
def files_of(draw, participant: str, count: int) -> list[ref.File]:
    files = []
    for i in range(count):
        known = draw(st.integers(0, 9)) > 0
        files.append(
            ref.File(
                participant,
                f"{participant}/f{i}.csv",
                DEADLINE + timedelta(seconds=draw(OFFSETS)),
                draw(ROWS),
                draw(ROWS),
                selected=draw(st.integers(0, 4)) == 0,
                time_known=known,
                lms_late=None if known else draw(st.sampled_from([True, False, None])),
            )
        )
    return files


@st.composite
def classes(draw) -> ref.Class:
    students = [f"s{i:02d}" for i in range(draw(st.integers(1, 30)))]
    files = [ref.File(BASELINE, "base/b.csv", DEADLINE - timedelta(days=9), draw(ROWS), draw(ROWS))]
    staff = {BASELINE}
    if draw(st.booleans()):  # a TA's file, maybe after the deadline: never left out
        staff.add("ta")
        files += draw(files_of("ta", 1))
    for s in students:
        files += draw(files_of(s, draw(st.integers(1, 6))))
    on_roster = [s for s in students if draw(st.integers(0, 6)) > 0]
    ghosts = [f"z{i}" for i in range(draw(st.integers(0, 2)))]  # on the roster, no file
    policy = draw(st.sampled_from(["ignore", "zero", "penalty"]))
    percent = draw(st.sampled_from([Fraction(5), Fraction(10), Fraction(25, 2), Fraction(50)]))
    return ref.Class(
        tuple(files),
        {s: draw(HOURS) for s in on_roster + ghosts},
        frozenset(staff),
        BASELINE,
        draw(st.sampled_from([DEADLINE, DEADLINE, DEADLINE, None])),
        policy,
        percent if policy == "penalty" else Fraction(0),
        draw(st.booleans()),
    )


@pytest.mark.slow  # 500 generated classes: ~14 s
@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(classes())
@example(example_class("zero", True))
@example(example_class("penalty", True))
@example(example_class("ignore", False))
def test_the_kit_follows_the_written_rule(c):
    check(c)


@pytest.mark.parametrize("policy", ["ignore", "zero", "penalty"])
def test_an_empty_class_but_the_baseline_is_graded_zero(policy):
    c = ref.Class((BASE,), {"alice": 0.0}, frozenset({BASELINE}), BASELINE, DEADLINE, policy,
                  Fraction(10), True)  # fmt: skip
    assert outcome(check(c))[1] == {"alice": (0, None, None)}
