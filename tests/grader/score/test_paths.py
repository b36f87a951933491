"""The path guards of `grader score` (grader.score.paths): --out and --review that would
destroy or publish something are refused, with nothing touched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT, grader, score_args, score_cli
from tests.scoring_fixtures import (
    small_folder,
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


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(competition, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".board.lock").symlink_to(victim)
    result = score_cli(small_folder(competition, tmp_path), competition, tmp_path / "board")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"Error: --out {tmp_path / 'board'}: cannot create its lock file "
        f"{tmp_path / '.board.lock'} (Too many levels of symbolic links)."
    )
    assert victim.read_text() == "precious\n" and not (tmp_path / "board").exists()


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"scores.csv": "a,b\n", "thesis.tex": "x"},
            "exists and was not written by grader score (it has no .grader-board file)",
        ),
        (
            {".grader-board": "", "scores.csv": "", "notes.txt": "x", "reports/a.txt": "x"},
            "holds files grader score did not write (notes.txt, reports/a.txt), which "
            "replacing it would delete",
        ),
    ],
)
def test_a_folder_is_replaced_only_if_it_holds_nothing_but_the_kits_files(
    competition, tmp_path, files, problem
):
    out = tmp_path / "proj"
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    result = score_cli(small_folder(competition, tmp_path), competition, out)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {out}: {problem}; refusing to replace it. Choose another folder.\n"
    )
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(files)


@pytest.mark.slow
def test_an_out_that_holds_the_current_folder_is_refused(competition, tmp_path):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    assert score_cli(subs, competition, out, "--public-details").returncode == 1
    before = tree_of(tmp_path)
    for where, flag_value in ((out, "."), (out / "reports", "..")):
        result = subprocess.run(
            score_args(subs, competition, Path(flag_value), tmp_path / "review2"),
            cwd=where,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        assert result.returncode == 2
        assert result.stderr == (
            f"Error: --out {out}: is or contains the folder you are in, which replacing --out "
            "would remove; run grader score from another folder.\n"
        )
    assert tree_of(tmp_path) == before


def tree_of(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_the_review_folder_and_history_stay_out_of_the_kaggle_upload(competition, tmp_path):
    import shutil

    copy = tmp_path / "competition"
    shutil.copytree(competition, copy)
    subs = small_folder(competition, tmp_path)
    for flag in ("--review", "--history"):
        target = copy / "public" / ("review" if flag == "--review" else "h.sqlite")
        result = score_cli(subs, copy, tmp_path / "board", flag, str(target))
        assert result.returncode == 2
        assert result.stderr == (
            f"Error: {flag} {target}: lies inside the competition's public folder "
            f"{copy / 'public'}, which is uploaded to Kaggle; keep TA-only files out of it.\n"
        )
    assert not (tmp_path / "board").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--history", "{subs}"],
            "--history {subs}: a folder, not a file. Pass the path of an SQLite file.",
        ),
        (
            ["--history", "{solution}"],
            "--history {solution}: not an SQLite file (file is not a database). Pass the "
            "history.sqlite that grader score wrote, or a path that does not exist yet.",
        ),
        (
            ["--history", "{a.csv}/h.sqlite"],
            "--history {a.csv}/h.sqlite: {a.csv} is a file, not a folder. Choose another path.",
        ),
        (
            ["--out", "{a.csv}/board"],
            "--out {a.csv}/board: {a.csv} is a file, not a folder. Choose another path.",
        ),
        (
            ["--roster", "{bad.csv}", "--baseline", "ann"],
            "--roster {bad.csv}: not UTF-8 text ('utf-8' codec can't decode byte 0xff in "
            'position 23: invalid start byte). Save it as "CSV UTF-8".',
        ),
        (
            ["--baseline", "nobody", "--out", "{new}/deep/board"],
            "--baseline nobody: no scored submission of that participant in {subs}.",
        ),
        (
            ["--history", "{subs}/h.sqlite"],
            "--history {subs}/h.sqlite: lies inside the submissions folder {subs}, where the "
            "next run would take it for a submission. Choose a path outside it.",
        ),
        (
            ["--review", "{tmp}/.board.lock"],
            "--review {tmp}/.board.lock: a name of the kit's own lock and staging files; "
            "choose another name.",
        ),
        (
            ["--roster", "{tmp}/two.csv", "--baseline", "ann"],
            "--roster {tmp}/two.csv line 1: the column 'kaggle_name' appears 2 times; keep one.",
        ),
    ],
)
def test_bad_paths_are_one_line_and_touch_nothing(competition, tmp_path, extra, message):
    subs = small_folder(competition, tmp_path)
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "bad.csv").write_bytes(b"kaggle_name,student_id\n\xff,1\n")
    (tmp_path / "two.csv").write_text("kaggle_name,student_id,kaggle_name\nann,1,ben\n")
    solution = competition / "private" / "solution.csv"
    names = {"subs": subs, "solution": solution, "a.csv": tmp_path / "a.csv"}
    names |= {"bad.csv": tmp_path / "bad.csv", "new": tmp_path / "new", "tmp": tmp_path}

    def fill(text: str) -> str:
        for key, path in names.items():
            text = text.replace("{" + key + "}", str(path))
        return text

    args = [fill(e) for e in extra]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "board")]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = grader(
        "score", str(subs), "--solution", str(solution), "--review", str(tmp_path / "r"), *args
    )
    assert (result.returncode, result.stderr) == (2, f"Error: {fill(message)}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no board, no new folder


def folder_for(path: Path) -> None:
    """Replace a file of the kit's by a user's folder of the same name."""
    path.unlink()
    path.mkdir()
    (path / "thesis.docx").write_text("mine")


@pytest.mark.parametrize(
    ("make", "foreign"),
    [
        (lambda b: folder_for(b / "scores.csv"), "scores.csv"),
        (lambda b: (b / "reports" / "keep.json").mkdir(), "reports/keep.json"),
        (lambda b: (b / "reports" / "notes.json").write_text("{}"), "reports/notes.json"),
    ],
)
def test_what_replacing_would_delete_is_checked_by_kind(competition, tmp_path, make, foreign):
    subs, out = small_folder(competition, tmp_path), tmp_path / "board"
    assert score_cli(subs, competition, out, "--public-details").returncode == 1
    make(out)
    before = tree_of(out)
    result = score_cli(subs, competition, out, "--public-details")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {out}: holds files grader score did not write ({foreign}), which "
        "replacing it would delete; refusing to replace it. Choose another folder.\n"
    )
    assert tree_of(out) == before


def test_a_foreign_file_at_the_lock_path_is_left_alone(competition, tmp_path):
    (tmp_path / ".board.lock").write_text("important data\n")
    result = score_cli(small_folder(competition, tmp_path), competition, tmp_path / "board")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path / 'board'}: {tmp_path / '.board.lock'} exists and is not a "
        "lock file of grader score; it was left as it is. Move it away, or choose another "
        "folder.\n"
    )
    assert (tmp_path / ".board.lock").read_text() == "important data\n"
