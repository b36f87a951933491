"""The one submission validator, used by `validate`, `score` and `submit`.

A submission (docs/architecture.md, "A submission"): header `id,label`, one row per
test id in any order; a label is a class name (any case, surrounding spaces
ignored) or its index 0-9, one style for the whole file; UTF-8, with or without
BOM, LF or CRLF, quoted fields allowed.

The checker reports every problem in a file at once. Row problems are grouped
by kind, each group with its count and its first few lines, so that a file
with 10,000 bad rows gets a readable report rather than 10,000 lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.bundle.answers import AnswerKey
from grader.bundle.files import ID_GRAMMAR, canonical_id

EXAMPLES = 3  # lines quoted for each kind of problem
MISSING = -1  # label of a test id that has no row
PANDAS_HINT = "df.to_csv(path, index=False) in pandas"
ROW_PROBLEMS = (
    ("multiline", "a quoted field running over several lines (a quote never closed?)"),
    ("fields", "wrong number of fields"),
    ("empty_id", "empty id"),
    ("bad_id", f"id that is not {ID_GRAMMAR}"),
    ("unknown_id", "id not in the test set"),
    ("duplicate", "duplicate id"),
    ("empty_label", "empty label"),
    ("unknown_label", "unknown label"),
)


@dataclass
class Checked:
    """The outcome of checking one file.

    `labels[i]` is the predicted class index of the key's test row i, or -1
    when the file has no row for it. Valid means no problems at all.
    """

    name: str
    problems: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    rows: int = 0
    style: str = ""  # "names" or "indices": how the labels were written
    classes: tuple[str, ...] = ()  # the key's classes, for reports

    @property
    def valid(self) -> bool:
        return not self.problems


def shorten(text: str, limit: int = 40) -> str:
    """Text quoted in a message: at most `limit` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit] + "..."


def _extra_column_hint(names: list[str], extra: list[int]) -> str:
    if any(names[i] == "" for i in extra) and extra[-1] == len(names) - 1 and names[-1] == "":
        return " (a comma at the end of every line adds an empty column: remove it)"
    if any(names[i] in ("", "unnamed: 0") for i in extra):
        return (
            " (an unnamed first column is pandas' index: write the file with "
            "df.to_csv(path, index=False))"
        )
    return ""


class _Group:
    """Occurrences of one kind of row problem: a count and the first examples."""

    def __init__(self, what: str) -> None:
        self.what, self.count, self.examples = what, 0, []

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def message(self) -> str:
        more = f" and {self.count - EXAMPLES:,} more" if self.count > EXAMPLES else ""
        lines = "line" if self.count == 1 else "lines"
        return f"{self.what} on {self.count:,} {lines}: {', '.join(self.examples)}{more}."


