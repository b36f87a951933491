"""What grader score prints: the board and the unscored files, the flags, the lookup and
shake-up lines, the gradebook's news and what was written where.

Names are untrusted: control characters never reach the terminal (grader.core.text).
"""

from __future__ import annotations

from pathlib import Path

from grader.board.public import splits_shown
from grader.core.constants import METRICS
from grader.core.text import (
    LABEL,
    SHORT,
    group_letters,
    percent,
    rank_text,
    span_text,
    table,
    terminal_text,
    time_text,
)
from grader.grades.lms import LABEL as LMS_LABEL
from grader.grades.lms import LmsGradebook
from grader.grades.reconcile import reconciliation_text
from grader.provenance.check import provenance_text
from grader.score.entry import BoardRow, Entry, board_split, entry_value
from grader.score.run import ScoringRun


def terminal_table(
    board: list[BoardRow], entries: list[Entry], final: bool, rank_by: str, stats=None
) -> str:
    """The board and the unscored files, for the TA's terminal."""
    shown = [s for s in splits_shown(final) if s != "all"]
    heads = ["rank", "participant"] + [f"{s} {SHORT[m]}" for s in shown for m in METRICS]
    extra = [f"95% CI {SHORT[rank_by]}", "group"] if stats is not None else []
    heads += [*extra, "file", "submitted (UTC)"]
    rows = [
        [rank_text(row.rank), terminal_text(row.participant, 24)]
        + [percent(entry_value(row.entry, s, m)) for s in shown for m in METRICS]
        + ([span_text(getattr(stats[i], rank_by)), group_letters(stats[i].group)] if extra else [])
        + [
            terminal_text(row.entry.file, 40),
            time_text(row.entry.submitted_at).replace("T", " ")[:16],
        ]
        for i, row in enumerate(board)
    ]
    numeric = {0} | set(range(2, 2 + len(shown) * len(METRICS) + len(extra)))
    title = "Final" if final else "Public"
    # Files under a refused name count once per name: they belong to no participant.
    participants = len({(e.identified, e.participant if e.identified else e.name) for e in entries})
    staff = sum(1 for row in board if row.staff)
    out = [
        f"{title} leaderboard, ranked by {board_split(final)} {LABEL[rank_by].lower()}: "
        f"{len(board) - staff} of {participants - staff} participants ranked"
        + (f"; {staff} staff row(s) shown without a rank." if staff else "."),
        table(heads, rows, numeric),
    ]
    unscored = [e for e in entries if e.status != "scored"]
    if unscored:
        out += ["", f"Not scored ({len(unscored)} file(s); reasons in scores.csv):"]
        out += [
            f"  {terminal_text(e.file, 50)}: {e.status}: {terminal_text(e.error, 160)}"
            for e in unscored
        ]
    return "\n".join(out)


def flags_text(flags) -> str:
    """The integrity flags for the terminal ('' when there are none)."""
    if not flags:
        return ""
    lines = [f"Flags for review ({len(flags)}; in the review folder's flags.csv):"]
    lines += [f"  {f.kind}: {terminal_text(', '.join(f.files), 90)}: {f.reason}" for f in flags]
    return "\n".join(lines)


SHAKEUP_ALPHA = 0.05


def lookup_text(run: ScoringRun) -> str:
    """One line: what the lookup detector found, or why it did not run."""
    from grader.stats.lookup import MIN_FILES

    if run.lookup is None:
        ranked = sum(1 for row in run.board if row.entry.predicted is not None)
        return (
            f"Lookup check: skipped, {ranked} ranked file(s); it needs at least {MIN_FILES} "
            "to tell which test images are hard."
        )
    flagged = sum(r.flagged for r in run.lookup)
    return (
        f"Lookup check: {flagged} of {len(run.lookup)} ranked files flagged as consistent "
        "with a lookup of the public CIFAR-10 labels (advice only: ranks and grades are "
        "unchanged; lookup.csv in the review folder)."
    )


def fresh_text(run: ScoringRun) -> str:
    """One line: what the fresh-image check found, why it did not run, or '' when the
    bundle has no fresh images."""
    check = run.fresh
    if check is None:
        has_fresh = run.key.fresh is not None and bool(run.key.fresh.any())
        off = has_fresh and not run.options.fresh_check
        return "Fresh-image check: off (--no-fresh-check)." if off else ""
    if check.rows is None:
        from grader.stats.fresh import MIN_FILES

        return (
            f"Fresh-image check: skipped, {check.ranked} ranked file(s); it needs at least "
            f"{MIN_FILES} to fit the line of fresh-image against original accuracy."
        )
    flagged = sum(r.flagged for r in check.rows)
    return (
        f"Fresh-image check: {flagged} of {len(check.rows)} ranked files flagged as far below "
        f"the class's line on the {check.images:,} fresh images (z >= {check.threshold:.2f}; "
        "advice only: ranks and grades are unchanged; fresh.csv in the review folder)."
    )


