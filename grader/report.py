"""Write a scoring run's outputs: CSV, Markdown, JSON reports and a terminal table.

Participant names come from file names and are untrusted. In CSV a cell that
a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
leading apostrophe (OWASP's advice for CSV injection); Markdown escapes HTML
and Markdown syntax; the terminal shows control characters as '?'; report
file names keep only safe characters.

Without `final`, no output carries a Private-split number: the public board
is what students may see.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from pathlib import Path

from grader.score import SPLITS, BoardRow, Entry

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters that start Markdown syntax inside a table cell (< > & are HTML-escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def splits_shown(final: bool) -> tuple[str, ...]:
    """Splits whose scores an output may carry."""
    return SPLITS if final else ("public",)


# ----------------------------------------------------------------------------
# Escaping untrusted text
# ----------------------------------------------------------------------------


def csv_cell(text: str) -> str:
    """Neutralise a spreadsheet formula: prefix an apostrophe when it starts like one."""
    return "'" + text if text.startswith(FORMULA_START) else text


def markdown_text(text: str) -> str:
    """Escape text for a Markdown table cell: no HTML, no Markdown syntax, one line."""
    text = html.escape(" ".join(text.split()), quote=True)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def terminal_text(text: str, width: int | None = None) -> str:
    """Printable text for a terminal: control characters (escape codes) become '?'."""
    shown = "".join(c if c.isprintable() else "?" for c in text)
    if width is not None and len(shown) > width:
        shown = shown[: width - 1] + "…"
    return shown


def report_name(participant: str, taken: set[str]) -> str:
    """A safe, unique file name for a participant's JSON report."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", participant).strip("_")[:60] or "participant"
    if safe != participant or safe.lower() in taken:
        safe = f"{safe}-{hashlib.sha256(participant.encode()).hexdigest()[:8]}"
    taken.add(safe.lower())
    return safe + ".json"


# ----------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------


def leaderboard_csv(board: list[BoardRow], final: bool, stats=None) -> str:
    """rank, participant, file, submitted_at, the scores of each shown split, then (with
    `stats`) the 95% intervals on the ranking split, the paired tests and the tied group."""
    columns = ["rank", "participant", "file", "submitted_at"]
    columns += [f"{s}_{m}" for s in splits_shown(final) if s != "all" for m in _METRICS]
    rows = [
        [row.rank, csv_cell(row.participant), csv_cell(row.entry.file), _time(row.entry)]
        + [_number(row.entry, s, m) for s in splits_shown(final) if s != "all" for m in _METRICS]
        for row in board
    ]
    if stats is not None:
        split = "private" if final else "public"
        columns += [f"{split}_{m}_{end}" for m in _METRICS for end in ("low", "high")]
        columns += ["p_vs_next", "p_vs_baseline", "tie_group"]
        for row, u in zip(rows, stats, strict=True):
            row += [repr(v) for span in (u.accuracy, u.macro_f1) for v in (span.low, span.high)]
            row += [_p(u.p_vs_next), _p(u.p_vs_baseline), u.group]
    return _csv_text(columns, rows)


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def scores_csv(entries: list[Entry], final: bool) -> str:
    """One row per file: status, reason and every score the board may show."""
    columns = ["participant", "file", "submitted_at", "selected", "status", "error", "sha256"]
    columns += [f"{s}_{m}" for s in splits_shown(final) for m in _METRICS]
    rows = [
        [
            csv_cell(e.participant),
            csv_cell(e.file),
            _time(e),
            "yes" if e.selected else "no",
            e.status,
            csv_cell(e.error),
            e.sha256,
        ]
        + [_number(e, s, m) for s in splits_shown(final) for m in _METRICS]
        for e in entries
    ]
    return _csv_text(columns, rows)