class SubmissionChecker:
    """Checks submission files against one answer key; build it once, check many files."""

    def __init__(self, key: AnswerKey) -> None:
        self.key = key
        self.position = key.position_of()
        self.names = {name.lower(): i for i, name in enumerate(key.classes)}
        self.indices = {str(i): i for i in range(len(key.classes))}
        # The fast path's label spellings: each class name as written, and in lower case.
        self.fast = FastTables.build(key)
        # A valid file is about (id digits + longest class name + 4) bytes a row;
        # anything far beyond that is refused before it is read whole.
        longest = max(len(str(int(i))) for i in key.ids) + max(map(len, key.classes)) + 4
        self.expected_bytes = 16 + len(key.ids) * longest
        self.max_bytes = max(1 << 20, 16 * self.expected_bytes)
        ids = np.sort(key.ids)
        contiguous = len(ids) and ids[-1] - ids[0] == len(ids) - 1
        self.id_range = f"Test ids run from {ids[0]} to {ids[-1]:,}." if contiguous else ""
        self.allowed = (
            f"Allowed: {', '.join(key.classes)} (any case) or their indices "
            f"0-{len(key.classes) - 1}, one style for the whole file."
        )

    def check_file(self, path: Path, name: str | None = None) -> Checked:
        """Read at most `max_bytes` + 1 bytes of `path` and check them."""
        with path.open("rb") as f:
            data = f.read(self.max_bytes + 1)
        return self.check_bytes(data, name or str(path))

    def check_bytes(self, data: bytes, name: str) -> Checked:
        """Check the raw bytes of a submission; every problem goes into the result.

        A plain valid file (the header id,label or label,id, one row per test id
        with exactly one comma, canonical ids, labels written exactly as a class
        name, its lower case or an index) is recognised by the fast path in a few
        string and array operations. Anything else, valid or not, goes through
        the row-by-row diagnosis, so every message comes from one place.
        """
        result = Checked(name=name, classes=self.key.classes)
        text = self._decode(data, result)
        if text is None:
            return result
        fast = self._fast_labels(text)
        if fast is not None:
            result.labels, result.style = fast
            result.rows = len(self.key.ids)
            return result
        _FileCheck(self, result).run(text)
        return result

    def diagnose_bytes(self, data: bytes, name: str) -> Checked:
        """`check_bytes` without the fast path: the row-by-row diagnosis of any file."""
        result = Checked(name=name, classes=self.key.classes)
        text = self._decode(data, result)
        if text is not None:
            _FileCheck(self, result).run(text)
        return result

    def _fast_labels(self, text: str) -> tuple[np.ndarray, str] | None:
        """(labels, style) of a plain valid file, or None to leave it to the diagnosis.

        Returns a result only when the diagnosis would find no problem: ASCII text with
        no quote and no lone CR (so rows are lines and fields are split by commas), the
        header, exactly one comma and one known canonical id per row, every id once,
        labels of one style. After the header, everything is array operations on the
        file's bytes (FastTables).
        """
        if self.fast is None or '"' in text or not text.isascii():
            return None
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
        text = text.strip("\n")  # blank lines before and after are tolerated
        end = text.find("\n")
        header = [h.strip().lower() for h in text[:end].split(",")]
        if end < 0 or header not in (["id", "label"], ["label", "id"]):
            return None
        body = np.frombuffer(text[end + 1 :].encode("ascii"), np.uint8)
        n = len(self.key.ids)
        newlines = np.flatnonzero(body == ord("\n"))
        commas = np.flatnonzero(body == ord(","))
        if len(newlines) != n - 1 or len(commas) != n:
            return None
        starts, ends = np.append(0, newlines + 1), np.append(newlines, len(body))
        if not ((starts <= commas) & (commas < ends)).all():  # so one comma on every line
            return None
        spans = ((starts, commas), (commas + 1, ends))
        ids, labels = spans if header[0] == "id" else spans[::-1]
        rows = self.fast.rows(body, *ids)
        if rows is None or np.bincount(rows, minlength=n).max() != 1:
            return None
        found = self.fast.labels(body, *labels)
        if found is None:
            return None
        result = np.full(n, MISSING, dtype=np.int16)
        result[rows] = found[0]
        return result, found[1]

    def _decode(self, data: bytes, result: Checked) -> str | None:
        """Return the file's text, or None after recording why it is not CSV text."""
        n = len(self.key.ids)
        problem = None
        if len(data) > self.max_bytes:
            problem = (
                f"the file is larger than {self.max_bytes / 1e6:.1f} MB, far larger than a "
                f"valid submission (about {self.expected_bytes / 1e3:.0f} KB for {n:,} test "
                "ids), so it was not read. Write one row per test id and nothing else."
            )
        elif data.startswith(b"PK\x03\x04"):
            problem = (
                "this is a zip archive (an Excel .xlsx file?), not CSV text. Export it as "
                f"CSV, e.g. {PANDAS_HINT}."
            )
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            problem = (
                'this is UTF-16 text ("Unicode text" in spreadsheet programs), not UTF-8. '
                f"Save it as UTF-8 CSV, e.g. {PANDAS_HINT}."
            )
        elif (nul := data.find(b"\0")) >= 0:
            problem = (
                f"binary data, not CSV text (a NUL byte at offset {nul:,}). "
                f"Save the predictions as a .csv text file, e.g. {PANDAS_HINT}."
            )
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
                problem = (
                    f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}). Save the "
                    'file as UTF-8 ("CSV UTF-8" in spreadsheet programs).'
                )
            else:
                if text.strip():
                    return text
                problem = (
                    f"the file is empty. Expected the header id,label and {n:,} rows, one "
                    "per test id (see sample_submission.csv)."
                )
        result.problems.append(problem)
        return None


