"""Untrusted text made safe for each output, and the small formats every output shares.

Participant names come from file names and are untrusted. In CSV a cell that
a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
leading apostrophe (OWASP's advice for CSV injection), and so does a cell that
starts with an apostrophe, so that `+1` and `'+1` stay two cells (`'+1`,
`''+1`) and `csv_uncell` gives each back; Markdown escapes HTML
and Markdown syntax; HTML escapes everything; the terminal shows control
characters as '?'.
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Sequence, Set
from datetime import datetime

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters that start Markdown syntax inside a table cell (< > & are HTML-escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

LABEL = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}
SHORT = {"accuracy": "acc", "macro_f1": "F1"}
# How the board's intervals and paired tests are made, per ranking metric.
INTERVAL_METHOD = {
    "accuracy": "Wilson score intervals",
    "macro_f1": "bootstrap intervals (1,000 resamples of the split's images)",
}
TEST_METHOD = {"accuracy": "exact McNemar test", "macro_f1": "paired permutation test of macro-F1"}


def csv_cell(text: str) -> str:
    """Neutralise a spreadsheet formula: prefix an apostrophe when the cell starts like
    one, or with an apostrophe (which the prefix would otherwise make ambiguous). Every
    CSV file the kit writes goes through this one guard."""
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def csv_uncell(text: str) -> str:
    """The text `csv_cell` was given: the guard's apostrophe removed."""
    return text[1:] if text.startswith("'") else text


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


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Set[int] = frozenset()
) -> str:
    """A table for the terminal, the header line first: each column as wide as its widest
    cell in terminal columns (`columns`), two spaces between columns, the columns whose
    index is in `numeric` aligned right, trailing spaces cut. The tables grader prints
    (score's board, collect's summary, history) all go through it."""
    widths = [max([columns(h), *(columns(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    return "\n".join(
        "  ".join(
            pad(cell, width, right=i in numeric)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()
        for cells in [headers, *rows]
    )


def csv_text(columns: list[str], rows: list[list]) -> str:
    """A CSV document with a header row and LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


class CsvError(ValueError):
    """A CSV file that cannot be read as a table: the line (0: the whole file) and why."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message

    def at(self, where: str) -> str:
        """The message after `where` (the flag and the file): '<where> line N: ...'."""
        return (
            f"{where} line {self.line}: {self.message}" if self.line else f"{where}: {self.message}"
        )


def csv_table(data: bytes, utf16: bool = False) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (cells stripped) and the non-blank rows after it, each with the line it
    starts on, of a small CSV file the TA gives (a roster, Kaggle's leaderboard).

    Read as UTF-8 with or without a byte-order mark, or, when `utf16`, UTF-16 with one
    (Blackboard's tab-separated Grade Center download); `,`-separated, `;` (Excel's
    CSV where the decimal separator is a comma: a first line with `;` and no `,`) or
    tab (a first line with tabs and neither), quotes strictly. CsvError names the
    line of: bytes that are not UTF-8, a quote never closed (which would swallow the
    rest of the file into one cell) or a stray one, a cell holding a line break, a
    column named twice (ignoring case), a row
    with more cells than the header.
    """
    try:
        # A UTF-16 byte-order mark: no UTF-8 text starts with those bytes.
        utf16 = utf16 and data.startswith((b"\xff\xfe", b"\xfe\xff"))
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(0, f"not {'UTF-16' if utf16 else 'UTF-8'} text ({exc}).") from None
    first = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        delimiter = ";" if ";" in first else "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise CsvError(start, "a quote opened on this line is never closed.") from None
        raise CsvError(start, f"not readable as CSV ({exc}).") from None
    header = [cell.strip() for cell in rows[0][1]] if rows else []
    names = [cell.lower() for cell in header if cell]
    if repeated := next((n for n in names if names.count(n) > 1), None):
        raise CsvError(
            1, f"the column {repeated!r} appears {names.count(repeated)} times; keep one."
        )
    body = [(line, cells) for line, cells in rows[1:] if any(cell.strip() for cell in cells)]
    for line, cells in rows[:1] + body:
        if any("\n" in cell or "\r" in cell for cell in cells):
            raise CsvError(
                line, "a cell holds a line break (a quote that was not meant to open one?)."
            )
        if any(cell.strip() for cell in cells[len(header) :]):
            raise CsvError(
                line,
                f"{len(cells)} cells, but the header has {len(header)} columns (a "
                f"{'tab' if delimiter == chr(9) else repr(delimiter)} in a name needs quotes).",
            )
    return header, body


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
