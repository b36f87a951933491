"""`collected.csv`: what `grader collect` learned about each file it copied.

It lives at the top of the submissions folder, and `grader score` reads it when
present (and never takes it for a submission: a top-level `collected.csv`
whose first line is the manifest's header is the manifest). One row per
collected file:

* `file`: the file's path in the submissions folder (`<participant>/<time>_<name>.csv`);
* `participant`, `student_id` (empty without a roster);
* `submitted_at`: ISO 8601 UTC; the export's time when `time_known` is `no`;
* `time_known`: `yes` when the LMS gave the submission time (Blackboard), `no` otherwise;
* `lms_late`: `yes` or `no` where the LMS marks late files (Canvas), empty where it
  does not;
* `format`, `export` (the export's file name), `entry` (the path inside it),
  `original_name` (the student's own file name), `sha256`, `collected_at`.

Cells go through the kit's one formula guard (grader.core.text.csv_cell: a cell
that a spreadsheet would run as a formula, or that starts with an apostrophe, gets
a leading apostrophe), which reading removes, so every name survives the round
trip.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from grader.core.text import csv_cell, csv_uncell

MANIFEST_NAME = "collected.csv"


@dataclass(frozen=True)
class Row:
    """One collected file."""

    file: str
    participant: str
    student_id: str
    submitted_at: str
    time_known: str  # yes | no
    lms_late: str  # yes | no | ''
    format: str
    export: str
    entry: str
    original_name: str
    sha256: str
    collected_at: str

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.submitted_at)


COLUMNS = [f.name for f in fields(Row)]
HEADER = ",".join(COLUMNS)


class ManifestError(ValueError):
    """A manifest that cannot be read: the message names the line."""


def manifest_text(rows: list[Row]) -> str:
    """The whole file: the header, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([csv_cell(getattr(r, c)) for c in COLUMNS] for r in rows)
    return buffer.getvalue()


def is_manifest(path: Path) -> bool:
    """Whether `path` is a manifest (its first line is the header), not a submission."""
    try:
        with path.open("rb") as f:
            first = f.readline(len(HEADER) + 8)
    except OSError:
        return False
    return first.decode("utf-8", "replace").strip().lstrip("\ufeff") == HEADER


def read_manifest(path: Path) -> list[Row]:
    """Every row of a manifest; ManifestError names the line that cannot be read."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    if next(reader, None) != COLUMNS:
        raise ManifestError(f"line 1: the header is not {HEADER}")
    rows = []
    try:
        for cells in reader:
            if len(cells) != len(COLUMNS):
                raise ManifestError(
                    f"line {reader.line_num}: {len(cells)} cells, expected {len(COLUMNS)}"
                )
            row = Row(**{c: csv_uncell(v) for c, v in zip(COLUMNS, cells, strict=True)})
            try:
                moment = row.moment
                moment.astimezone(timezone.utc)  # a time that UTC cannot hold is no time
            except (ValueError, OverflowError):
                raise ManifestError(
                    f"line {reader.line_num}: submitted_at {row.submitted_at!r} is not an ISO time"
                ) from None
            if moment.tzinfo is None or row.time_known not in ("yes", "no"):
                raise ManifestError(
                    f"line {reader.line_num}: submitted_at needs a timezone and time_known "
                    "must be yes or no"
                )
            rows.append(row)
    except csv.Error as exc:
        raise ManifestError(f"line {reader.line_num}: {exc}") from None
    return rows
