"""A static leaderboard page, leaderboard/index.html, that opens from disk.

No server and no external file: one HTML document with inline CSS, inline SVG
and one small inline script (the name filter). It shows the ranks, the tied
groups as bands down the left edge, and the 95% intervals as error bars; each
block of 25 rows has its own axis, fitted to the intervals it compares and
printed above it, so that neighbours' intervals stay wide enough to read. The
header row stays in view while scrolling. With --public-details also, per
participant, the per-class precision, recall and F1 and the confusion matrix
of the ranked file (opt-in: per-class tables help a student probe which rows
are Public). Public numbers only unless --final. Every name and file name is
HTML-escaped and reaches the page as text: the script reads names from an
escaped attribute and only hides or shows rows, never writing HTML.
"""

from __future__ import annotations

from grader.core.constants import METRICS
from grader.core.text import (
    INTERVAL_METHOD,
    STAFF_NOTE,
    TEST_METHOD,
    group_letters,
    html_text,
    percent,
    rank_text,
    time_text,
)
from grader.score.entry import board_split, entry_value
from grader.score.run import ScoringRun

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #dde;text-align:right;white-space:nowrap}
th{background:#f2f4f8}
thead th{position:sticky;top:0;z-index:1}
td.name,td.file,th.name{text-align:left}
tr.group-odd td{background:#fafbff}
tr.group-odd td:first-child{border-left:5px solid #8a94a6}
tr.group-even td:first-child{border-left:5px solid #d5d9e0}
tr.axis td{text-align:left;color:#555;background:#fff;font-size:.85rem;padding-top:.8rem}
#find{font:inherit;padding:.2rem .4rem}
.bar line{stroke:#4a6fd6;stroke-width:2}
.bar circle{fill:#1d3fa0}
details{margin:.3rem 0}
summary{cursor:pointer;font-weight:600}
td.cm{min-width:2.2rem}
.note{color:#555;max-width:60rem}
"""
BAR_WIDTH = 240
PAGE_ROWS = 25  # rows that share one interval axis
SCRIPT = """
document.getElementById("find").addEventListener("input", function (event) {
  var query = event.target.value.trim().toLowerCase();
  document.querySelectorAll("tr[data-name]").forEach(function (row) {
    row.hidden = query !== "" && row.getAttribute("data-name").indexOf(query) < 0;
  });
});
"""


_e = html_text


def _bar(low: float, value: float, high: float, lo: float, hi: float) -> str:
    """An inline SVG error bar on the axis [lo, hi] of its block of rows."""
    span = max(hi - lo, 1e-9)

    def x(v: float) -> float:
        return 4 + (v - lo) / span * (BAR_WIDTH - 8)

    return (
        f'<svg class="bar" width="{BAR_WIDTH}" height="14" role="img" '
        f'aria-label="{100 * low:.1f} to {100 * high:.1f} percent">'
        f'<line x1="{x(low):.1f}" y1="7" x2="{x(high):.1f}" y2="7"/>'
        f'<circle cx="{x(value):.1f}" cy="7" r="3.5"/></svg>'
    )


def _axis(spans) -> tuple[float, float]:
    """The axis of a block: its intervals' range, widened by 5% on each side."""
    lo, hi = min(s.low for s in spans), max(s.high for s in spans)
    margin = max(hi - lo, 0.01) * 0.05
    return max(0.0, lo - margin), min(1.0, hi + margin)


def leaderboard_html(run: ScoringRun, details: bool = False) -> str:
    """The whole page as one string; `details` adds the per-class tables."""
    board, entries, stats = run.board, run.entries, run.stats
    final, rank_by, classes = run.options.final, run.options.rank_by, run.key.classes
    split = board_split(final)
    title = "Final leaderboard" if final else "Public leaderboard"
    metric = rank_by.replace("_", "-")
    spans = [getattr(u, rank_by) for u in stats]
    blocks = []
    for start in range(0, len(board), PAGE_ROWS):
        stop = min(start + PAGE_ROWS, len(board))
        lo, hi = _axis(spans[start:stop])
        rows = [
            f'<tr class="axis"><td colspan="8">Rows {start + 1}&ndash;{stop}: intervals drawn '
            f"from {100 * lo:.1f}% to {100 * hi:.1f}%</td></tr>"
        ]
        for i in range(start, stop):
            row, u, span = board[i], stats[i], spans[i]
            scores = "".join(
                f"<td>{percent(entry_value(row.entry, split, m))}</td>" for m in METRICS
            )
            value = entry_value(row.entry, split, rank_by)
            shade = "group-odd" if u.group % 2 else "group-even"
            rows.append(
                f'<tr class="{shade}" data-name="{_e(row.participant.lower())}">'
                f"<td>{rank_text(row.rank)}</td><td>{group_letters(u.group)}</td>"
                f'<td class="name">{_name_cell(i, row.participant, details)}</td>{scores}'
                f"<td>{_bar(span.low, value, span.high, lo, hi)} "
                f"{100 * span.low:.1f}&ndash;{100 * span.high:.1f}%</td>"
                f'<td class="file">{_e(row.entry.file)}</td>'
                f"<td>{_e(time_text(row.entry.submitted_at))}</td></tr>"
            )
        blocks.append("<tbody>" + "\n".join(rows) + "</tbody>")
    sections = (
        ["<h2>Per participant</h2>"]
        + [_participant_details(i, row, split, classes) for i, row in enumerate(board)]
        if details
        else []
    )
    unscored = sum(1 for e in entries if e.status != "scored")
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{title}</title><style>{STYLE}</style></head><body>",
            f"<h1>{title}</h1>",
            f'<p class="note">Ranked by {split} {metric}. Bars are 95% '
            f"{INTERVAL_METHOD[rank_by]}, drawn on one axis per block of {PAGE_ROWS} rows "
            "(its range above the block); the band on the left and the letter mark tied "
            "groups: rows of one group are not significantly different from the group's "
            f"first row ({TEST_METHOD[rank_by]}, p &ge; 0.05). Equal scores share a rank; the "
            "earlier submission is listed first."
            + (STAFF_NOTE if any(row.staff for row in board) else "")
            + "</p>",
            '<p><label>Find a participant: <input id="find" type="search" '
            'autocomplete="off"></label></p>',
            '<table class="board"><thead><tr><th>Rank</th><th>Group</th>'
            '<th class="name">Participant</th><th>Accuracy</th><th>Macro-F1</th>'
            f'<th>95% interval ({metric})</th><th class="name">File</th>'
            "<th>Submitted (UTC)</th></tr></thead>",
            *blocks,
            "</table>",
            f"<p>{unscored} file(s) not scored.</p>" if unscored else "",
            *sections,
            f"<script>{SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )


def _name_cell(i: int, participant: str, details: bool) -> str:
    name = _e(participant)
    return f'<a href="#p{i}">{name}</a>' if details else name


def _participant_details(i: int, row, split: str, classes: tuple[str, ...]) -> str:
    m = row.entry.metrics[split]
    per_class = "".join(
        f'<tr><td class="name">{_e(name)}</td><td>{100 * m.precision[i]:.1f}%</td>'
        f"<td>{100 * m.recall[i]:.1f}%</td><td>{100 * m.f1[i]:.1f}%</td>"
        f"<td>{int(m.support[i])}</td></tr>"
        for i, name in enumerate(classes)
    )
    peak = max(int(m.confusion.max()), 1)
    matrix_rows = "".join(
        f'<tr><th class="name">{_e(name)}</th>'
        + "".join(
            f'<td class="cm" style="background:rgba(74,111,214,{0.85 * n / peak:.2f})">{n}</td>'
            for n in map(int, m.confusion[i])
        )
        + "</tr>"
        for i, name in enumerate(classes)
    )
    header = "".join(f"<th>{_e(name[:4])}</th>" for name in classes)
    return (
        f'<details id="p{i}"><summary>{rank_text(row.rank)}. '
        f"{_e(row.participant)}: {_e(row.entry.file)}</summary>"
        '<table><thead><tr><th class="name">Class</th><th>Precision</th><th>Recall</th>'
        f"<th>F1</th><th>Images</th></tr></thead><tbody>{per_class}</tbody></table>"
        "<p>Confusion matrix (rows: true class, columns: predicted class)</p>"
        f"<table><thead><tr><th></th>{header}</tr></thead><tbody>{matrix_rows}</tbody>"
        "</table></details>"
    )
