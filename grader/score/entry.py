"""What grader score knows of one submission file (Entry) and of one board line (BoardRow).

These types sit below everything that fills them (discover, scoring, ranking) and
everything that writes them (grader.board), so no writer imports the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Literal, overload

import numpy as np

from grader.stats.metrics import Metrics

# What became of a file: scored; invalid (the validator's problems are the error); error
# (unreadable, or a name that breaks the identity rule). "valid" between checking and
# scoring, "" before it is judged.
EntryStatus = Literal["", "valid", "scored", "invalid", "error"]


@dataclass
class Entry:
    """One submission file and what became of it.

    `participant` is the identity of grader.core.names (the NFC name) when
    `identified`; a file whose name breaks the identity rule is not
    identified, shows its name escaped, and never reaches the board, a
    report, the history or the gradebook.
    """

    participant: str
    file: str  # path relative to the submissions folder, with /, printable
    submitted_at: datetime
    selected: bool = False
    status: EntryStatus = ""
    error: str = ""
    note: str = ""  # about a scored file (the sample submission, a .csv.txt name)
    sha256: str = ""
    metrics: dict[str, Metrics] = field(default_factory=dict)
    predicted: np.ndarray | None = None  # class index per test row (scored files only)
    identified: bool = True
    name: str = field(default="", repr=False)  # the raw name that names the participant
    time_known: bool = True  # False: grader collect gave it the export's time (collected.csv)
    lms_late: bool | None = None  # the LMS's late mark (collected.csv; None: no mark)
    row_lost: bool = False  # time unknown: collect's copy of an export, no collected.csv row
    sample: bool = False  # its predictions are the bundle's sample submission's


@dataclass(frozen=True)
class BoardRow:
    """A participant's line on the leaderboard. Staff rows (the baseline, the TA's test
    files: --staff) are shown in score order but hold no rank."""

    rank: int | None
    participant: str
    entry: Entry
    scored_files: int
    staff: bool = False


@overload
def entry_value(entry: Entry, split: str, metric: str, exact: Literal[False] = False) -> float: ...
@overload
def entry_value(entry: Entry, split: str, metric: str, exact: Literal[True]) -> Fraction: ...
def entry_value(entry: Entry, split: str, metric: str, exact: bool = False) -> float | Fraction:
    """A scored file's `metric` (accuracy or macro_f1) on `split` (public, private or all):
    the float every output shows, or with `exact` the fraction of confusion counts that
    every comparison of scores uses (so equal scores tie whatever the float rounding)."""
    scores = entry.metrics[split]
    return scores.exact(metric) if exact else getattr(scores, metric)


def board_split(final: bool) -> str:
    """The split a board ranks by: Private for the final board, else Public."""
    return "private" if final else "public"
