"""`grader score` as one function: discover, validate, score, rank, review, write.

The command line, the demo, the benchmark and the tests all call
`score_submissions`, which returns one `ScoringRun` holding everything the run
computed and wrote. Its guarantees:

* **Two audiences, two places.** `options.out` (the board) holds only what may
  be published: without `final`, every byte of it is a function of the
  submissions and the Public labels. TA-only material (integrity flags,
  per-class reports on every split, the gradebook) goes to the review folder
  (grader.board.review), mode 0700.
* **Nothing the kit did not create is deleted.** The board and the review
  folder may not be, contain or lie inside the submissions folder; may not
  be or contain the solution's folder, the roster or the history file; the
  board may not lie inside the solution's folder either (the review folder
  does by default: it is the kit's own). The review folder and the history
  may not lie inside the bundle's public folder (the Kaggle upload). Links
  are resolved first. An existing folder is replaced only if the kit wrote
  it and it holds nothing else (fileio.replace_problem).
* **Refused before anything is touched.** Every flag and path is checked
  (the history file included) before the first file is written; a
  UsageError after that point names what was already written.
* **One run at a time per folder.** A lock file beside each folder; a second
  run stops at once, naming the first one's pid.
* **All or nothing per output.** Each folder is built privately and renamed
  into place; the history is one transaction. `written` tells, at any
  moment (a Ctrl-C included), which of them are done.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader.board.public import BOARD_FILES, REPORT_START, write_board
from grader.board.review import FOLDER_MODE, REVIEW_FILES, write_review
from grader.bundle.answers import AnswerKey, load_solution
from grader.bundle.files import CLASSES_TXT
from grader.bundle.submission import SubmissionChecker
from grader.core import names
from grader.core.constants import (
    BOARD_MARKER,
    DEFAULT_SOLUTION,
    HISTORY_NAME,
    REVIEW_MARKER,
    REVIEW_NAME,
)
from grader.core.errors import BundleError, UsageError
from grader.core.fileio import (
    build_folder_atomically,
    exclusive_lock,
    file_digest,
    is_internal_name,
    leftovers,
    relation,
    replace_problem,
)
from grader.folder.roster import Roster, match_participants, read_roster
from grader.grades.gradebook import Gradebook, Grading, gradebook
from grader.grades.history import history_problem, record
from grader.grades.late import IGNORE, Policy, judge, parse_policy
from grader.grades.reconcile import KaggleBoard, Reconciliation, read_kaggle_board, reconcile
from grader.score.scoring import (
    BoardRow,
    Entry,
    apply_manifest,
    board_split,
    check_entry,
    discover,
    leaderboard,
    score_entry,
)
from grader.stats.integrity import PLAUSIBLE, Flag, integrity_flags
from grader.stats.lookup import LookupRow, lookup_flags, lookup_rows
from grader.stats.uncertainty import (
    Interval,
    RowUncertainty,
    Shakeup,
    board_uncertainty,
    file_intervals,
    shakeup,
)


@dataclass(frozen=True)
class ScoreOptions:
    """What `grader score` was asked to do; the fields mirror its flags."""

    folder: Path  # the submissions folder
    solution: Path = Path(DEFAULT_SOLUTION)
    out: Path = Path("leaderboard")  # the board: may be shown to students
    review: Path | None = None  # default: review/ beside the solution
    final: bool = False  # rank by the Private split (Kaggle's final board)
    rank_by: str = "accuracy"  # or macro_f1
    baseline: str | None = None  # participant every other is tested against
    roster: Path | None = None  # kaggle_name,student_id: writes review/gradebook.csv
    history: Path | None = None  # default: history.sqlite beside the solution
    plausible: float = PLAUSIBLE  # flag public accuracies at or above this
    deadline: datetime | None = None  # flag files submitted after this (timezone-aware)
    public_details: bool = False  # per-class Public tables in the board (a probing risk)
    staff: tuple[str, ...] = ()  # participants on the board without a rank (baseline, TA files)
    late_policy: str = "ignore"  # ignore | zero | penalty:P%/day: parsed once, by _policy
    kaggle_leaderboard: Path | None = None  # Kaggle's download: review/reconciliation.csv

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
    unjudged: int = 0  # files a deadline could not be applied to (no time, no LMS mark)

    @property
    def exit_code(self) -> int:
        """0 when every file was scored, 1 when some file was invalid or unusable."""
        return 0 if all(e.status == "scored" for e in self.entries) else 1


LONG_RUN = 1000  # files: from here on, each stage says when it ends (`say`)


def score_submissions(
    options: ScoreOptions,
    written: list[Path] | None = None,
    warn: Callable[[str], None] = lambda message: None,
    say: Callable[[str], None] = lambda line: None,
) -> ScoringRun:
    """Run `grader score`; `written` (if given) grows as each output is complete. With
    LONG_RUN files or more, `say` gets one line as each stage ends.

    Raises UsageError for a bad flag or path before any output is written: --staff
    and --baseline once the folder is listed, before any file is read (a baseline
    whose files are all invalid is found after scoring, and leaves nothing behind
    either).
    """
    written = [] if written is None else written
    stages = Stages()
    with stages("check flags and paths"):
        key = _load_key(options.solution)
        roster_warnings: list[str] = []
        students = _roster(options, roster_warnings.append)
        _refuse_students_as_staff(options, students)
        policy = _policy(options, students)
        kaggle = (
            read_kaggle_board(options.kaggle_leaderboard) if options.kaggle_leaderboard else None
        )
        check_paths(options)
    with contextlib.ExitStack() as locks:
        for flag, folder in (("--out", options.out), ("--review", options.review_dir)):
            locks.enter_context(exclusive_lock(folder, flag))
        for message in [*roster_warnings, *_warnings(options)]:
            warn(message)
        run = _compute(options, key, Inputs(students, policy, kaggle, warn), stages, say)
        for flag, folder, write, mode in (
            ("--out", options.out, write_board, None),
            ("--review", options.review_dir, write_review, FOLDER_MODE),
        ):
            with stages(f"write {'board' if flag == '--out' else 'review'}"):
                build_folder_atomically(
                    folder,
                    lambda f, write=write: write(f, run),
                    lambda flag=flag, folder=folder: _check_replaceable(flag, folder),
                    mode=mode,
                    on_done=lambda folder=folder: written.append(folder),
                )
        with stages("history"):
            solution_sha256 = file_digest(options.solution)
            run.history_added = record(options.history_file, run.entries, solution_sha256)
        written.append(options.history_file)
    return run


@dataclass(frozen=True)
class Inputs:
    """What the flags gave besides the files: read and checked before anything is written."""

    roster: Roster | None
    policy: Policy
    kaggle: KaggleBoard | None
    warn: Callable[[str], None]


def _compute(
    options: ScoreOptions, key: AnswerKey, given: Inputs, stages: Stages, say=None
) -> ScoringRun:
    """Score, rank and review: everything but writing."""
    with stages("read and validate"):
        found = discover(options.folder)
        # --staff and --baseline name participants: checked before any file is read.
        staff = _staff(options, [entry for entry, _ in found])
        _baseline_present(options, [entry for entry, _ in found])
        checker = SubmissionChecker(key)
        entries = [check_entry(entry, path, checker) for entry, path in found]
        if problem := apply_manifest(entries, options.folder):
            given.warn(problem)
    if say is not None and len(entries) >= LONG_RUN:
        say(
            f"read and validate {len(entries):,} files: {stages.seconds['read and validate']:.1f} s"
        )
        stages.say = say
    with stages("score"):
        for entry in entries:
            score_entry(entry, key)
    with stages("rank"):
        board = leaderboard(entries, options.rank_by, options.final, staff)
        baseline = _baseline(options, board)
    split = board_split(options.final)
    with stages("intervals and tests"):
        intervals = file_intervals(entries, key, split)
        stats = board_uncertainty(
            board, key, split, baseline, intervals=intervals, rank_by=options.rank_by
        )
    with stages("flags"):
        students = given.roster.students if given.roster else []
        matched, _ = match_participants(students, {e.participant for e in entries if e.identified})
        extensions = {p: s.extension_hours for p, s in matched.items()}
        late, unjudged = judge(entries, options.deadline, extensions)
        marked = any(e.lms_late is not None for e in entries if e.identified)
        if given.policy != IGNORE and options.deadline is None and not marked:
            given.warn(
                f"--late-policy {given.policy}: no --deadline, and no file has an LMS late "
                "mark (collected.csv), so no file can be late and the policy changes no "
                "grade. Add --deadline TIME."
            )
        flags = integrity_flags(entries, board, key, options.plausible, late)
    with stages("lookup check"):
        lookup = lookup_rows(board, key.labels)
        flags += lookup_flags(lookup or [])
    run = ScoringRun(
        options, key, entries, board, intervals, stats, flags, stages=stages, lookup=lookup
    )
    run.unjudged = unjudged
    ranked = [row for row in board if not row.staff]
    if options.final and len(ranked) >= 2:
        with stages("shake-up"):
            public = leaderboard(entries, options.rank_by, final=False, staff=staff)
            run.shakeup = shakeup(
                ranked, key, options.rank_by, public_board=[r for r in public if not r.staff]
            )
    if given.roster is not None:
        with stages("gradebook"):
            grading = Grading(
                board=board,
                stats=stats,
                split=split,
                baseline=baseline,
                entries=entries,
                rank_by=options.rank_by,
                key=key,
                late=late,
                policy=given.policy,
                staff=staff,
            )
            run.gradebook = gradebook(students, grading)
    if given.kaggle is not None:
        with stages("reconciliation"):
            run.reconciliation = reconcile(
                given.kaggle, entries, split, options.rank_by, students, staff
            )
    return run


def _load_key(solution: Path) -> AnswerKey:
    try:
        return load_solution(solution)
    except BundleError as exc:
        raise UsageError(f"--solution: {exc}") from None


def _roster(options: ScoreOptions, warn: Callable[[str], None]) -> Roster | None:
    if options.roster is None:
        return None
    if options.baseline is None:
        raise UsageError("--roster needs --baseline NAME: points depend on beating the baseline.")
    return read_roster(options.roster, warn)


def _refuse_students_as_staff(options: ScoreOptions, roster: Roster | None) -> None:
    """A staff row is neither graded nor a lookup suspect: it may not be a student's."""
    if roster is None:
        return
    keys = {names.clash_key(s.participant): s for s in roster.students}
    for raw in options.staff:
        student = keys.get(names.clash_key(raw))
        if student is not None:
            raise UsageError(
                f"--staff {raw}: that is roster student {student.student_id} "
                f"({student.participant}, {roster.path} line {student.line}), who is graded; "
                "staff rows are not. Name only the baseline and the TA's own files in --staff."
            )


