"""Paths that cannot destroy: grader score's checks of --out, --review and --history.

The board and the review folder may not be, contain or lie inside the submissions
folder; may not be or contain the solution's folder, the roster or the history
file; the board may not lie inside the solution's folder either (the review folder
does by default: it is the kit's own). The review folder and the history may not
lie inside the bundle's public folder (the Kaggle upload). Links are resolved
first. An existing folder is replaced only if the kit wrote it and it holds
nothing else (fileio.replace_problem). Every check raises UsageError before
anything is touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.board.public import BOARD_FILES, REPORT_START
from grader.board.review import REVIEW_FILES
from grader.bundle.files import CLASSES_TXT
from grader.core.constants import BOARD_MARKER, REVIEW_MARKER
from grader.core.errors import UsageError
from grader.core.fileio import is_internal_name, relation, replace_problem
from grader.grades.history import history_problem
from grader.score.options import ScoreOptions


def _resolved(path: Path) -> Path:
    return path.absolute().resolve()


def check_paths(options: ScoreOptions) -> None:
    """Refuse (UsageError, nothing touched) a board or review folder that could destroy
    or publish what the kit did not create, or a history file that cannot be used; see
    the module docstring."""
    folder = _resolved(options.folder)
    solution_dir = _resolved(options.solution.parent)
    files = [
        ("the roster", options.roster),
        ("the history file", options.history_file),
        ("the notebooks folder", options.notebooks),
    ]
    if options.notebooks is not None and not options.notebooks.is_dir():
        raise UsageError(
            f"--notebooks {options.notebooks}: no such folder. Pull the notebooks first: "
            "grader notebooks pull --roster ROSTER --into DIR."
        )
    public = solution_dir.parent / "public"
    if (public / CLASSES_TXT).is_file():  # the bundle's Kaggle upload: nothing private in it
        for flag, target in (("--review", options.review_dir), ("--history", options.history_file)):
            if relation(_resolved(target), public) in ("is", "inside"):
                raise UsageError(
                    f"{flag} {target}: lies inside the competition's public folder {public}, "
                    "which is uploaded to Kaggle; keep TA-only files out of it."
                )
    check_history(options.history_file)
    if relation(_resolved(options.history_file), folder) == "inside":
        raise UsageError(
            f"--history {options.history_file}: lies inside the submissions folder {folder}, "
            "where the next run would take it for a submission. Choose a path outside it."
        )
    here = Path.cwd().resolve()
    for flag, target in (("--out", options.out), ("--review", options.review_dir)):
        _existing_parent(flag, target)
        place = _resolved(target)
        if is_internal_name(target.name):
            raise UsageError(
                f"{flag} {target}: a name of the kit's own lock and staging files; choose "
                "another name."
            )
        if relation(place, here) in ("is", "contains"):
            raise UsageError(
                f"{flag} {target}: is or contains the folder you are in, which replacing "
                f"{flag} would remove; run grader score from another folder."
            )
        if target.is_symlink():
            raise UsageError(
                f"{flag} {target}: a symbolic link; pass the folder it points to ({place}) instead."
            )
        _refuse_overlap(flag, target, place, "the submissions folder", folder, inside=True)
        _refuse_overlap(
            flag, target, place, "the solution's folder", solution_dir, inside=flag == "--out"
        )
        for what, path in files:
            if path is not None:
                _refuse_overlap(flag, target, place, what, _resolved(path), inside=False)
    out, review = _resolved(options.out), _resolved(options.review_dir)
    _refuse_overlap("--out", options.out, out, "the review folder", review, inside=True)
    check_replaceable("--out", options.out)
    check_replaceable("--review", options.review_dir)


def _existing_parent(flag: str, path: Path) -> Path:
    """The nearest existing folder above `path`; a file there is a UsageError."""
    parent = _resolved(path).parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: {parent} is a file, not a folder. Choose another path.")
    return parent


def check_history(path: Path) -> None:
    """The history file must be an SQLite file grader score can write, or not exist yet."""
    where = f"--history {path}"
    parent = _existing_parent("--history", path)
    if path.is_dir():
        raise UsageError(f"{where}: a folder, not a file. Pass the path of an SQLite file.")
    if path.exists():
        problem = history_problem(path)
        if problem:
            raise UsageError(f"{where}: {problem}")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise UsageError(f"{where}: not writable. Choose a file you can write to.")


def _refuse_overlap(
    flag: str, target: Path, place: Path, what: str, other: Path, inside: bool
) -> None:
    """`target` (resolved: `place`) may not be `other` or contain it, nor (with
    `inside`) lie inside it."""
    how = relation(place, other)
    if how == "is":
        problem = f"is {what} ({other})"
    elif how == "contains":
        problem = f"contains {what} {other}, which replacing {flag} would delete"
    elif inside and how == "inside":
        problem = f"lies inside {what} {other}"
    else:
        return
    raise UsageError(
        f"{flag} {target}: {problem}. {flag} is replaced as a whole on every run; "
        "choose a folder apart from it."
    )


def check_replaceable(flag: str, folder: Path) -> None:
    """An existing board or review folder is replaced only if it holds only what the kit
    wrote there."""
    marker, known = (
        (BOARD_MARKER, BOARD_FILES) if flag == "--out" else (REVIEW_MARKER, REVIEW_FILES)
    )
    problem = replace_problem(folder, marker, known, REPORT_START)
    if problem:
        raise UsageError(
            f"{flag} {folder}: {problem}; refusing to replace it. Choose another folder."
        )
