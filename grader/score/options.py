"""What `grader score` was asked to do: one frozen dataclass whose fields are its flags.

Light on purpose (no NumPy): the command line reads its defaults from here, so a
default is written once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path

from grader.core.constants import (
    DEFAULT_ASSIGNMENT,
    DEFAULT_BOARD,
    DEFAULT_RANK_BY,
    DEFAULT_SOLUTION,
    HISTORY_NAME,
    PLAUSIBLE,
    REVIEW_NAME,
)


@dataclass(frozen=True)
class ScoreOptions:
    """What `grader score` was asked to do; the fields mirror its flags."""

    folder: Path  # the submissions folder
    solution: Path = Path(DEFAULT_SOLUTION)
    out: Path = Path(DEFAULT_BOARD)  # the board: may be shown to students
    review: Path | None = None  # default: review/ beside the solution
    final: bool = False  # rank by the Private split (Kaggle's final board)
    final_before_deadline: bool = False  # allow --final while a deadline is still ahead
    rank_by: str = DEFAULT_RANK_BY  # or the other of METRICS
    baseline: str | None = None  # participant every other is tested against
    roster: Path | None = None  # kaggle_name,student_id: writes review/gradebook.csv
    history: Path | None = None  # default: history.sqlite beside the solution
    plausible: float = PLAUSIBLE  # flag public accuracies at or above this
    deadline: datetime | None = None  # flag files submitted after this (timezone-aware)
    public_details: bool = False  # per-class Public tables in the board (a probing risk)
    staff: tuple[str, ...] = ()  # participants on the board without a rank (baseline, TA files)
    late_policy: str = "ignore"  # ignore | zero | penalty:P%/day: parsed once, by _policy
    kaggle_leaderboard: Path | None = None  # Kaggle's download: review/reconciliation.csv
    notebooks: Path | None = None  # grader notebooks pull's folder: review/provenance.csv
    gradebook_format: str = "plain"  # plain | canvas | moodle | blackboard (grader.grades.lms)
    assignment: str = DEFAULT_ASSIGNMENT  # the grade column's name in the LMS import file
    assignment_id: str | None = None  # the LMS's id of that column (Canvas, Blackboard)
    fresh_check: bool = True  # with private/fresh.csv: review/fresh.csv (grader.stats.fresh)

    def __post_init__(self) -> None:
        object.__setattr__(self, "staff", tuple(self.staff or ()))
        # "." and ".." name no folder beside which a lock or staging folder can live.
        for name in ("out", "review"):
            path = getattr(self, name)
            if path is not None and (path.name in ("", ".", "..") or ".." in path.parts):
                object.__setattr__(self, name, Path(os.path.abspath(path)))  # noqa: PTH100

    @property
    def review_dir(self) -> Path:
        return self.review if self.review is not None else self.solution.parent / REVIEW_NAME

    @property
    def history_file(self) -> Path:
        return self.history if self.history is not None else self.solution.parent / HISTORY_NAME


def default(name: str):
    """The default of one of ScoreOptions' fields (what the CLI shows in --help)."""
    return next(f.default for f in fields(ScoreOptions) if f.name == name)