def _policy(options: ScoreOptions, roster: Roster | None) -> Policy:
    try:
        policy = parse_policy(options.late_policy)
    except ValueError as exc:
        raise UsageError(f"--late-policy: {exc}.") from None
    if policy != IGNORE and roster is None:
        raise UsageError(
            f"--late-policy {policy} acts in the gradebook: add --roster CSV and --baseline NAME."
        )
    return policy


def _staff(options: ScoreOptions, entries: list[Entry]) -> frozenset[str]:
    """The --staff participants (identity rule), each of whom must have a file."""
    present = {e.participant for e in entries if e.identified}
    staff = set()
    for raw in options.staff:
        name = names.identity(raw)
        if name not in present:
            raise UsageError(
                f"--staff {raw}: no submission of that participant in {options.folder}. Give "
                "the name of a file (<name>.csv) or folder there."
            )
        staff.add(name)
    return frozenset(staff)


def _baseline_present(options: ScoreOptions, entries: list[Entry]) -> None:
    """--baseline must name a participant with a file (whether it scores is known later)."""
    if options.baseline is not None and names.identity(options.baseline) not in {
        e.participant for e in entries if e.identified
    }:
        raise UsageError(
            f"--baseline {options.baseline}: no scored submission of that participant in "
            f"{options.folder}."
        )


