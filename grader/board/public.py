"""The public board's files (leaderboard.csv, scores.csv, leaderboard.md, index.html,
shakeup.csv) and the per-participant reports; grader.board.terminal prints the board.

Participant names are untrusted: every output escapes them (grader.core.text).
Without `final`, no output here carries a Private-split number, and every
byte of the board folder is a function of the submissions and the Public
labels alone (tested by permuting the Private labels).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from grader.board.html import leaderboard_html
from grader.bundle.answers import SPLITS
from grader.core.constants import BOARD_MARKER, METRICS
from grader.core.text import (
    INTERVAL_METHOD,
    LABEL,
    SHORT,
    STAFF_NOTE,
    TEST_METHOD,
    csv_cell,
    csv_text,
    group_letters,
    markdown_text,
    p_text,
    percent,
    rank_text,
    span_text,
    time_text,
)
from grader.score.entry import BoardRow, Entry, board_split, entry_value
from grader.score.run import ScoringRun

REPORT_HASH_LENGTHS = (8, 16, 64)
REPORT_START = b'{"participant": '  # how every report begins (participant_report)
# What a board folder may hold: replacing one deletes nothing else (fileio.replace_problem).
BOARD_FILES = frozenset(
    {
        BOARD_MARKER,
        "index.html",
        "leaderboard.csv",
        "leaderboard.md",
        "scores.csv",
        "shakeup.csv",
        "reports",
    }
)


def splits_shown(final: bool) -> tuple[str, ...]:
    """Splits whose scores a public output may carry."""
    return SPLITS if final else ("public",)


def report_names(participants: list[str]) -> dict[str, str]:
    """A safe, unique file name for each participant's JSON report.

    A name made only of letters, digits, '-' and '_' is used as it is; any
    other is cut to those characters and gets '~' and a hash of the name, so
    it can never equal an unchanged one. Uniqueness (ignoring case, for
    case-insensitive file systems) is checked, and a longer hash taken on a
    collision.
    """
    for length in REPORT_HASH_LENGTHS:
        chosen = {p: _report_name(p, length) for p in participants}
        if len({name.lower() for name in chosen.values()}) == len(chosen):
            return chosen
    raise AssertionError("two participants' report names collide even with a full hash")


def _report_name(participant: str, length: int) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-]{1,60}", participant):
        return participant + ".json"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", participant).strip("_")[:60] or "participant"
    digest = hashlib.sha256(participant.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{safe}~{digest[:length]}.json"


# ----------------------------------------------------------------------------
# The board's files
# ----------------------------------------------------------------------------


def leaderboard_csv(board: list[BoardRow], final: bool, stats=None) -> str:
    """rank, participant, file, submitted_at, the scores of each shown split, then (with
    `stats`) the 95% intervals on the ranking split, the paired tests and the tied group."""
    shown = [s for s in splits_shown(final) if s != "all"]
    columns = ["rank", "participant", "file", "submitted_at"]
    columns += [f"{s}_{m}" for s in shown for m in METRICS]
    rows = [
        [
            rank_text(row.rank),
            csv_cell(row.participant),
            csv_cell(row.entry.file),
            time_text(row.entry.submitted_at),
        ]
        + [_number(row.entry, s, m) for s in shown for m in METRICS]
        for row in board
    ]
    if stats is not None:
        columns += _interval_columns(board_split(final))
        columns += ["p_vs_next", "p_vs_baseline", "tie_group"]
        for row, u in zip(rows, stats, strict=True):
            row += _interval_cells({"accuracy": u.accuracy, "macro_f1": u.macro_f1})
            row += [p_text(u.p_vs_next), p_text(u.p_vs_baseline), u.group]
    return csv_text(columns, rows)


def _interval_columns(split: str) -> list[str]:
    return [f"{split}_{m}_{end}" for m in METRICS for end in ("low", "high")]


def _interval_cells(spans) -> list[str]:
    if spans is None:
        return ["", "", "", ""]
    return [repr(v) for m in METRICS for v in (spans[m].low, spans[m].high)]


def scores_csv(entries: list[Entry], final: bool, intervals=None) -> str:
    """One row per file: status, reason (`error`), a note on a scored file, every score the
    board may show and (with `intervals`, from uncertainty.file_intervals) the 95%
    intervals on the ranking split."""
    columns = [
        "participant", "file", "submitted_at", "selected", "status", "error", "note", "sha256",
    ]  # fmt: skip
    columns += [f"{s}_{m}" for s in splits_shown(final) for m in METRICS]
    if intervals is not None:
        columns += _interval_columns(board_split(final))
    rows = []
    for e in entries:
        row = [
            csv_cell(e.participant),
            csv_cell(e.file),
            time_text(e.submitted_at),
            "yes" if e.selected else "no",
            e.status,
            csv_cell(e.error),
            csv_cell(e.note),
            e.sha256,
        ]
        row += [_number(e, s, m) for s in splits_shown(final) for m in METRICS]
        if intervals is not None:
            row += _interval_cells(intervals.get(e.file) if e.status == "scored" else None)
        rows.append(row)
    return csv_text(columns, rows)


def leaderboard_markdown(
    board: list[BoardRow], entries: list[Entry], final: bool, rank_by: str, stats=None
) -> str:
    """The board as a Markdown page, names escaped."""
    split = board_split(final).title()
    title = "Final leaderboard" if final else "Public leaderboard"
    shown = [s for s in splits_shown(final) if s != "all"]
    header = ["Rank", "Participant"] + [f"{s.title()} {LABEL[m]}" for s in shown for m in METRICS]
    if stats is not None:
        header += [f"95% interval ({SHORT[rank_by]})", "Tied group"]
    lines = [
        f"# {title}",
        "",
        f"Ranked by {split} {LABEL[rank_by].lower()}; equal scores share a rank and the "
        "earlier submission is listed first."
        + (STAFF_NOTE if any(row.staff for row in board) else ""),
        "",
        "| " + " | ".join([*header, "File", "Submitted (UTC)"]) + " |",
        "|" + "---|" * (len(header) + 2),
    ]
    for i, row in enumerate(board):
        cells = [rank_text(row.rank), markdown_text(row.participant)]
        cells += [percent(entry_value(row.entry, s, m)) for s in shown for m in METRICS]
        if stats is not None:
            cells += [span_text(getattr(stats[i], rank_by)), group_letters(stats[i].group)]
        cells += [
            markdown_text(row.entry.file),
            time_text(row.entry.submitted_at).replace("T", " "),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if stats:
        lines += [
            "",
            "Rows in the same tied group are not significantly different from the "
            f"group's first row ({TEST_METHOD[rank_by]}, p >= 0.05, not adjusted for the "
            f"many comparisons); intervals are 95% {INTERVAL_METHOD[rank_by]}.",
        ]
    unscored = [e for e in entries if e.status != "scored"]
    if unscored:
        lines += ["", f"{len(unscored)} file(s) not scored: see scores.csv for the reasons."]
    return "\n".join(lines) + "\n"


def participant_report(
    participant: str,
    own: list[Entry],
    place: BoardRow | None,
    final: bool,
    splits: tuple[str, ...],
    classes: tuple[str, ...],
) -> str:
    """JSON: the participant's place and every file of theirs (`own`) with per-class
    metrics on `splits`."""
    report = {
        "participant": participant,
        "board": "final" if final else "public",
        "rank": place.rank if place else None,
        **({"staff": True} if place is not None and place.staff else {}),
        "ranked_file": place.entry.file if place else None,
        "submissions": [
            {
                "file": e.file,
                "submitted_at": time_text(e.submitted_at),
                "selected": e.selected,
                "status": e.status,
                "error": e.error,
                "sha256": e.sha256,
                **{s: e.metrics[s].as_dict(classes) for s in splits if e.metrics},
            }
            for e in own
        ],
    }
    # No indent: json's C encoder only serves compact output, which is 10x faster.
    return json.dumps(report, ensure_ascii=False) + "\n"


def write_reports(
    folder: Path,
    entries: list[Entry],
    board: list[BoardRow],
    final: bool,
    splits: tuple[str, ...],
    classes: tuple[str, ...],
) -> dict[str, str]:
    """reports/<participant>.json for every identified participant; returns their names.

    Entries and board rows are grouped once, so the work is linear in the files.
    """
    (folder / "reports").mkdir()
    own: dict[str, list[Entry]] = {}
    for e in entries:
        if e.identified:
            own.setdefault(e.participant, []).append(e)
    places = {row.participant: row for row in board}
    names = report_names(sorted(own))
    for participant, name in names.items():
        text = participant_report(
            participant, own[participant], places.get(participant), final, splits, classes
        )
        (folder / "reports" / name).write_text(text, encoding="utf-8")
    return names


def write_board(folder: Path, run: ScoringRun) -> None:
    """Every public output of a scoring run into `folder` (the staging folder of --out)."""
    options, final = run.options, run.options.final
    files = {
        BOARD_MARKER: "Written by grader score; the folder is replaced on every run.\n",
        "leaderboard.csv": leaderboard_csv(run.board, final, run.stats),
        "scores.csv": scores_csv(run.entries, final, run.intervals),
        "leaderboard.md": leaderboard_markdown(
            run.board, run.entries, final, options.rank_by, run.stats
        ),
        "index.html": leaderboard_html(run, details=options.public_details),
    }
    if run.shakeup is not None:
        files["shakeup.csv"] = shakeup_csv(run.shakeup)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    if options.public_details:
        write_reports(folder, run.entries, run.board, final, splits_shown(final), run.key.classes)


def shakeup_csv(moved) -> str:
    """participant, public_rank, private_rank, change (positive: moved up)."""
    rows = [
        [csv_cell(name), pub, priv, pub - priv]
        for name, pub, priv in zip(
            moved.participants, moved.public_rank, moved.private_rank, strict=True
        )
    ]
    return csv_text(["participant", "public_rank", "private_rank", "change"], rows)


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------


def _number(entry: Entry, split: str, metric: str) -> str:
    """A score at full precision (repr), so equal scores stay visibly equal."""
    return repr(entry_value(entry, split, metric)) if entry.metrics else ""