def shakeup_text(moved) -> str:
    """One paragraph: how much the board shook, and how much chance alone shakes it."""
    changes = [abs(a - b) for a, b in zip(moved.public_rank, moved.private_rank, strict=True)]
    verdict = (
        "more than chance alone produces: look at who moved"
        if moved.p_value < SHAKEUP_ALPHA
        else "within what chance alone produces"
    )
    return (
        f"Shake-up: Kendall tau between public and private scores {moved.tau:.3f} "
        f"(mean change from the public-board rank {sum(changes) / len(changes):.2f}); of "
        f"{moved.resplits} random re-splits of the test set (tau {moved.resplit_tau_mean:.3f} "
        f"+- {moved.resplit_tau_sd:.3f}), {moved.at_or_below} give a tau this low or lower "
        f"(p = {moved.p_value:.3f}): {verdict}. Ranks in shakeup.csv."
    )


def score_summary(run: ScoringRun) -> str:
    """What `grader score` prints: the board, the flags, and exactly what was written."""
    options = run.options
    parts = [terminal_table(run.board, run.entries, options.final, options.rank_by, run.stats)]
    if run.flags:
        parts.append(flags_text(run.flags))
    parts.append(lookup_text(run))
    if fresh := fresh_text(run):
        parts.append(fresh)
    if run.shakeup is not None:
        parts.append(shakeup_text(run.shakeup))
    book = run.gradebook
    if book is not None:
        lines = [
            f"Gradebook: {options.review_dir / 'gradebook.csv'} ({len(book.rows)} students, "
            f"{book.without_submission} without a valid submission)."
        ]
        lines += [
            f"Matched by letter case only: roster {terminal_text(r)!r} is participant "
            f"{terminal_text(p)!r}."
            for r, p in book.case_matches
        ]
        if book.strangers:
            lines.append(
                f"Not on the roster: {', '.join(terminal_text(n) for n in book.strangers)}."
            )
        if book.late_changed:
            lines.append(
                f"Late policy {options.late_policy}: {book.late_changed} student(s) graded on "
                "another file or with a penalty (the note of each row says why)."
            )
        if run.roster_summary:
            lines.insert(0, f"Roster: {terminal_text(run.roster_summary)}")
        if run.lms_gradebook is not None:
            lines += lms_text(run.lms_gradebook, options.review_dir, options.final)
        parts.append("\n".join(lines))
    if run.unjudged:
        parts.append(
            f"Deadline: {run.unjudged} file(s) have no known submission time and no LMS late "
            "mark (collected.csv), so --deadline could not be applied to them."
        )
    if run.rowless:
        parts.append(
            f"Deadline: {run.rowless} file(s) in collected Canvas/Moodle/Classroom layout have "
            "no collected.csv row: their time is unknown, so the deadline was not applied to "
            "them. Run grader collect again with the same exports, or restore collected.csv."
        )
    if run.provenance is not None:
        parts.append(provenance_text(run.provenance, options.review_dir / "provenance.csv"))
    if run.reconciliation is not None:
        parts.append(
            reconciliation_text(run.reconciliation, options.review_dir / "reconciliation.csv")
        )
    parts.append(
        f"History: {run.history_added} new scoring(s) recorded in {options.history_file}.\n"
        f"Wrote {options.out}/ (may be shown to students): {_listing(options.out)}.\n"
        f"Wrote {options.review_dir}/ (for the TA only): {_listing(options.review_dir)}."
    )
    return "\n\n".join(parts)


def lms_text(lms: LmsGradebook, review: Path, final: bool) -> list[str]:
    """What the LMS import file holds, and every roster student left out of it, by id."""
    when = "" if final else " Its grades are provisional (Public split): import a --final run's."
    lines = [
        f"{LMS_LABEL[lms.format]} import file: {review / lms.file} ({lms.rows} students, "
        f"grade column {terminal_text(lms.column)!r}; how to import it: "
        f"docs/grades-to-lms.md).{when}"
    ]
    if lms.left_out:
        lines.append(
            f"Left out of {lms.file} ({len(lms.left_out)}; graded in gradebook.csv, but "
            f"{LMS_LABEL[lms.format]} could not tell who they are): "
            + "; ".join(
                f"{terminal_text(s.student_id)} ({terminal_text(why)})" for s, why in lms.left_out
            )
            + ". Add the column to the roster, or enter their grades by hand."
        )
    return lines


def _listing(folder: Path) -> str:
    """The files of a written folder, a subfolder as 'name/ (N files)'."""
    items = []
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if path.is_dir():
            items.append(f"{path.name}/ ({sum(1 for _ in path.iterdir())} files)")
        else:
            items.append(path.name)
    return ", ".join(items)
