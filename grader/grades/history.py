"""Every scoring, kept in an SQLite file: what was scored, when, with which grader.

One row per (file content, participant, file name, solution, grader version):
re-scoring the same files adds nothing (INSERT OR IGNORE on that key), and
two `grader score` runs at once are safe (SQLite's write lock, WAL journal,
a busy timeout, one transaction per run). The default file sits beside the
hidden solution (competition/private/history.sqlite): it holds private
scores, so a new file is created readable by its owner only (0600; SQLite
gives its -wal and -shm files the same mode). Files whose names break the
identity rule (grader.core.names) belong to no participant and are not recorded.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from grader import __version__
from grader.core.text import percent, table
from grader.score.entry import Entry, entry_value

SCHEMA = """
CREATE TABLE IF NOT EXISTS scorings (
    id INTEGER PRIMARY KEY,
    file_sha256 TEXT NOT NULL,
    participant TEXT NOT NULL,
    file TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    public_accuracy REAL, public_macro_f1 REAL,
    private_accuracy REAL, private_macro_f1 REAL,
    all_accuracy REAL, all_macro_f1 REAL,
    grader_version TEXT NOT NULL,
    solution_sha256 TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (file_sha256, participant, file, solution_sha256, grader_version)
)
"""
SCORE_COLUMNS = (
    "public_accuracy",
    "public_macro_f1",
    "private_accuracy",
    "private_macro_f1",
    "all_accuracy",
    "all_macro_f1",
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a history database, ready for concurrent writers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # private from its creation
    db = sqlite3.connect(path, timeout=60)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(SCHEMA)
    return db


def _read_only(path: Path, immutable: bool = False) -> sqlite3.Connection:
    """A connection that can neither create nor change the file; `immutable` also
    leaves its -wal and -shm files alone (and may miss what only the WAL holds)."""
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"{path.absolute().as_uri()}?{flags}", uri=True, timeout=60)


def history_problem(path: Path) -> str:
    """Why an existing file is not a history grader score can use ('' when it is)."""
    try:
        db = _read_only(path, immutable=True)  # a check touches nothing
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return (
            f"not an SQLite file ({exc}). Pass the history.sqlite that grader score wrote, "
            "or a path that does not exist yet."
        )
    if tables and "scorings" not in tables:
        return (
            "an SQLite file, but not a history of grader score (no scorings table). Pass "
            "another path."
        )
    return ""


def record(path: Path, entries: list[Entry], solution_sha256: str) -> int:
    """Store a scoring run; return how many rows were new."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    for e in (e for e in entries if e.identified):
        scores = [
            entry_value(e, s, m) if e.metrics else None
            for s in ("public", "private", "all")
            for m in ("accuracy", "macro_f1")
        ]
        rows.append(
            (
                e.sha256,
                e.participant,
                e.file,
                e.submitted_at.isoformat(),
                e.status,
                e.error,
                *scores,
                __version__,
                solution_sha256,
                now,
            )
        )
    db = connect(path)
    try:
        with db:  # one transaction: all of this run, or nothing
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO scorings (file_sha256, participant, file, submitted_at,"
                " status, error, " + ", ".join(SCORE_COLUMNS) + ", grader_version,"
                " solution_sha256, recorded_at) VALUES (" + ", ".join("?" * 15) + ")",
                rows,
            )
            return db.total_changes - before
    finally:
        db.close()


def participant_history(path: Path, participant: str) -> list[dict]:
    """A participant's scorings in submission order (latest grader version per file)."""
    if not path.is_file():
        return []
    db = _read_only(path)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT * FROM scorings WHERE participant = ? ORDER BY submitted_at, file, id",
            (participant,),
        ).fetchall()
    finally:
        db.close()
    latest: dict[tuple[str, str], dict] = {}
    for row in rows:  # ids grow: a later scoring of the same file replaces an earlier one
        latest[(row["file"], row["file_sha256"])] = dict(row)
    return sorted(latest.values(), key=lambda r: (r["submitted_at"], r["file"]))


def history_table(rows: list[dict], private: bool) -> str:
    """The participant's progress: each file, its public score and the best so far."""
    if not rows:
        return "No scorings recorded."
    heads = ["submitted (UTC)", "public acc", "best so far", *["private acc"] * private]
    body = []
    best = None
    for row in rows:
        value = row["public_accuracy"]
        if value is not None:
            best = value if best is None else max(best, value)
        body.append(
            [row["submitted_at"][:19].replace("T", " "), _pct(value), _pct(best)]
            + [_pct(row["private_accuracy"])] * private
            + [row["status"], row["file"]]
        )
    return table([*heads, "status", "file"], body, numeric={1, 2, 3} if private else {1, 2})


def _pct(value: float | None) -> str:
    return "" if value is None else percent(value)
