"""Late rules: which files came after the deadline, and what the gradebook does about it.

A file is judged late in one of two ways:

* its time is known (a timestamp in its name, Blackboard's attempt time, a file
  placed by hand): late when it is after `--deadline` plus the student's
  `extension_hours` from the roster;
* its time is unknown (collected from Canvas, Moodle or GitHub Classroom, whose
  export names carry no time: grader collect marks it so in collected.csv): the
  LMS's own late mark decides (Canvas's `_LATE`). The mark was made against the
  LMS's due date, so for a student with an extension it is not applied: the file
  is flagged for the TA to decide. A file with neither a time nor a mark cannot
  be judged; the run says how many there are.

`--late-policy` says what a late file counts for (docs/grading-rules.md, sections
4 and 6):

* `ignore` (default): as any other file; late files are only flagged in flags.csv;
* `zero`: as if it had never been submitted: not on the final board
  (`never_submitted`), and the grade comes from the student's files that were on
  time (0 points when there is none);
* `penalty:P%/day`: not on the final board either, but in the gradebook its
  points lose P% per started day after the student's deadline (floored at 0); a
  file late by the LMS's mark alone counts as one day late (grader.grades.gradebook).

Undecided files (an LMS mark against an extension) count as on time. A student's
deadline that an extension would carry past the year 9999 makes no file late.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

# P: a decimal number (10, 2.5, .5, 5.); '%' and '/day' may be left out.
_PENALTY = re.compile(r"^penalty:(\d+\.?\d*|\.\d+)%?(?:/day)?$")


@dataclass(frozen=True)
class Policy:
    """A parsed --late-policy."""

    kind: str  # ignore | zero | penalty
    percent_per_day: float = 0.0

    def __str__(self) -> str:
        if self.kind == "penalty":
            return f"penalty:{self.percent_per_day:g}%/day"
        return self.kind


IGNORE = Policy("ignore")


def parse_policy(text: str) -> Policy:
    """`ignore`, `zero` or `penalty:P%/day` (P above 0, at most 100; case and spaces
    ignored, `%` and `/day` optional); ValueError says what is allowed."""
    value = text.strip().lower()
    if value in ("ignore", "zero"):
        return Policy(value)
    match = _PENALTY.match(value.replace(" ", ""))
    if match and 0 < float(match.group(1)) <= 100:
        return Policy("penalty", float(match.group(1)))
    raise ValueError(
        f"{text!r} is not a late policy: use ignore, zero or penalty:P%/day with P above 0 "
        "and at most 100, e.g. penalty:10%/day"
    )


@dataclass(frozen=True)
class Lateness:
    """What the rules say about one file."""

    late: bool | None  # None: undecided (an LMS mark against an extension)
    days: int  # started days late (penalty); 1 for a file late by the LMS's mark alone
    reason: str  # a sentence for flags.csv and the gradebook's note


def judge(
    entries,
    deadline: datetime | None,
    extensions: dict[str, float],
) -> tuple[dict[str, Lateness], int]:
    """Late and undecided files by file (the entry's `file`), and how many files could
    not be judged (no time, no LMS mark, though a deadline was given). `extensions`:
    hours per participant (roster students only)."""
    found: dict[str, Lateness] = {}
    unjudged = 0
    for e in entries:
        if not e.identified:
            continue
        hours = extensions.get(e.participant, 0.0)
        if e.time_known:
            own = student_deadline(deadline, hours)
            if own is not None and e.submitted_at > own:
                found[e.file] = Lateness(
                    True, _days(e.submitted_at - own), _time_reason(e, deadline, hours, own)
                )
        elif e.lms_late:
            found[e.file] = _marked(hours)
        elif e.lms_late is None and deadline is not None:
            unjudged += 1
    return found, unjudged


def student_deadline(deadline: datetime | None, hours: float) -> datetime | None:
    """`deadline` plus a student's extension; None (no deadline) when there is none, or
    when the extension carries it past the last time a datetime holds (year 9999)."""
    if deadline is None:
        return None
    try:
        return deadline + timedelta(hours=hours)
    except OverflowError:
        return None


def never_submitted(entries, late: dict[str, Lateness], policy: Policy, staff) -> frozenset[str]:
    """The files the final board treats as never submitted (docs/grading-rules.md 4.3):
    under `zero` and `penalty`, every late file of a participant who is not staff."""
    if policy.kind == "ignore":
        return frozenset()
    return frozenset(
        e.file
        for e in entries
        if e.identified and e.participant not in staff and _is_late(late.get(e.file))
    )


def _is_late(lateness: Lateness | None) -> bool:
    return lateness is not None and lateness.late is True


def _days(late_by: timedelta) -> int:
    """Started days: 1 second late is one day (the usual course rule)."""
    return max(1, math.ceil(late_by.total_seconds() / 86400))


def _time_reason(e, deadline: datetime, hours: float, own: datetime) -> str:
    text = (
        f"submitted {e.submitted_at.isoformat(timespec='seconds')}, after the deadline "
        f"{deadline.isoformat(timespec='seconds')}"
    )
    if hours:
        text += f" extended by {hours:g} h for this student ({own.isoformat(timespec='seconds')})"
    return text


def _marked(hours: float) -> Lateness:
    if hours:
        return Lateness(
            None,
            0,
            "marked late by the LMS (its time is unknown); the student's "
            f"{hours:g}-hour extension cannot be checked against that mark: decide by hand",
        )
    return Lateness(True, 1, "marked late by the LMS (its time is unknown)")


def factor(policy: Policy, lateness: Lateness | None) -> Fraction:
    """The share of a file's points it keeps under `policy` (1 when on time), exactly:
    the gradebook compares points x share, and 10 x 0.8 must tie with 8."""
    if lateness is None or not lateness.late or policy.kind == "ignore":
        return Fraction(1)
    if policy.kind == "zero":
        return Fraction(0)
    # repr gives back the decimal the TA typed (12.5, 0.1), which Fraction reads exactly.
    percent = Fraction(repr(policy.percent_per_day))
    return max(Fraction(0), 1 - percent / 100 * lateness.days)


def penalty_text(policy: Policy, lateness: Lateness) -> str:
    """What the policy did to a late file, for the gradebook's note."""
    if policy.kind == "ignore":
        return "not penalised (--late-policy ignore)"
    if policy.kind == "zero":
        return "it does not count (--late-policy zero)"
    days = lateness.days
    return (
        f"{days} started day{'s' * (days > 1)} x {policy.percent_per_day:g}% = "
        f"-{min(100.0, days * policy.percent_per_day):g}% (--late-policy {policy})"
    )