def leaderboard_markdown(
    board: list[BoardRow], entries: list[Entry], final: bool, rank_by: str, stats=None
) -> str:
    """The board as a Markdown page, names escaped."""
    split = "Private" if final else "Public"
    title = "Final leaderboard" if final else "Public leaderboard"
    shown = [s for s in splits_shown(final) if s != "all"]
    header = ["Rank", "Participant"] + [f"{s.title()} {_LABEL[m]}" for s in shown for m in _METRICS]
    if stats is not None:
        header += [f"95% interval ({_SHORT[rank_by]})", "Tied group"]
    lines = [
        f"# {title}",
        "",
        f"Ranked by {split} {_LABEL[rank_by].lower()}; equal scores share a rank and the "
        "earlier submission is listed first.",
        "",
        "| " + " | ".join([*header, "File", "Submitted (UTC)"]) + " |",
        "|" + "---|" * (len(header) + 2),
    ]
    for i, row in enumerate(board):
        cells = [str(row.rank), markdown_text(row.participant)]
        cells += [_percent(row.entry, s, m) for s in shown for m in _METRICS]
        if stats is not None:
            cells += [_span(getattr(stats[i], rank_by)), _group(stats[i].group)]
        cells += [markdown_text(row.entry.file), _time(row.entry).replace("T", " ")]
        lines.append("| " + " | ".join(cells) + " |")
    if stats:
        lines += [
            "",
            "Rows in the same tied group are not significantly different from the "
            "group's first row (exact McNemar test, p >= 0.05); intervals are 95% "
            "bootstrap intervals (1,000 resamples of the split's images).",
        ]
    unscored = [e for e in entries if e.status != "scored"]
    if unscored:
        lines += ["", f"{len(unscored)} file(s) not scored: see scores.csv for the reasons."]
    return "\n".join(lines) + "\n"


def participant_report(
    participant: str,
    entries: list[Entry],
    board: list[BoardRow],
    final: bool,
    classes: tuple[str, ...],
) -> str:
    """JSON: the participant's place and every file with per-class metrics."""
    place = next((row for row in board if row.participant == participant), None)
    own = [e for e in entries if e.participant == participant]
    report = {
        "participant": participant,
        "board": "final" if final else "public",
        "rank": place.rank if place else None,
        "ranked_file": place.entry.file if place else None,
        "submissions": [
            {
                "file": e.file,
                "submitted_at": _time(e),
                "selected": e.selected,
                "status": e.status,
                "error": e.error,
                "sha256": e.sha256,
                **{s: e.metrics[s].as_dict(classes) for s in splits_shown(final) if e.metrics},
            }
            for e in own
        ],
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_outputs(
    folder: Path,
    entries: list[Entry],
    board: list[BoardRow],
    final: bool,
    rank_by: str,
    classes: tuple[str, ...],
    stats=None,
    flags=None,
    moved=None,
) -> dict[str, str]:
    """Write every output file into `folder`; return participant -> report file name."""
    if moved is not None:
        (folder / "shakeup.csv").write_text(shakeup_csv(moved), encoding="utf-8")
    if stats is not None:
        from grader.html import leaderboard_html

        (folder / "index.html").write_text(
            leaderboard_html(board, entries, stats, final, rank_by, classes), encoding="utf-8"
        )
    if flags is not None:
        rows = [[f.kind, csv_cell(" | ".join(f.files)), csv_cell(f.reason)] for f in flags]
        (folder / "flags.csv").write_text(
            _csv_text(["kind", "files", "reason"], rows), encoding="utf-8"
        )
    (folder / "leaderboard.csv").write_text(leaderboard_csv(board, final, stats), encoding="utf-8")
    (folder / "scores.csv").write_text(scores_csv(entries, final), encoding="utf-8")
    (folder / "leaderboard.md").write_text(
        leaderboard_markdown(board, entries, final, rank_by, stats), encoding="utf-8"
    )
    (folder / "reports").mkdir()
    names: dict[str, str] = {}
    taken: set[str] = set()
    for participant in sorted({e.participant for e in entries}):
        names[participant] = report_name(participant, taken)
        (folder / "reports" / names[participant]).write_text(
            participant_report(participant, entries, board, final, classes), encoding="utf-8"
        )
    return names


# ----------------------------------------------------------------------------
# The terminal
# ----------------------------------------------------------------------------


def terminal_table(
    board: list[BoardRow], entries: list[Entry], final: bool, rank_by: str, stats=None
) -> str:
    """The board and the unscored files, for the TA's terminal."""
    shown = [s for s in splits_shown(final) if s != "all"]
    heads = ["rank", "participant"] + [f"{s} {_SHORT[m]}" for s in shown for m in _METRICS]
    extra = [f"95% CI {_SHORT[rank_by]}", "group"] if stats is not None else []
    heads += [*extra, "file", "submitted (UTC)"]
    table = [
        [str(row.rank), terminal_text(row.participant, 24)]
        + [_percent(row.entry, s, m) for s in shown for m in _METRICS]
        + ([_span(getattr(stats[i], rank_by)), _group(stats[i].group)] if extra else [])
        + [terminal_text(row.entry.file, 40), _time(row.entry).replace("T", " ")[:16]]
        for i, row in enumerate(board)
    ]
    widths = [max([len(h)] + [len(r[i]) for r in table]) for i, h in enumerate(heads)]
    numeric = {0} | set(range(2, 2 + len(shown) * len(_METRICS) + len(extra)))

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    split = "private" if final else "public"
    title = "Final" if final else "Public"
    participants = len({e.participant for e in entries})
    out = [
        f"{title} leaderboard, ranked by {split} {_LABEL[rank_by].lower()}: "
        f"{len(board)} of {participants} participants ranked.",
        line(heads),
        *(line(r) for r in table),
    ]
    unscored = [e for e in entries if e.status != "scored"]
    if unscored:
        out += ["", f"Not scored ({len(unscored)} file(s); reasons in scores.csv):"]
        out += [
            f"  {terminal_text(e.file, 50)}: {e.status}: {terminal_text(e.error, 110)}"
            for e in unscored
        ]
    return "\n".join(out)


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------

_METRICS = ("accuracy", "macro_f1")
_LABEL = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}
_SHORT = {"accuracy": "acc", "macro_f1": "F1"}