def _baseline(options: ScoreOptions, board: list[BoardRow]) -> str | None:
    if options.baseline is None:
        return None
    name = names.identity(options.baseline)  # the identity rule of every participant
    if name not in {row.participant for row in board}:
        raise UsageError(
            f"--baseline {options.baseline}: no scored submission of that participant in "
            f"{options.folder}."
        )
    return name


# ----------------------------------------------------------------------------
# Paths that cannot destroy
# ----------------------------------------------------------------------------


def _resolved(path: Path) -> Path:
    return path.absolute().resolve()


def check_paths(options: ScoreOptions) -> None:
    """Refuse (UsageError, nothing touched) a board or review folder that could destroy
    or publish what the kit did not create, or a history file that cannot be used; see
    the module docstring."""
    folder = _resolved(options.folder)
    solution_dir = _resolved(options.solution.parent)
    files = [("the roster", options.roster), ("the history file", options.history_file)]
    public = solution_dir.parent / "public"
    if (public / CLASSES_TXT).is_file():  # the bundle's Kaggle upload: nothing private in it
        for flag, target in (("--review", options.review_dir), ("--history", options.history_file)):
            if relation(_resolved(target), public) in ("is", "inside"):
                raise UsageError(
                    f"{flag} {target}: lies inside the competition's public folder {public}, "
                    "which is uploaded to Kaggle; keep TA-only files out of it."
                )
    check_history(options.history_file)
    if relation(_resolved(options.history_file), folder) == "inside":
        raise UsageError(
            f"--history {options.history_file}: lies inside the submissions folder {folder}, "
            "where the next run would take it for a submission. Choose a path outside it."
        )
    here = Path.cwd().resolve()
    for flag, target in (("--out", options.out), ("--review", options.review_dir)):
        _existing_parent(flag, target)
        place = _resolved(target)
        if is_internal_name(target.name):
            raise UsageError(
                f"{flag} {target}: a name of the kit's own lock and staging files; choose "
                "another name."
            )
        if relation(place, here) in ("is", "contains"):
            raise UsageError(
                f"{flag} {target}: is or contains the folder you are in, which replacing "
                f"{flag} would remove; run grader score from another folder."
            )
        if target.is_symlink():
            raise UsageError(
                f"{flag} {target}: a symbolic link; pass the folder it points to ({place}) instead."
            )
        _refuse_overlap(flag, target, place, "the submissions folder", folder, inside=True)
        _refuse_overlap(
            flag, target, place, "the solution's folder", solution_dir, inside=flag == "--out"
        )
        for what, path in files:
            if path is not None:
                _refuse_overlap(flag, target, place, what, _resolved(path), inside=False)
    out, review = _resolved(options.out), _resolved(options.review_dir)
    _refuse_overlap("--out", options.out, out, "the review folder", review, inside=True)
    _check_replaceable("--out", options.out)
    _check_replaceable("--review", options.review_dir)


