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
import json
import os
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grader.board.public import write_board
from grader.board.review import FOLDER_MODE, write_review
from grader.bundle.answers import AnswerKey, load_solution
from grader.bundle.submission import SubmissionChecker
from grader.core import names
from grader.core.constants import DEFAULT_ASSIGNMENT, GRADEBOOK_FORMATS
from grader.core.errors import BundleError, UsageError
from grader.core.fileio import (
    build_folder_atomically,
    exclusive_lock,
    file_digest,
    leftovers,
)
from grader.folder.roster import Roster, match_participants, read_roster
from grader.grades.gradebook import Grading, gradebook
from grader.grades.history import record
from grader.grades.late import (
    IGNORE,
    Policy,
    judge,
    never_submitted,
    parse_policy,
    student_deadline,
)
from grader.grades.lms import LABEL as LMS_LABEL
from grader.grades.lms import assignment_problem, lms_gradebook
from grader.grades.reconcile import KaggleBoard, read_kaggle_board, reconcile
from grader.provenance.check import TEST_IMAGES, provenance_flags, provenance_rows
from grader.score.discover import apply_manifest, discover
from grader.score.entry import BoardRow, Entry, board_split
from grader.score.options import ScoreOptions
from grader.score.paths import check_paths, check_replaceable
from grader.score.ranking import leaderboard
from grader.score.run import ScoringRun, Stages
from grader.score.scoring import check_entry, score_entry
from grader.stats.fresh import fresh_check, fresh_flags
from grader.stats.integrity import integrity_flags
from grader.stats.lookup import lookup_flags, lookup_rows
from grader.stats.uncertainty import (
    board_uncertainty,
    file_intervals,
    shakeup,
)

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
        _check_gradebook_format(options, students, roster_warnings.append)
        _final_after_deadline(options, students, roster_warnings.append)
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
                    lambda flag=flag, folder=folder: check_replaceable(flag, folder),
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
        for problem in apply_manifest(entries, options.folder):
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
        # Lateness first: under a late policy the final board leaves late files out.
        students = given.roster.students if given.roster else []
        matched, _ = match_participants(students, {e.participant for e in entries if e.identified})
        extensions = {p: s.extension_hours for p, s in matched.items()}
        late, unjudged = judge(entries, options.deadline, extensions)
        dropped = never_submitted(entries, late, given.policy, staff) if options.final else None
        board = leaderboard(entries, options.rank_by, options.final, staff, dropped or frozenset())
        baseline = _baseline(options, board)
    split = board_split(options.final)
    with stages("intervals and tests"):
        intervals = file_intervals(entries, key, split)
        stats = board_uncertainty(
            board, key, split, baseline, intervals=intervals, rank_by=options.rank_by
        )
    with stages("flags"):
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
    fresh = None
    if options.fresh_check and key.fresh is not None:
        with stages("fresh-image check"):
            fresh = fresh_check(board, key)
            flags += fresh_flags(fresh)
    run = ScoringRun(
        options=options,
        key=key,
        entries=entries,
        board=board,
        intervals=intervals,
        stats=stats,
        flags=flags,
        stages=stages,
        lookup=lookup,
    )
    if options.deadline is not None:
        run.rowless = sum(1 for e in entries if e.identified and e.row_lost)
    run.unjudged = unjudged - run.rowless
    run.fresh = fresh
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
            run.roster_summary = given.roster.summary
            if options.gradebook_format != "plain":
                run.lms_gradebook = lms_gradebook(
                    students,
                    run.gradebook.rows,
                    options.gradebook_format,
                    options.assignment,
                    options.assignment_id,
                )
    if given.kaggle is not None:
        with stages("reconciliation"):
            run.reconciliation = reconcile(
                given.kaggle, entries, split, options.rank_by, students, staff
            )
    if options.notebooks is not None:
        with stages("provenance"):
            run.provenance = provenance_rows(
                options.notebooks,
                board,
                checker,
                _named_notebooks(students, {e.participant for e in entries if e.identified}),
                _test_images_sha256(options.solution),
            )
            run.flags += provenance_flags(run.provenance)
    return run


def _named_notebooks(students: list, present: set[str]) -> dict[str, str]:
    """participant -> the roster's kaggle_notebook (matched as the gradebook matches)."""
    matched, _ = match_participants(students, present)
    participant_of = {id(s): p for p, s in matched.items()}
    return {
        participant_of.get(id(s), s.participant): s.kaggle_notebook
        for s in students
        if s.kaggle_notebook
    }


def _test_images_sha256(solution: Path) -> str | None:
    """The sha256 of the bundle's public test images, from private/manifest.json."""
    try:
        manifest = json.loads((solution.parent / "manifest.json").read_text("utf-8"))
        return str(manifest["files"][TEST_IMAGES])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


def _check_gradebook_format(
    options: ScoreOptions, roster: Roster | None, warn: Callable[[str], None]
) -> None:
    """--gradebook-format needs the roster; --assignment(-id) must fit the LMS's column."""
    fmt = options.gradebook_format
    if fmt not in GRADEBOOK_FORMATS:
        raise UsageError(
            f"--gradebook-format {fmt}: not a format; use one of {', '.join(GRADEBOOK_FORMATS)}."
        )
    if fmt == "plain":
        if options.assignment_id is not None or options.assignment != DEFAULT_ASSIGNMENT:
            warn(
                "--assignment and --assignment-id name the grade column of an LMS import "
                "file; without --gradebook-format canvas, moodle or blackboard none is written."
            )
        return
    if roster is None:
        raise UsageError(
            f"--gradebook-format {fmt} writes the roster's grades for {LMS_LABEL[fmt]}'s "
            "import: add --roster CSV and --baseline NAME."
        )
    if problem := assignment_problem(fmt, options.assignment, options.assignment_id):
        raise UsageError(problem)
    if fmt == "moodle" and options.assignment_id is not None:
        warn(
            f"--assignment-id {options.assignment_id}: Moodle's import file has no column id "
            "(the grade column is mapped to a grade item when importing), so it is not used."
        )


def _final_after_deadline(
    options: ScoreOptions, roster: Roster | None, warn: Callable[[str], None]
) -> None:
    """--final publishes Private scores: refused while the deadline, or a roster student's
    extended one, is still ahead, unless --final-before-deadline (docs/grading-rules.md 7)."""
    if not options.final or options.deadline is None:
        return
    now = datetime.now(timezone.utc)
    latest, what = options.deadline, f"the deadline {options.deadline.isoformat()} (--deadline)"
    for student in roster.students if roster else []:
        own = student_deadline(options.deadline, student.extension_hours)
        if own is not None and own > max(latest, now):
            latest = own
            what = (
                f"student {student.student_id}'s deadline, extended by "
                f"{student.extension_hours:g} h to {own.isoformat()},"
            )
    if latest <= now:
        return
    if not options.final_before_deadline:
        raise UsageError(
            f"--final: {what} is still ahead, and the final board shows Private scores while "
            "students can still submit. Score without --final until then, or add "
            "--final-before-deadline."
        )
    warn(
        f"--final-before-deadline: the deadline {latest.isoformat()} is still ahead; this "
        "final board shows Private scores before it."
    )


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
# Warnings
# ----------------------------------------------------------------------------


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
