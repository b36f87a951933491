"""Everything one `grader score` run computed: the type the pipeline fills and the
writers (grader.board) read. It sits below both, so no writer imports the pipeline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from grader.bundle.answers import AnswerKey
from grader.grades.gradebook import Gradebook
from grader.grades.lms import LmsGradebook
from grader.grades.reconcile import Reconciliation
from grader.provenance.check import Provenance
from grader.score.entry import BoardRow, Entry
from grader.score.options import ScoreOptions
from grader.stats.fresh import FreshCheck
from grader.stats.integrity import Flag
from grader.stats.lookup import LookupRow
from grader.stats.uncertainty import Interval, RowUncertainty, Shakeup


class Stages:
    """Seconds spent in each stage of a run, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.say: Callable[[str], None] | None = None  # set: one line as each stage ends

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + took
            if self.say is not None:
                self.say(f"{name}: {took:.1f} s")

    def summary(self) -> str:
        """One line: each stage and its time."""
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())


@dataclass
class ScoringRun:
    """Everything one run computed and wrote."""

    options: ScoreOptions
    key: AnswerKey
    entries: list[Entry]
    board: list[BoardRow]
    intervals: dict[str, dict[str, Interval]]  # per scored file, on the ranking split
    stats: list[RowUncertainty]
    flags: list[Flag]
    shakeup: Shakeup | None = None
    gradebook: Gradebook | None = None
    history_added: int = 0
    lookup: list[LookupRow] | None = None  # None: too few ranked files for the check
    stages: Stages = field(default_factory=lambda: Stages())
    reconciliation: Reconciliation | None = None  # with --kaggle-leaderboard
    provenance: list[Provenance] | None = None  # with --notebooks
    unjudged: int = 0  # files a deadline could not be applied to (no time, no LMS mark)
    lms_gradebook: LmsGradebook | None = None  # with --gradebook-format other than plain
    roster_summary: str = ""  # a roster read from an LMS export: which, in one line
    fresh: FreshCheck | None = None  # None: no fresh images, or --no-fresh-check
    rowless: int = 0  # of those, collect's copies whose collected.csv row is gone

    @property
    def exit_code(self) -> int:
        """0 when every file was scored, 1 when some file was invalid or unusable."""
        return 0 if all(e.status == "scored" for e in self.entries) else 1
