"""The submissions folder's naming rules, shared by `grader score` and `grader collect`.

A file's submission time is a timestamp at the start of its name, read as UTC:
`2026-11-20T14-03-05_...`, `2026-11-20_1403_...` or `20261120-140305...`.
For a file directly in the submissions folder, only when a name follows it
(`202001010000.csv` is the participant `202001010000`, not a time).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

SELECTED_SUFFIX = ".selected.csv"
# What students upload for a CSV file: a .csv, read; a .csv.txt (an editor or browser
# added .txt), read as CSV with a note; spreadsheets that are no CSV file, listed
# with the fix (docs/grading-rules.md 2.2). grader collect copies all of them.
CSV_TXT_NOTE = (
    "a .csv.txt file (an editor or browser added .txt): read as CSV; submit files named .csv."
)
_WORKBOOK = (
    "a spreadsheet workbook ({}), not a CSV file; not scored. Open it and save it as CSV "
    "UTF-8 (comma-separated), then submit that file."
)
NOT_CSV = {
    ".xlsx": _WORKBOOK.format(".xlsx"),
    ".xls": _WORKBOOK.format(".xls"),
    ".ods": _WORKBOOK.format(".ods"),
    ".tsv": (
        "a tab-separated file (.tsv), not a comma-separated CSV file; not scored. Save it as "
        "CSV (comma-separated), then submit that file."
    ),
}
UPLOAD_SUFFIXES = (".csv", ".csv.txt", *NOT_CSV)


def upload_suffix(name: str) -> str:
    """The suffix of a file a student uploads as their CSV (`.csv`, `.csv.txt`, `.tsv`,
    `.xlsx`, `.xls`, `.ods`, in lower case), '' for any other file."""
    lower = name.lower()
    return next((suffix for suffix in UPLOAD_SUFFIXES if lower.endswith(suffix)), "")


_TIMESTAMP = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[-:h]?(\d{2})(?:[-:m]?(\d{2}))?(?!\d)"
)


def participant_of(file_name: str) -> str:
    """The participant of a top-level file: its name less timestamp, .selected and its
    upload suffix (.csv, .csv.txt, ...: `upload_suffix`); the name itself when nothing is
    left."""
    stem = file_name[: len(file_name) - len(upload_suffix(file_name))]
    if stem.lower().endswith(".selected"):
        stem = stem[: -len(".selected")]
    return after_timestamp(stem) or stem


def participant_named(name: str, is_folder: bool = False) -> str:
    """The participant a top-level entry of the submissions folder names (grader score's
    rule, which grader collect follows): a folder, its name; a file a student uploads as
    a CSV (`upload_suffix`), its name less timestamp, .selected and suffix; any other
    file, its whole name."""
    if is_folder or not upload_suffix(name):
        return name
    return participant_of(name) or name


def after_timestamp(stem: str) -> str:
    """What follows a leading timestamp and its separator ('' when there is none)."""
    match = _TIMESTAMP.match(stem)
    if match and stem[match.end() : match.end() + 1] in ("_", "-", " "):
        return stem[match.end() + 1 :]
    return ""


def time_in_name(file_name: str, top: bool = False) -> datetime | None:
    """The UTC time a file's name starts with (None without one). A top-level file's
    name gives a time only when a participant name follows it."""
    match = _TIMESTAMP.match(file_name)
    stem = file_name[: len(file_name) - len(upload_suffix(file_name))]
    if match and top and not after_timestamp(stem):
        return None
    if not match:
        return None
    parts = [int(p) for p in match.groups(default="0")]
    try:
        return datetime(*parts, tzinfo=timezone.utc)
    except ValueError:
        return None  # not a real date


def timestamp_text(moment: datetime) -> str:
    """The timestamp `grader collect` puts at the start of a file name (UTC)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
