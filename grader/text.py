"""Untrusted text made safe for each output, and the small formats every output shares.

Participant names come from file names and are untrusted. In CSV a cell that
a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
leading apostrophe (OWASP's advice for CSV injection); Markdown escapes HTML
and Markdown syntax; HTML escapes everything; the terminal shows control
characters as '?'.
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from datetime import datetime

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters that start Markdown syntax inside a table cell (< > & are HTML-escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

METRICS = ("accuracy", "macro_f1")
LABEL = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}
SHORT = {"accuracy": "acc", "macro_f1": "F1"}
# How the board's intervals and paired tests are made, per ranking metric.
INTERVAL_METHOD = {
    "accuracy": "Wilson score intervals",
    "macro_f1": "bootstrap intervals (1,000 resamples of the split's images)",
}
TEST_METHOD = {"accuracy": "exact McNemar test", "macro_f1": "paired permutation test of macro-F1"}


def csv_cell(text: str) -> str:
    """Neutralise a spreadsheet formula: prefix an apostrophe when it starts like one."""
    return "'" + text if text.startswith(FORMULA_START) else text


def markdown_text(text: str) -> str:
    """Escape text for a Markdown table cell: no HTML, no Markdown syntax, one line."""
    text = html.escape(" ".join(text.split()), quote=True)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def html_text(text: object) -> str:
    """Escape text for HTML content and attribute values."""
    return html.escape(str(text), quote=True)


def terminal_text(text: str, width: int | None = None) -> str:
    """Printable text for a terminal: control characters (escape codes) become '?';
    cut to `width` columns (wide CJK characters take two), marked with '…'."""
    shown = "".join(c if c.isprintable() else "?" for c in text)
    if width is not None and columns(shown) > width:
        while columns(shown) > width - 1:
            shown = shown[:-1]
        shown += "…"
    return shown


def columns(text: str) -> int:
    """How many terminal columns text takes: 2 for wide and full-width characters
    (Unicode's East Asian Width W and F), 0 for combining marks, else 1."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def pad(text: str, width: int, right: bool = False) -> str:
    """`text` padded with spaces to `width` columns, on the left when `right`."""
    space = " " * max(width - columns(text), 0)
    return space + text if right else text + space


def csv_text(columns: list[str], rows: list[list]) -> str:
    """A CSV document with a header row and LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def time_text(moment: datetime) -> str:
    """A submission time as written in every output (UTC, seconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


STAFF_NOTE = " Rows marked staff (the baseline, the TA's files) are shown without a rank."


def rank_text(rank: int | None) -> str:
    """A board rank as shown: staff rows (--staff) hold none."""
    return "staff" if rank is None else str(rank)


def group_letters(number: int) -> str:
    """Tied groups as letters: A, B, ..., Z, AA, AB, ..."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def percent(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f}%"


def span_text(interval) -> str:
    """A 95% interval as 'low-high%' with one decimal."""
    return f"{100 * interval.low:.1f}-{100 * interval.high:.1f}%"


def p_text(value: float | None) -> str:
    """A p-value with 4 significant digits ('' when there is none)."""
    return "" if value is None else f"{value:.4g}"