def _number(entry: Entry, split: str, metric: str) -> str:
    """A score at full precision (repr), so equal scores stay visibly equal."""
    return repr(getattr(entry.metrics[split], metric)) if entry.metrics else ""


def _span(interval) -> str:
    return f"{100 * interval.low:.1f}-{100 * interval.high:.1f}%"


def _group(number: int) -> str:
    """Tied groups as letters: A, B, ..., Z, AA, AB, ..."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _percent(entry: Entry, split: str, metric: str) -> str:
    return f"{100 * getattr(entry.metrics[split], metric):.2f}%"


def _time(entry: Entry) -> str:
    return entry.submitted_at.strftime("%Y-%m-%dT%H:%M:%S")


def _csv_text(columns: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def flags_text(flags) -> str:
    """The integrity flags for the terminal ('' when there are none)."""
    if not flags:
        return ""
    lines = [f"Flags for review ({len(flags)}; in flags.csv, for the TA only):"]
    lines += [f"  {f.kind}: {terminal_text(', '.join(f.files), 90)}: {f.reason}" for f in flags]
    return "\n".join(lines)


def shakeup_csv(moved) -> str:
    """participant, public_rank, private_rank, change (positive: moved up)."""
    rows = [
        [csv_cell(name), pub, priv, pub - priv]
        for name, pub, priv in zip(
            moved.participants, moved.public_rank, moved.private_rank, strict=True
        )
    ]
    return _csv_text(["participant", "public_rank", "private_rank", "change"], rows)


def shakeup_text(moved) -> str:
    """One paragraph: how much the board shook, and how much chance alone shakes it."""
    changes = [abs(a - b) for a, b in zip(moved.public_rank, moved.private_rank, strict=True)]
    low = moved.resplit_tau_mean - 2 * moved.resplit_tau_sd
    verdict = (
        "within what chance alone produces"
        if moved.tau >= low
        else "more than chance alone produces: look at who moved"
    )
    return (
        f"Shake-up: Kendall tau between public and private scores {moved.tau:.3f} "
        f"(mean rank change {sum(changes) / len(changes):.2f}); {moved.resplits} random "
        f"re-splits of the test set give {moved.resplit_tau_mean:.3f} +- "
        f"{moved.resplit_tau_sd:.3f}: {verdict}. Ranks in shakeup.csv."
    )
