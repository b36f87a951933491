"""Scoring fixtures shared by the grader's tests: a tiny competition and a hostile
submissions folder (good, bad, empty, binary, nested and hostile names, a symlink)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from grader.bundle.prepare import prepare


@pytest.fixture(scope="module")
def competition(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("score") / "competition"
    prepare(str(sources["imagefolder-zip"]), out, seed=3, progress=False)
    return out


def solution_rows(competition: Path) -> list[dict[str, str]]:
    with (competition / "private" / "solution.csv").open() as f:
        return list(csv.DictReader(f))


def write_predictions(path: Path, rows: list[dict[str, str]], wrong: set[int]) -> None:
    """A valid submission with the given test ids predicted wrong ('cat' <-> 'dog')."""
    lines = ["id,label"]
    for row in rows:
        label = row["label"]
        if int(row["id"]) in wrong:
            label = "dog" if label == "cat" else "cat"
        lines.append(f"{row['id']},{label}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


HOSTILE_FORMULA = '=HYPERLINK("evil.test","win")'
HOSTILE_HTML = "<img src=x onerror=alert(1)>"


@pytest.fixture
def mixed_folder(competition, tmp_path) -> Path:
    rows = solution_rows(competition)
    public = [int(r["id"]) for r in rows if r["Usage"] == "Public"]
    private = [int(r["id"]) for r in rows if r["Usage"] == "Private"]
    subs = tmp_path / "submissions"
    write_predictions(subs / "alice.csv", rows, wrong=set())
    write_predictions(subs / "bob" / "2026-11-20T10-00-00_first.csv", rows, wrong=set(public[:3]))
    write_predictions(
        subs / "bob" / "2026-11-21T10-00-00_second.csv",
        rows,
        wrong=set(public[:1]) | set(private[:10]),
    )
    write_predictions(subs / f"{HOSTILE_FORMULA}.csv", rows, wrong=set(public[:3] + private[:2]))
    write_predictions(subs / f"{HOSTILE_HTML}.csv", rows, wrong=set(public[:6] + private[:5]))
    (subs / "carol.csv").write_text("")
    (subs / "dave.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (subs / "erin").mkdir()
    (subs / "erin" / "try.csv").write_text("id;label\n0;cat\n")
    outside = tmp_path / "outside.csv"
    write_predictions(outside, rows, wrong=set())
    (subs / "mallory.csv").symlink_to(outside)
    os.utime(subs / "alice.csv", (1_790_000_000, 1_790_000_000))
    for name in (f"{HOSTILE_FORMULA}.csv", f"{HOSTILE_HTML}.csv"):
        os.utime(subs / name, (1_780_000_000, 1_780_000_000))
    return subs


def small_folder(competition: Path, root: Path) -> Path:
    rows = solution_rows(competition)
    subs = root / "subs"
    write_predictions(subs / "ann.csv", rows, wrong=set())
    write_predictions(subs / "ben.csv", rows, wrong={int(r["id"]) for r in rows[:9]})
    (subs / "cy.csv").write_text("id;label\n")
    return subs
