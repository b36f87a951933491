"""Helpers shared by the tests: the repository root, the `grader` command run as a user
runs it (a real subprocess), and the files a TA hands it (an LMS export zip).

Fixtures live in conftest.py files; data builders in cifar_fixtures.py (images and
bundles), scoring_fixtures.py (a tiny competition and its submissions),
kaggle_standin.py (Kaggle's API on loopback) and grading_reference.py (the rules,
written again).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXPORTED = (2026, 11, 30, 12, 0, 0)  # when the LMS built the zip: every entry's time


def grader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m grader ARGS` with this checkout first on the path; text out, 120 s cap."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def review_of(out: Path) -> Path:
    """The review folder score_cli gives a board: beside it, so tests never share one."""
    return out.with_name(out.name + ".review")


def score_cli(folder: Path, competition: Path, out: Path, *extra: str):
    """`grader score FOLDER --solution <the competition's> --out OUT --review OUT.review
    [extra]` (no --review when extra has one)."""
    review = [] if "--review" in extra else ["--review", str(review_of(out))]
    return grader(
        "score",
        str(folder),
        "--solution",
        str(competition / "private" / "solution.csv"),
        "--out",
        str(out),
        *review,
        *extra,
    )


def when(day: int, hour: int = 12) -> datetime:
    """A submission time in November 2026 (UTC)."""
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


def write_zip(path: Path, entries: list[tuple[str, bytes]], when=EXPORTED) -> Path:
    """A zip as an LMS writes it: every entry stamped with the export's time."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


def tree(folder: Path) -> list[str]:
    """Every file under folder, relative to it, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def score_args(subs: Path, competition: Path, out: Path, review: Path) -> list[str]:
    """The command line of `grader score` for a subprocess."""
    solution = str(competition / "private" / "solution.csv")
    command = [sys.executable, "-m", "grader", "score", str(subs), "--solution", solution]
    command += ["--out", str(out), "--review", str(review)]
    return command


def small(bundle: Path, out: Path, **changes):
    """The settings of a one-epoch resnet18 run on 200 images at 32 px: the launch and
    notebook tests' training, where the path matters and not the accuracy."""
    from baseline.config import TrainConfig

    return TrainConfig(
        data=str(bundle),
        out=str(out),
        model="resnet18",
        weights="none",
        image_size=32,
        train_limit=200,
        epochs=1,
        batch_size=32,
        **changes,
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows as dicts by header (UTF-8, as the grader writes them)."""
    import csv

    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