class _FileCheck:
    """The state of checking one file's rows."""

    def __init__(self, checker: SubmissionChecker, result: Checked) -> None:
        self.checker, self.result = checker, result
        n = len(checker.key.ids)
        self.groups = {kind: _Group(what) for kind, what in ROW_PROBLEMS}
        self.labels = np.full(n, MISSING, dtype=np.int16)
        self.first_line = np.zeros(n, dtype=np.int64)
        self.styles: dict[str, tuple[int, str]] = {}  # style -> its first (line, label)

    def run(self, text: str) -> None:
        # A field may be as long as the file (the file's size is capped before this).
        csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
        rows = csv.reader(io.StringIO(text, newline=""))
        try:
            self._read(rows)
        except csv.Error as exc:
            self.result.problems.append(f"line {rows.line_num}: not readable as CSV ({exc}).")

    def _read(self, rows) -> None:
        header = next((row for row in rows if row), [])
        if header and header[0].strip().lower().startswith("sep="):
            # Excel's "sep=X" line names the separator; the header follows it.
            separator = ",".join(header).strip()[4:]
            if separator != ",":
                self._separator_problem(separator, rows.line_num)
                return
            header = next((row for row in rows if row), [])
        columns, header_is_data = self._header(header, rows.line_num)
        if columns is None:
            return
        self.width = max(len(header), 2)
        self.groups["fields"].what = f"wrong number of fields (expected {self.width})"
        if header_is_data:
            self._row(header, columns, rows.line_num, rows.line_num)
        last = rows.line_num
        for row in rows:
            if row:  # blank lines are tolerated
                self._row(row, columns, last + 1, rows.line_num)
            last = rows.line_num
        self._finish()

    def _separator_problem(self, separator: str, line: int) -> None:
        shown = "tabs" if separator == "\t" else repr(separator)
        self.result.problems.append(
            f"line {line}: fields are separated by {shown}, not commas: this is not a "
            f"comma-separated file. Save it with commas, e.g. {PANDAS_HINT}."
        )

    def _header(self, header: list[str], line: int) -> tuple[tuple[int, int] | None, bool]:
        """Find the id and label columns; report a wrong header."""
        problems = self.result.problems
        if len(header) == 1:
            separator = next((s for s in (";", "\t", "|") if s in header[0]), None)
            if separator is not None:
                self._separator_problem(separator, line)
                return None, False
        names = [h.strip().lower() for h in header]
        shown = shorten(",".join(header))
        if len(names) >= 2 and names[0].lstrip("+-").isdigit():
            problems.append(
                f"line {line}: no header; the first line must be id,label (found the data "
                f"row {shown!r})."
            )
            return (0, 1), True
        if "id" in names and "label" in names:
            for name in ("id", "label"):
                if names.count(name) > 1:
                    problems.append(
                        f"line {line}: the column {name!r} appears {names.count(name)} times; "
                        "a submission has exactly the columns id,label."
                    )
            extra = [i for i, n in enumerate(names) if n not in ("id", "label")]
            if extra:
                problems.append(
                    f"line {line}: extra column(s) "
                    f"{', '.join(repr(shorten(header[i])) for i in extra)}; a submission has "
                    f"exactly the columns id,label{_extra_column_hint(names, extra)}."
                )
            return (names.index("id"), names.index("label")), False
        problems.append(f"line {line}: the header is {shown!r}; expected id,label.")
        return ((0, 1) if len(names) == 2 else None), False

    def _row(self, row: list[str], columns: tuple[int, int], line: int, end: int) -> None:
        """Check one data row, which runs from `line` to `end` (a quoted line break)."""
        self.result.rows += 1
        if end > line and any("\n" in field or "\r" in field for field in row):
            self.groups["multiline"].add(f"line {line} (to line {end})")
            return
        if len(row) != self.width:
            plural = "s" if len(row) != 1 else ""
            self.groups["fields"].add(f"line {line} ({len(row)} field{plural})")
            if len(row) <= max(columns):
                return
        raw_id, raw_label = row[columns[0]].strip(), row[columns[1]].strip()
        position = self._position(raw_id, line)
        label = self._label(raw_label, line)
        if position is None:
            return
        first = self.first_line[position]
        if first:
            self.groups["duplicate"].add(
                f"line {line} (id {shorten(raw_id)}, first on line {first})"
            )
            return
        self.first_line[position] = line
        if label is not None:
            self.labels[position] = label

    def _position(self, raw: str, line: int) -> int | None:
        """The test row of an id, by the id grammar (bundle.canonical_id)."""
        position = self.checker.position.get(raw)
        if position is not None:
            return position
        if not raw:
            self.groups["empty_id"].add(f"line {line}")
            return None
        canonical = canonical_id(raw)
        if canonical is None:
            self.groups["bad_id"].add(f"line {line} ({shorten(raw)!r})")
            return None
        position = self.checker.position.get(canonical)  # leading zeros are tolerated
        if position is None:
            self.groups["unknown_id"].add(f"line {line} (id {shorten(raw)})")
        return position

    def _label(self, raw: str, line: int) -> int | None:
        label = self.checker.names.get(raw.lower())
        style = "names"
        if label is None:
            label, style = self.checker.indices.get(raw.lstrip("0") or raw[:1]), "indices"
        if label is None:
            kind = "empty_label" if not raw else "unknown_label"
            self.groups[kind].add(f"line {line}" if not raw else f"line {line} ({shorten(raw)!r})")
            return None
        self.styles.setdefault(style, (line, raw))
        return label

    def _finish(self) -> None:
        key, result = self.checker.key, self.result
        for kind, group in self.groups.items():
            if group.count:
                extra = {"unknown_label": self.checker.allowed, "unknown_id": self.checker.id_range}
                result.problems.append(" ".join([group.message(), extra.get(kind, "")]).rstrip())
        if len(self.styles) == 2:
            (name_line, name), (index_line, index) = self.styles["names"], self.styles["indices"]
            result.problems.append(
                f"labels mix class names (line {name_line}: {shorten(name)!r}) and indices "
                f"(line {index_line}: {index!r}); use one or the other for the whole file."
            )
        n = len(key.ids)
        if result.rows > n:
            result.problems.append(f"{result.rows:,} data rows, more than the {n:,} test ids.")
        missing = np.flatnonzero(self.first_line == 0)
        if len(missing):
            shown = ", ".join(str(int(key.ids[i])) for i in missing[:EXAMPLES])
            more = ", ..." if len(missing) > EXAMPLES else ""
            one = len(missing) == 1
            result.problems.append(
                f"{len(missing):,} of the {n:,} test ids {'has' if one else 'have'} no row "
                f"({'id' if one else 'ids'} {shown}{more})."
            )
        result.labels = self.labels
        result.style = next(iter(self.styles), "")


