"""Ranking, Kaggle-style: which file of a participant a board shows, and in what order.

Public board: each participant's best public score. Final board: the selected
submissions (a file whose name ends in ``.selected.csv``; Kaggle lets a
participant select up to 2, and with more the 2 latest count), else the 2 best
public ones, ranked by their best private score; files a late policy treats as
never submitted (grader.grades.late.never_submitted) are left out first. Equal
scores share a rank (1, 2, 2, 4), compared exactly as fractions of the confusion
counts; among equals the earlier submission is listed first. The written rule is
docs/grading-rules.md, sections 4 and 5.
"""

from __future__ import annotations

from grader.core.constants import DEFAULT_RANK_BY
from grader.score.entry import BoardRow, Entry, board_split, entry_value
from grader.stats.metrics import competition_ranks

MAX_SELECTED = 2


def leaderboard(
    entries: list[Entry],
    rank_by: str = DEFAULT_RANK_BY,
    final: bool = False,
    staff: frozenset[str] = frozenset(),
    dropped: frozenset[str] = frozenset(),
) -> list[BoardRow]:
    """One row per participant with a scored file, ranked.

    Public board: each participant's best public score. Final board: the best
    private score among the selected submissions (or the 2 best public ones).
    Files in `dropped` (by `file`) are treated as never submitted: a participant
    with no other file has no row. Participants in `staff` are placed by score but
    take no rank: the others are ranked as if they were not there.
    """
    split = board_split(final)
    by_participant: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.status == "scored" and entry.identified:
            by_participant.setdefault(entry.participant, []).append(entry)
    chosen = []
    for participant, own in by_participant.items():
        kept = [e for e in own if e.file not in dropped]
        if kept:
            best = min(
                board_candidates(kept, rank_by, final), key=lambda e: board_order(e, split, rank_by)
            )
            chosen.append((participant, best, len(own)))
    chosen.sort(key=lambda item: (*board_order(item[1], split, rank_by), item[0]))
    ranked = [item for item in chosen if item[0] not in staff]
    ranks = iter(
        competition_ranks([entry_value(best, split, rank_by, exact=True) for _, best, _ in ranked])
    )
    return [
        BoardRow(rank=None, participant=participant, entry=best, scored_files=count, staff=True)
        if participant in staff
        else BoardRow(rank=next(ranks), participant=participant, entry=best, scored_files=count)
        for participant, best, count in chosen
    ]


def board_order(entry: Entry, split: str, rank_by: str) -> tuple:
    """Sort key: higher score first, then the earlier submission, then the file name."""
    return (-entry_value(entry, split, rank_by, exact=True), entry.submitted_at, entry.file)


def board_candidates(own: list[Entry], rank_by: str, final: bool) -> list[Entry]:
    """The files of one participant a board chooses from: all of them on the public
    board; on the final board the selected ones (the 2 latest, by time and then file
    name), else the 2 best public."""
    if not final:
        return own
    selected = sorted((e for e in own if e.selected), key=lambda e: (e.submitted_at, e.file))
    if selected:
        return selected[-MAX_SELECTED:]
    return sorted(own, key=lambda e: board_order(e, "public", rank_by))[:MAX_SELECTED]