def _existing_parent(flag: str, path: Path) -> Path:
    """The nearest existing folder above `path`; a file there is a UsageError."""
    parent = _resolved(path).parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: {parent} is a file, not a folder. Choose another path.")
    return parent


def check_history(path: Path) -> None:
    """The history file must be an SQLite file grader score can write, or not exist yet."""
    where = f"--history {path}"
    parent = _existing_parent("--history", path)
    if path.is_dir():
        raise UsageError(f"{where}: a folder, not a file. Pass the path of an SQLite file.")
    if path.exists():
        problem = history_problem(path)
        if problem:
            raise UsageError(f"{where}: {problem}")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise UsageError(f"{where}: not writable. Choose a file you can write to.")


def _refuse_overlap(
    flag: str, target: Path, place: Path, what: str, other: Path, inside: bool
) -> None:
    """`target` (resolved: `place`) may not be `other` or contain it, nor (with
    `inside`) lie inside it."""
    how = relation(place, other)
    if how == "is":
        problem = f"is {what} ({other})"
    elif how == "contains":
        problem = f"contains {what} {other}, which replacing {flag} would delete"
    elif inside and how == "inside":
        problem = f"lies inside {what} {other}"
    else:
        return
    raise UsageError(
        f"{flag} {target}: {problem}. {flag} is replaced as a whole on every run; "
        "choose a folder apart from it."
    )


def _check_replaceable(flag: str, folder: Path) -> None:
    """An existing board or review folder is replaced only if it holds only what the kit
    wrote there."""
    marker, known = (
        (BOARD_MARKER, BOARD_FILES) if flag == "--out" else (REVIEW_MARKER, REVIEW_FILES)
    )
    problem = replace_problem(folder, marker, known, REPORT_START)
    if problem:
        raise UsageError(
            f"{flag} {folder}: {problem}; refusing to replace it. Choose another folder."
        )


def _warnings(options: ScoreOptions) -> list[str]:
    """Leftovers of killed runs, and hidden labels that other users can read."""
    messages = [
        f"{path}: left by a grader score run that was killed; it may hold scores. "
        f"Remove it: rm -r {shlex.quote(str(path))}"
        for folder in (options.out, options.review_dir)
        for path in leftovers(folder)
    ]
    private = options.solution.parent
    mode = stat.S_IMODE(private.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        messages.append(
            f"{private}: other users of this machine can read it (mode {mode:o}), and it "
            f"holds the hidden labels. Make it private: chmod -R go-rwx "
            f"{shlex.quote(str(private))}"
        )
    return messages