class FastTables:
    """What the fast path needs to read ids and labels straight from a file's bytes.

    `rows` and `labels` take the bytes of the file's body and the start and end of one
    field on every line (arrays); they return None as soon as any field is not exactly
    what a valid file holds, so that the row-by-row diagnosis takes over.
    """

    def __init__(self, ids: np.ndarray, classes: tuple[str, ...]) -> None:
        self.id_width = len(str(int(ids.max())))
        self.row_of = np.full(int(ids.max()) + 1, -1, np.int64)  # ids are dense (build)
        self.row_of[ids] = np.arange(len(ids))
        # Label spellings: each class name as written and in lower case, zero-padded to
        # one width, with a number per spelling (`_words`) to look fields up by.
        spellings = {name: i for i, name in enumerate(classes)}
        spellings |= {name.lower(): i for i, name in enumerate(classes)}
        self.name_width = -(-max(map(len, spellings)) // 8) * 8
        padded = np.zeros((len(spellings), self.name_width), np.uint8)
        for row, name in enumerate(spellings):
            padded[row, : len(name)] = list(name.encode("ascii"))
        keys = _words(padded)
        order = np.argsort(keys)
        self.name_keys, self.names = keys[order], padded[order]
        self.name_lengths = np.array([len(name) for name in spellings])[order]
        self.name_classes = np.array(list(spellings.values()), np.int16)[order]
        self.unique_keys = len(np.unique(keys)) == len(keys)
        self.n_classes = len(classes)

    @classmethod
    def build(cls, key: AnswerKey) -> FastTables | None:
        """The tables for `key`, or None where the fast path does not apply: ids that are
        not small integers (a table indexed by id must stay small), or class names that
        are not ASCII, differ only by case, carry surrounding spaces or are digits. Such
        files take the diagnosis."""
        ids = np.asarray(key.ids)
        if not len(ids) or ids.dtype.kind not in "iu" or ids.min() < 0:
            return None
        if int(ids.max()) >= 4 * len(ids) + 1024 or not all(c.isascii() for c in key.classes):
            return None
        lowered = [c.lower() for c in key.classes]
        if len(set(lowered)) < len(lowered) or any(
            not c or c != c.strip() or c.isdigit() for c in key.classes
        ):
            return None  # names the diagnosis reads otherwise (case, spaces, indices)
        return cls(ids.astype(np.int64), key.classes)

    def rows(self, body: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
        """The key row of each id field, or None unless every one is a known canonical id."""
        values = _decimals(body, starts, ends, self.id_width)
        if values is None or values.max() >= len(self.row_of):
            return None
        rows = self.row_of[values]
        return None if rows.min() < 0 else rows

    def labels(
        self, body: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> tuple[np.ndarray, str] | None:
        """(class of each label field, style), or None unless all are class names (as
        written or in lower case) or all are indices."""
        lengths = ends - starts
        if self.unique_keys and lengths.min() >= 1 and lengths.max() <= self.name_width:
            fields = _padded(body, starts, lengths, self.name_width)
            keys = _words(fields)
            found = np.minimum(np.searchsorted(self.name_keys, keys), len(self.name_keys) - 1)
            # Equal bytes and equal lengths: the same text (a NUL in a field cannot pass).
            if (self.name_lengths[found] == lengths).all() and (self.names[found] == fields).all():
                return self.name_classes[found], "names"
        values = _decimals(body, starts, ends, len(str(self.n_classes - 1)))
        if values is not None and values.max() < self.n_classes:
            return values.astype(np.int16), "indices"
        return None


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], np.uint64)


def _words(padded: np.ndarray) -> np.ndarray:
    """One number per row of zero-padded bytes (width a multiple of 8): its 8-byte words
    mixed. Distinct rows may share a number; callers compare the bytes themselves."""
    words = np.ascontiguousarray(padded).view(np.uint64)
    mix = np.resize(_MIX, words.shape[1])
    return (words * mix).sum(axis=1, dtype=np.uint64)


def _padded(body: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """(fields, width) bytes of each field, zero after its end; fields at most `width`."""
    windows = np.lib.stride_tricks.sliding_window_view(
        np.append(body, np.zeros(width, np.uint8)), width
    )
    fields = windows[starts]  # a copy
    np.multiply(fields, np.arange(width) < lengths[:, None], out=fields)
    return fields


def _decimals(
    body: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int
) -> np.ndarray | None:
    """Values of fields that are all canonical decimals (ASCII digits, no leading zero)
    of at most `width` digits, else None."""
    lengths = ends - starts
    if not len(lengths) or lengths.min() < 1 or lengths.max() > width:
        return None
    inside = np.arange(width) < lengths[:, None]
    digits = _padded(body, starts, lengths, width) - np.uint8(ord("0"))  # wraps below '0'
    if (digits[inside] > 9).any():
        return None
    if ((digits[:, 0] == 0) & (lengths > 1)).any():  # a leading zero: not canonical
        return None
    values = np.zeros(len(lengths), np.int64)
    for column in range(width):
        values = np.where(inside[:, column], values * 10 + digits[:, column], values)
    return values
