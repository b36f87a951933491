"""The path guards of `grader score` (grader.score.paths): --out and --review that would
destroy or publish something are refused, with nothing touched."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import grader, score_cli
from tests.scoring_fixtures import (
    solution_rows,
    write_predictions,
)


def test_out_must_be_a_leaderboard_folder(mixed_folder, competition, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    result = score_cli(mixed_folder, competition, tmp_path / "notes")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path / 'notes'}: exists and was not written by grader score (it "
        "has no .grader-board file); refusing to replace it. Choose another folder.\n"
    )


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for folders and links)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in sorted(root.rglob("*"))
    }


PATH_CASES = {
    # name: (submissions, --out, extra flags, flag, target, problem)
    "out-inside-submissions": (
        "subs",
        "subs/board",
        [],
        "--out",
        "subs/board",
        "lies inside the submissions folder {subs}",
    ),
    "out-is-submissions": (
        "subs",
        "subs",
        [],
        "--out",
        "subs",
        "is the submissions folder ({subs})",
    ),
    "out-contains-submissions": (
        "old/subs",
        "old",
        [],
        "--out",
        "old",
        "contains the submissions folder {old/subs}, which replacing --out would delete",
    ),
    "out-contains-roster": (
        "subs",
        "old",
        ["--roster", "{old/roster.csv}", "--baseline", "a"],
        "--out",
        "old",
        "contains the roster {old/roster.csv}, which replacing --out would delete",
    ),
    "out-contains-history": (
        "subs",
        "old",
        ["--history", "{old/h.sqlite}"],
        "--out",
        "old",
        "contains the history file {old/h.sqlite}, which replacing --out would delete",
    ),
    "out-inside-the-solutions-folder": (
        "subs",
        "competition/private/board",
        [],
        "--out",
        "competition/private/board",
        "lies inside the solution's folder {competition/private}",
    ),
    "review-is-the-solutions-folder": (
        "subs",
        "board",
        ["--review", "{competition/private}"],
        "--review",
        "competition/private",
        "is the solution's folder ({competition/private})",
    ),
    "review-contains-the-solutions-folder": (
        "subs",
        "board",
        ["--review", "{competition}"],
        "--review",
        "competition",
        "contains the solution's folder {competition/private}, which replacing --review would "
        "delete",
    ),
    "review-inside-submissions": (
        "subs",
        "board",
        ["--review", "{subs/r}"],
        "--review",
        "subs/r",
        "lies inside the submissions folder {subs}",
    ),
    "out-contains-review": (
        "subs",
        "board",
        ["--review", "{board/r}"],
        "--out",
        "board",
        "contains the review folder {board/r}, which replacing --out would delete",
    ),
    "out-inside-submissions-through-a-link": (
        "subs",
        "via/board",  # via -> subs: the link is resolved before the check
        [],
        "--out",
        "via/board",
        "lies inside the submissions folder {subs}",
    ),
}


@pytest.mark.parametrize("case", list(PATH_CASES))
def test_paths_that_could_destroy_or_publish_are_refused_untouched(case, competition, tmp_path):
    subs, out, extra, flag, target, problem = PATH_CASES[case]
    root = tmp_path / "w"
    shutil.copytree(competition, root / "competition", symlinks=True)
    rows = solution_rows(competition)
    write_predictions(root / subs / "a.csv", rows, wrong=set())
    (root / "old").mkdir(exist_ok=True)
    (root / "old" / "scores.csv").write_text("an earlier board\n")
    (root / "old" / "roster.csv").write_text("kaggle_name,student_id\na,1\n")
    (root / "via").symlink_to(root / "subs", target_is_directory=True)

    def fill(text: str) -> str:
        return re.sub(r"\{([^}]*)\}", lambda m: str(root / m.group(1)), text)

    before = tree(root)
    result = grader(
        "score",
        str(root / subs),
        "--solution",
        str(root / "competition" / "private" / "solution.csv"),
        "--out",
        str(root / out),
        *(fill(e) for e in extra),
    )
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"Error: {flag} {root / target}: {fill(problem)}. {flag} is replaced as a whole on "
        "every run; choose a folder apart from it.\n"
    )
    assert tree(root) == before  # nothing touched: no lock, no staging, no history


def test_an_out_that_is_a_link_is_refused(mixed_folder, competition, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    result = score_cli(mixed_folder, competition, tmp_path / "link")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path / 'link'}: a symbolic link; pass the folder it points to "
        f"({tmp_path / 'real'}) instead.\n"
    )
    assert list((tmp_path / "real").iterdir()) == []
