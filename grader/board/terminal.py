"""What grader score prints: the board and the unscored files, the flags, the lookup and
shake-up lines, the gradebook's news and what was written where.

Names are untrusted: control characters never reach the terminal (grader.core.text).
"""

from __future__ import annotations

from pathlib import Path

from grader.board.public import percent_of, splits_shown
from grader.core.text import (
    LABEL,
    METRICS,
    SHORT,
    columns,
    group_letters,
    pad,
    rank_text,
    span_text,
    terminal_text,
    time_text,
)
from grader.grades.reconcile import reconciliation_text
from grader.score.entry import BoardRow, Entry, board_split
from grader.score.run import ScoringRun


def terminal_table(
    board: list[BoardRow], entries: list[Entry], final: bool, rank_by: str, stats=None
) -> str:
    """The board and the unscored files, for the TA's terminal."""
    shown = [s for s in splits_shown(final) if s != "all"]
    heads = ["rank", "participant"] + [f"{s} {SHORT[m]}" for s in shown for m in METRICS]
    extra = [f"95% CI {SHORT[rank_by]}", "group"] if stats is not None else []
    heads += [*extra, "file", "submitted (UTC)"]
    table = [
        [rank_text(row.rank), terminal_text(row.participant, 24)]
        + [percent_of(row.entry, s, m) for s in shown for m in METRICS]
        + ([span_text(getattr(stats[i], rank_by)), group_letters(stats[i].group)] if extra else [])
        + [
            terminal_text(row.entry.file, 40),
            time_text(row.entry.submitted_at).replace("T", " ")[:16],
        ]
        for i, row in enumerate(board)
    ]
    widths = [max([len(h)] + [columns(r[i]) for r in table]) for i, h in enumerate(heads)]
    numeric = {0} | set(range(2, 2 + len(shown) * len(METRICS) + len(extra)))

    def line(cells: list[str]) -> str:
        return "  ".join(
            pad(c, w, right=i in numeric)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    title = "Final" if final else "Public"
    # Files under a refused name count once per name: they belong to no participant.
    participants = len({(e.identified, e.participant if e.identified else e.name) for e in entries})
    staff = sum(1 for row in board if row.staff)
    out = [
        f"{title} leaderboard, ranked by {board_split(final)} {LABEL[rank_by].lower()}: "
        f"{len(board) - staff} of {participants - staff} participants ranked"
        + (f"; {staff} staff row(s) shown without a rank." if staff else "."),
        line(heads),
        *(line(r) for r in table),
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


def _listing(folder: Path) -> str:
    """The files of a written folder, a subfolder as 'name/ (N files)'."""
    items = []
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if path.is_dir():
            items.append(f"{path.name}/ ({sum(1 for _ in path.iterdir())} files)")
        else:
            items.append(path.name)
    return ", ".join(items)
