"""`grader notebooks pull`: each student's shared Kaggle notebook and what its run wrote.

For every roster student with a `kaggle_notebook` (grader.folder.roster), the
official kaggle client pulls the notebook's latest saved version with its
metadata (`kaggle kernels pull -m`) into `DIR/<participant>/code/`, and the
files that version's run wrote (`kaggle kernels output`: submission.csv, the
kit's run/run.json, ...) into `DIR/<participant>/output/`. A student's folder
is built in a hidden staging folder beside it and renamed into place once both
parts are complete (grader.core.fileio.build_folder_atomically): an error,
Ctrl-C or a kill leaves the previous pull, or nothing, never half of one. A
folder is replaced only if this command wrote it (its marker file).

Per student, one status: `pulled`; `no output` (the saved version has no
output files: saved without running, or its run failed); `not shared` (Kaggle
answered 403: the notebook is private and not shared with the TA's account);
`not found` (404); `error` (anything else, with Kaggle's message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from grader.core.constants import DEFAULT_NOTEBOOKS
from grader.core.errors import GraderError, UsageError
from grader.core.fileio import build_folder_atomically, exclusive_lock
from grader.folder.roster import Student, read_roster
from grader.kaggle import KAGGLE_TOKEN_HELP, client, credentials_found

MARKER = ".grader-notebook"  # in every folder this command writes
PullStatus = Literal["pulled", "no output", "not shared", "not found", "error"]
STATUSES: tuple[PullStatus, ...] = get_args(PullStatus)
LOG_SUFFIX = ".log"  # the client saves the run's log as <slug>.log beside the outputs


@dataclass(frozen=True)
class Pulled:
    """What became of one student's notebook."""

    participant: str
    notebook: str  # owner/slug
    status: PullStatus
    detail: str = ""  # the reason, or what was written
    files: int = 0  # output files (the run's log aside)


@dataclass
class PullRun:
    """Every student's outcome, and the roster students who name no notebook."""

    into: Path
    pulled: list[Pulled] = field(default_factory=list)
    without_notebook: list[Student] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every named notebook was pulled with its output, else 1 (130: Ctrl-C)."""
        if self.interrupted:
            return 130
        return 0 if all(p.status == "pulled" for p in self.pulled) else 1


def pull_notebooks(
    roster_path: Path,
    into: Path = Path(DEFAULT_NOTEBOOKS),
    warn: Callable[[str], None] = lambda message: None,
    say: Callable[[str], None] = lambda line: None,
) -> PullRun:
    """Pull the notebook of every roster student who names one; `say` gets one line per
    student as it is done. Raises UsageError (nothing pulled) for a bad roster, `--into`
    or missing credentials."""
    roster = read_roster(roster_path, warn)
    if into.exists() and not into.is_dir():
        raise UsageError(f"--into {into}: a file, not a folder. Choose a folder.")
    if not credentials_found():
        raise UsageError(f"no Kaggle credentials found: {KAGGLE_TOKEN_HELP}")
    run = PullRun(into)
    run.without_notebook = [s for s in roster.students if not s.kaggle_notebook]
    named = [s for s in roster.students if s.kaggle_notebook]
    if not named:
        return run
    api = client()
    into.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(into, "--into", command="grader notebooks pull"):
        try:
            for student in named:
                outcome = pull_one(api, student.participant, student.kaggle_notebook, into)
                run.pulled.append(outcome)
                say(outcome_line(outcome))
        except KeyboardInterrupt:
            run.interrupted = True
    return run


def pull_one(api, participant: str, notebook: str, into: Path) -> Pulled:
    """Pull one notebook into `into/<participant>/` (code/ and output/), all or nothing."""
    import requests  # installed with kaggle

    target = into / participant
    found: dict[str, int] = {}

    def build(staging: Path) -> None:
        (staging / MARKER).write_text(f"{notebook}\n", encoding="utf-8")
        api.kernels_pull(notebook, str(staging / "code"), metadata=True, quiet=True)
        files, _ = api.kernels_output(notebook, str(staging / "output"), force=True, quiet=True)
        found["files"] = sum(1 for f in files if not f.endswith(LOG_SUFFIX))

    try:
        build_folder_atomically(target, build, lambda: _check_replaceable(target))
    except requests.exceptions.HTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return _refused(participant, notebook, status, str(exc))
    except ValueError as exc:  # the client turns a 401/403 of the output listing into this
        if "denied" in str(exc) or "private" in str(exc):
            return _refused(participant, notebook, 403, str(exc))
        return Pulled(participant=participant, notebook=notebook, status="error", detail=f"{exc}")
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise GraderError(
            f"could not reach Kaggle ({type(exc).__name__}) while pulling {notebook}. Check "
            "the internet connection and run the command again: finished students are kept."
        ) from None
    files = found["files"]
    if files == 0:
        return Pulled(
            participant=participant,
            notebook=notebook,
            status="no output",
            detail="its saved version has no output files (saved without running, or the run "
            "failed): ask for Save Version > Save & Run All",
        )
    return Pulled(
        participant=participant,
        notebook=notebook,
        status="pulled",
        detail=f"code and {files} output file(s)",
        files=files,
    )


def _refused(participant: str, notebook: str, status: int | None, message: str) -> Pulled:
    if status in (401, 403):
        return Pulled(
            participant=participant,
            notebook=notebook,
            status="not shared",
            detail="Kaggle refused it (403): the notebook is private and not shared with this "
            "account; ask the student to add it as a collaborator (Share > Add collaborators)",
        )
    if status == 404:
        return Pulled(
            participant=participant,
            notebook=notebook,
            status="not found",
            detail="Kaggle has no such notebook (404): check the roster's kaggle_notebook",
        )
    return Pulled(
        participant=participant,
        notebook=notebook,
        status="error",
        detail=f"Kaggle refused it ({message})",
    )


def _check_replaceable(folder: Path) -> None:
    """A student's folder is replaced only if this command wrote it."""
    if folder.is_symlink() or not folder.is_dir():
        raise UsageError(f"{folder}: exists and is not a folder; refusing to replace it.")
    if any(folder.iterdir()) and not (folder / MARKER).is_file():
        raise UsageError(
            f"{folder}: exists and was not written by grader notebooks pull (no {MARKER} "
            "file); refusing to replace it. Move it away or choose another --into."
        )


def outcome_line(p: Pulled) -> str:
    """One line per student for the terminal."""
    from grader.core.text import terminal_text

    return f"  {terminal_text(p.participant, 30)}: {p.status} ({p.notebook}): {p.detail}"


def pull_summary(run: PullRun) -> str:
    """The counts, the students without a notebook, and where the files are."""
    counts = {s: sum(1 for p in run.pulled if p.status == s) for s in STATUSES}
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    lines = [
        f"Notebooks: {', '.join(parts) or 'none named'}"
        + (
            f"; {len(run.without_notebook)} roster student(s) name no notebook"
            if run.without_notebook
            else ""
        )
        + f". Pulled into {run.into}/."
    ]
    if run.without_notebook:
        shown = ", ".join(s.student_id for s in run.without_notebook[:10])
        more = ", ..." if len(run.without_notebook) > 10 else ""
        lines.append(f"  Without kaggle_notebook in the roster: {shown}{more}")
    if run.interrupted:
        lines.append(
            "Interrupted: the students listed above were pulled; run it again for the rest."
        )
    return "\n".join(lines)
