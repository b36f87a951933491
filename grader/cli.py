"""The `grader` command line: a thin layer over the library.

The library raises typed errors (grader.core.errors); this module prints them as
one `Error: ...` line and picks the exit code: 0 success, 1 the input was
judged bad, 2 a usage error (docs/architecture.md, "Exit codes").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from grader import __version__
from grader.collect.options import default as collect_default
from grader.core.constants import (
    CACHE_NAME,
    DEFAULT_BUNDLE,
    DEFAULT_HISTORY,
    DEFAULT_NOTEBOOKS,
    DEFAULT_PUBLIC,
    DEFAULT_PUBLIC_FRACTION,
    GRADEBOOK_FORMATS,
    HISTORY_NAME,
    LMS_FORMATS,
    METRICS,
    PLAUSIBLE,
    REVIEW_NAME,
    TORCHVISION,
)
from grader.core.errors import BundleError, GraderError, UsageError
from grader.score.options import default as score_default


def get_parser() -> argparse.ArgumentParser:
    """Build the argument parser (tests and docs reuse it)."""
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Run a CIFAR-10 class competition on Kaggle: build the competition files, "
        "check and score submissions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_prepare(commands)
    _add_validate(commands)
    _add_collect(commands)
    _add_score(commands)
    _add_submit(commands)
    _add_leaderboard(commands)
    _add_notebooks(commands)
    _add_history(commands)
    return parser


def _add_prepare(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "prepare",
        help="build the competition bundle (public files for Kaggle, hidden test labels)",
        description="Turn CIFAR-10 into a Kaggle class competition: OUT/public/ holds the "
        "files for Kaggle's Data tab, OUT/private/ the hidden test labels with their "
        "Public/Private split (keep it to yourself).",
        epilog="Sources: 'torchvision' downloads the official archive (163 MB) into "
        "--cache-dir; offline, give a path: cifar-10-python.tar.gz, its extracted "
        "cifar-10-batches-py/ folder, or an ImageFolder tree train/<class>/*, "
        "test/<class>/* as a folder or .zip.",
    )
    p.add_argument(
        "--source",
        default=TORCHVISION,
        help=f"'{TORCHVISION}' or the path of a local copy (default: {TORCHVISION})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_BUNDLE),
        help=f"folder to create (default: {DEFAULT_BUNDLE})",
    )
    p.add_argument(
        "--public-fraction",
        type=float,
        default=DEFAULT_PUBLIC_FRACTION,
        metavar="F",
        help="share of CIFAR-10's test images on the public leaderboard, stratified by "
        f"class; --fresh images are all Private (default: {DEFAULT_PUBLIC_FRACTION})",
    )
    p.add_argument(
        "--fresh",
        default=None,
        metavar="PATH",
        help="test images that are not in CIFAR-10, added to the Private split so that a "
        "lookup of CIFAR-10's public labels shows (grader score's fresh-image check): "
        "CIFAR-10.1's cifar10.1_v6_data.npy (its _labels.npy beside it), or a folder or .zip "
        "of <class>/<image> 32x32 images; their ids go to OUT/private/fresh.csv, see "
        "docs/fresh-images.md (default: none)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="fixed seed for a reproducible bundle; anyone can rebuild its hidden "
        "split, so use it for tests and demos only (default: a secret seed from "
        "the OS, kept in OUT/private/manifest.json)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace OUT if it is an existing bundle (default: refuse)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where --source torchvision keeps the download; a torchvision data "
        f"root works too (default: ~/.cache/{CACHE_NAME}, or $XDG_CACHE_HOME/{CACHE_NAME} "
        "when that is set)",
    )
    p.set_defaults(run=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from grader.bundle.prepare import prepare

    start = time.perf_counter()
    manifest = prepare(
        args.source,
        args.out,
        public_fraction=args.public_fraction,
        seed=args.seed,
        force=args.force,
        cache_dir=args.cache_dir,
        warn=_warn,
        fresh=args.fresh,
    )
    counts = manifest["counts"]
    fresh = (
        f" ({counts['fresh']:,} of them fresh, all Private; their ids are in "
        f"{args.out / 'private' / 'fresh.csv'})"
        if "fresh" in counts
        else ""
    )
    print(
        f"Built {args.out}/ in {time.perf_counter() - start:.1f} s: "
        f"{counts['train']:,} train and {counts['test']:,} test images{fresh}, "
        f"Public {counts['public']:,} / Private {counts['private']:,} (stratified by class).\n"
        f"  Upload {args.out / 'public'}/ to the competition's Data tab.\n"
        f"  Keep {args.out / 'private'}/ to yourself: solution.csv holds the hidden labels."
    )
    return 0


def _add_validate(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "validate",
        help="check a submission CSV against the public files (exit 0 valid, 1 invalid)",
        description="Check a submission before sending it: header id,label, one row per "
        "test id, known labels. Every problem is listed at once, with line numbers. Needs "
        "only the competition's public files.",
        epilog="Exit status: 0 valid, 1 invalid, 2 usage error (a missing file or folder).",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the submission CSV (default: none)")
    p.add_argument(
        "--competition",
        type=Path,
        default=Path(DEFAULT_PUBLIC),
        metavar="DIR",
        help="the competition's public files, with test.csv and classes.txt "
        f"(default: {DEFAULT_PUBLIC})",
    )
    p.set_defaults(run=_run_validate)


def _check_submission(path: Path, public: Path, flag: str):
    """Validate a student's file against the public files; usage errors say which flag."""
    from grader.bundle.answers import load_public_key
    from grader.bundle.submission import SubmissionChecker

    if path.is_dir():
        raise UsageError(f"{path}: a folder, not a file. Pass the path of your submission CSV.")
    if not path.is_file():
        raise UsageError(f"{path}: no such file. Pass the path of your submission CSV.")
    try:
        key = load_public_key(public)
    except BundleError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    try:
        return SubmissionChecker(key).check_file(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc}).") from None


def _print_problems(path: Path, problems: list[str]) -> None:
    from grader.core.text import terminal_text

    shown = terminal_text(str(path))
    print(f"{shown}: invalid, {len(problems)} problem{'s' * (len(problems) > 1)}:")
    for number, problem in enumerate(problems, start=1):
        print(f"  {number}. {problem}")


def _run_validate(args: argparse.Namespace) -> int:
    import numpy as np

    from grader.core.text import terminal_text

    checked = _check_submission(args.file, args.competition, "--competition")
    if not checked.valid:
        _print_problems(args.file, checked.problems)
        return 1
    counts = np.bincount(checked.labels, minlength=len(checked.classes))
    style = "class names" if checked.style == "names" else "class indices"
    print(
        f"{terminal_text(str(args.file))}: valid. {checked.rows:,} rows, one per test id; "
        "labels written as "
        f"{style}.\nPredicted: "
        + ", ".join(f"{name} {n:,}" for name, n in zip(checked.classes, counts, strict=True))
    )
    return 0


def _add_collect(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "collect",
        help="copy the class's CSV files from LMS exports into the submissions folder",
        description='Read LMS "download all submissions" exports (Canvas, Moodle, '
        "Blackboard, GitHub Classroom: .zip files or folders), tell the LMS from the file "
        "names, match each file to a roster student and copy (never move) every CSV to "
        "DIR/<participant>/<YYYY-MM-DDTHH-MM-SS>_<original name>.csv, the layout grader "
        "score reads; DIR/collected.csv records each file's source, student, time and "
        "the LMS's late mark. Running it again with the same or a later export adds only "
        "new files.",
        epilog="Exit status: 0 every CSV placed (or already there), 1 some file refused or "
        "matched to no student (the rest are copied), 2 usage error (nothing copied) or "
        "DIR/collected.csv could not be written (the copies made stay; the next run lists "
        "them), 130 interrupted by Ctrl-C (the copies made are listed in collected.csv). "
        "Naming rules per LMS and the roster's columns: docs/collect.md.",
    )
    p.add_argument(
        "exports",
        type=Path,
        nargs="+",
        metavar="EXPORT",
        help="the LMS's export(s): .zip files as downloaded, or folders (default: none)",
    )
    p.add_argument(
        "--into",
        type=Path,
        default=collect_default("into"),
        metavar="DIR",
        help="the submissions folder to copy into, created if needed; files already there "
        f"are never replaced (default: {collect_default('into')})",
    )
    p.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="CSV",
        help="student_id plus the ids the LMS writes (canvas_id, canvas_anon_id, moodle_id, "
        "name, username, github) and kaggle_name, which names the folder (else student_id); "
        "or the LMS's own gradebook export (docs/grades-to-lms.md); without it each file is "
        "named by the export's own name for the student (default: none)",
    )
    p.add_argument(
        "--format",
        choices=["auto", *LMS_FORMATS],
        default=collect_default("format"),
        help="the export's naming; auto tells it from the names and says what it found "
        f"(default: {collect_default('format')})",
    )
    p.add_argument(
        "--timezone",
        default=collect_default("timezone"),
        metavar="TZ",
        help="the timezone of Blackboard's attempt times and of zip entries' times: local, "
        "UTC, a name such as Europe/Berlin or an offset such as +01:00 (default: "
        f"{collect_default('timezone')}, this machine's)",
    )
    p.add_argument(
        "--max-size",
        type=float,
        default=collect_default("max_size"),
        metavar="MB",
        help="refuse a CSV file larger than this; a 10,000-row submission is about 0.15 MB "
        f"(default: {collect_default('max_size')})",
    )
    p.set_defaults(run=_run_collect)


def _run_collect(args: argparse.Namespace) -> int:
    from grader.collect.options import CollectOptions
    from grader.collect.run import collect, collect_summary

    options = CollectOptions(
        exports=tuple(args.exports),
        into=args.into,
        roster=args.roster,
        format=args.format,
        timezone=args.timezone,
        max_size=args.max_size,
    )
    result = collect(options, warn=_warn)
    print(collect_summary(result))
    if result.manifest_error:
        print(f"Error: {result.manifest_error}", file=sys.stderr)
    return 130 if result.interrupted else result.exit_code


def _add_leaderboard(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "leaderboard",
        help="download the competition's Kaggle leaderboard (for grader score "
        "--kaggle-leaderboard)",
        description="Kaggle's API gives a host the leaderboard, never participants' files: "
        "download it with the official kaggle client, then check it against the files "
        "handed in with grader score --kaggle-leaderboard FILE.",
        epilog="Exit status: 0 downloaded, 1 refused by Kaggle or unreadable, 2 usage error "
        "(missing credentials).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = actions.add_parser(
        "download",
        help="save the leaderboard zip (default: none)",
        description="Save Kaggle's leaderboard of the competition as OUT/<SLUG>.zip (a CSV "
        "inside; credentials as for grader submit) and say what it holds.",
    )
    d.add_argument(
        "--competition",
        required=True,
        metavar="SLUG",
        help="the competition's name in its address, kaggle.com/competitions/SLUG "
        "(default: none, required)",
    )
    d.add_argument(
        "--out",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="the folder to save <SLUG>.zip in; an earlier download of that name is "
        "replaced once the new one is complete (default: the current folder)",
    )
    d.set_defaults(run=_run_leaderboard_download)


def _run_leaderboard_download(args: argparse.Namespace) -> int:
    from grader.grades.reconcile import read_kaggle_board
    from grader.kaggle import download_leaderboard

    path = download_leaderboard(args.competition, args.out)
    board = read_kaggle_board(path, flag="downloaded")
    print(
        f"Saved {path}: {len(board.teams)} team(s), {board.layout} column layout. Check it "
        f"against the files handed in: grader score SUBMISSIONS_DIR --kaggle-leaderboard {path}"
    )
    return 0


def _add_notebooks(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "notebooks",
        help="pull the students' shared Kaggle notebooks and their outputs (for grader score "
        "--notebooks)",
        description="Every student runs their notebook on Kaggle and shares it with the TA's "
        "account. Pull each one's latest saved version (code and metadata) and the files its "
        "run wrote, with the official kaggle client; grader score --notebooks DIR then says "
        "whether each graded file is one the notebook wrote.",
        epilog="Exit status: 0 every named notebook pulled with its output, 1 some notebook "
        "not shared, not found or without output (the others are pulled), 2 usage error "
        "(roster, --into, credentials), 130 interrupted by Ctrl-C (the students done are "
        "kept). See docs/provenance.md.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pull = actions.add_parser(
        "pull",
        help="pull every roster student's kaggle_notebook into DIR/<participant>/ (default: none)",
        description="For each roster student with a kaggle_notebook (owner/slug or the "
        "notebook's address), write DIR/<participant>/code/ (kaggle kernels pull -m) and "
        "DIR/<participant>/output/ (kaggle kernels output) of its latest saved version. A "
        "student's folder is replaced as a whole, only once both parts are complete.",
    )
    pull.add_argument(
        "--roster",
        type=Path,
        required=True,
        metavar="CSV",
        help="the class roster with a kaggle_notebook column (default: none, required)",
    )
    pull.add_argument(
        "--into",
        type=Path,
        default=Path(DEFAULT_NOTEBOOKS),
        metavar="DIR",
        help="where each student's folder goes; only folders this command wrote are replaced "
        f"(default: {DEFAULT_NOTEBOOKS})",
    )
    pull.set_defaults(run=_run_notebooks_pull)


def _run_notebooks_pull(args: argparse.Namespace) -> int:
    from grader.provenance.pull import pull_notebooks, pull_summary

    run = pull_notebooks(args.roster, args.into, warn=_warn, say=print)
    print(pull_summary(run))
    return run.exit_code


def _add_score(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "score",
        help="score every submission in a folder and rank a leaderboard",
        description="Score every CSV in SUBMISSIONS_DIR (DIR/<participant>.csv or "
        "DIR/<participant>/*.csv) for accuracy and macro-F1 on the hidden split, and rank "
        "the participants by their best public score (--final: by the private score of "
        "their selected submissions, Kaggle's rule). A bad file never stops the run: it is "
        "listed with its reason. --out holds what students may see; flags, per-class "
        "reports and the gradebook go to the review folder, for the TA only.",
        epilog="Exit status: 0 every file scored, 1 some file invalid or unusable (the "
        "board is still written), 2 usage error (nothing written) or a disk error while "
        "writing, 130 interrupted by Ctrl-C (both say what was written). Submission time: a "
        "timestamp at the start of the file name (2026-11-20T14-03-05_...), else the file's "
        "modification time. Selected submissions end in .selected.csv. See "
        "submissions/README.md.",
    )
    p.add_argument(
        "folder",
        type=Path,
        metavar="SUBMISSIONS_DIR",
        help="folder of collected submissions (default: none)",
    )
    p.add_argument(
        "--solution",
        type=Path,
        default=score_default("solution"),
        metavar="FILE",
        help=f"the hidden labels written by grader prepare (default: {score_default('solution')})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=score_default("out"),
        metavar="DIR",
        help="the board, which may be shown to students: index.html, leaderboard.csv, "
        f"leaderboard.md, scores.csv; replaced as a whole on each run (default: "
        f"{score_default('out')})",
    )
    p.add_argument(
        "--review",
        type=Path,
        default=None,
        metavar="DIR",
        help="the TA-only folder: flags.csv, reports/, gradebook.csv; mode 0700, replaced "
        f"on each run (default: {REVIEW_NAME}/ beside the solution)",
    )
    p.add_argument(
        "--final",
        action="store_true",
        help="rank by the private split, Kaggle's final board; refused while --deadline is "
        "still ahead (see --final-before-deadline); without it no file in --out depends on a "
        "private label (default: public board)",
    )
    p.add_argument(
        "--final-before-deadline",
        action="store_true",
        help="allow --final while --deadline (or a roster student's extended deadline) is "
        "still ahead, with a warning: the final board shows Private scores while students "
        "can still submit (default: refused)",
    )
    p.add_argument(
        "--public-details",
        action="store_true",
        help="also put per-class Public metrics and confusion matrices in --out (reports/ "
        "and the page); they help students probe which test rows are Public, so Kaggle "
        "shows one number instead (default: off)",
    )
    p.add_argument(
        "--history",
        type=Path,
        default=None,
        metavar="FILE",
        help="SQLite file keeping every scoring; re-scoring the same files adds nothing "
        f"(default: {HISTORY_NAME} beside the solution)",
    )
    p.add_argument(
        "--plausible",
        type=_fraction,
        default=score_default("plausible"),
        metavar="ACC",
        help="flag public accuracies at or above this for review (default: "
        f"{score_default('plausible')})",
    )
    p.add_argument(
        "--deadline",
        type=_aware_time,
        default=None,
        metavar="TIME",
        help="flag files submitted after this ISO time plus the student's extension_hours "
        "(--roster), which must name its timezone, e.g. 2026-12-01T23:59+01:00 or "
        "2026-12-01T22:59Z; files collected without a time use the LMS's late mark "
        "(default: none)",
    )
    p.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="CSV",
        help="the class roster (student_id, and kaggle_name, extension_hours, ...: "
        "grader/folder/roster.py), or the LMS's own gradebook export (Canvas, Moodle, "
        "Blackboard: docs/grades-to-lms.md): writes gradebook.csv in the review folder with "
        "points by the rule of grader/grades/gradebook.py, and gives each student's "
        "extension; needs --baseline (default: none)",
    )
    p.add_argument(
        "--gradebook-format",
        choices=GRADEBOOK_FORMATS,
        default=score_default("gradebook_format"),
        help="also write, beside gradebook.csv, the file that LMS's grade import reads for "
        "one assignment column: gradebook-canvas.csv, gradebook-moodle.csv or "
        "gradebook-blackboard.csv; students the LMS could not identify are left out and "
        f"listed; needs --roster (default: {score_default('gradebook_format')}, gradebook.csv "
        "only)",
    )
    p.add_argument(
        "--assignment",
        default=score_default("assignment"),
        metavar="NAME",
        help="the assignment's name in the LMS: the grade column of --gradebook-format's file "
        f"(default: {score_default('assignment')})",
    )
    p.add_argument(
        "--assignment-id",
        default=None,
        metavar="ID",
        help="the LMS's number for that column (Canvas: the assignment id in its address; "
        "Blackboard: the Grade Center column id), so the import fills that column; without "
        "it Canvas matches the name or adds an assignment, Blackboard adds a text column "
        "(default: none)",
    )
    p.add_argument(
        "--late-policy",
        default=score_default("late_policy"),
        metavar="POLICY",
        help="what a file after the student's deadline counts for: ignore (as any file), "
        "zero (as never submitted) or penalty:P%%/day (its points lose P%% per started day); "
        "under zero and penalty the final board leaves late files out. Rules: "
        f"docs/grading-rules.md (default: {score_default('late_policy')})",
    )
    p.add_argument(
        "--staff",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="participants shown on the board without a rank (the baseline, TA test files): "
        "not ranked, not graded, never a lookup suspect, never a --roster student; usable as "
        "--baseline (default: none)",
    )
    p.add_argument(
        "--kaggle-leaderboard",
        type=Path,
        default=None,
        metavar="FILE",
        help="Kaggle's leaderboard download (.zip or .csv, grader leaderboard download): "
        "checks that a file of each participant reproduces their Kaggle score; writes "
        "reconciliation.csv in the review folder (default: none)",
    )
    p.add_argument(
        "--notebooks",
        type=Path,
        default=None,
        metavar="DIR",
        help="the students' notebooks pulled by grader notebooks pull: writes provenance.csv "
        "in the review folder (is each graded file one the notebook's run wrote?); --out is "
        "unchanged (default: none)",
    )
    p.add_argument(
        "--no-fresh-check",
        dest="fresh_check",
        action="store_false",
        help="skip the fresh-image check, which runs when the solution's folder holds "
        "fresh.csv (grader prepare --fresh) and at least 10 files are ranked: fresh.csv in "
        "the review folder, fresh-gap flags (default: on)",
    )
    p.add_argument(
        "--baseline",
        default=None,
        metavar="NAME",
        help="participant whose ranked file every other is tested against (exact McNemar "
        "test, p_vs_baseline in leaderboard.csv) (default: none)",
    )
    p.add_argument(
        "--rank-by",
        choices=METRICS,
        default=score_default("rank_by"),
        help=f"the metric that ranks (default: {score_default('rank_by')})",
    )
    p.add_argument(
        "--timings",
        action="store_true",
        help="also print, on stderr, the seconds each stage took (reading and validating, "
        "scoring, ranking, intervals, flags, writing, ...) (default: off)",
    )
    p.set_defaults(run=_run_score)


def _run_score(args: argparse.Namespace) -> int:
    import sqlite3
    from dataclasses import fields

    from grader.board.terminal import score_summary
    from grader.score.options import ScoreOptions
    from grader.score.pipeline import score_submissions

    # Every field of ScoreOptions is a flag of the same name: the CLI mirrors the library.
    options = ScoreOptions(**{f.name: getattr(args, f.name) for f in fields(ScoreOptions)})
    written: list[Path] = []
    try:
        run = score_submissions(
            options, written, warn=_warn, say=lambda line: print(line, file=sys.stderr)
        )
        print(score_summary(run))
        if args.timings:
            print(f"Time per stage: {run.stages.summary()}", file=sys.stderr)
        return run.exit_code
    except KeyboardInterrupt:
        print(f"Interrupted. {_written(options, written)}", file=sys.stderr)
        return 130
    except GraderError as exc:
        if not written:
            raise  # refused before anything was written: main prints it
        print(f"Error: {exc}\n{_written(options, written)}", file=sys.stderr)
        return exc.exit_code
    except (OSError, sqlite3.Error) as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        reason = getattr(exc, "strerror", None) or exc
        print(f"Error: {where}{reason}.\n{_written(options, written)}", file=sys.stderr)
        return 2


def _written(options, written: list[Path]) -> str:
    """Which of grader score's three outputs a stopped run had written, exactly."""
    steps = [options.out, options.review_dir, options.history_file]
    done = ", ".join(str(p) for p in steps if p in written)
    left = ", ".join(str(p) for p in steps if p not in written)
    return (f"Written before that: {done}. " if done else "") + (
        f"Not written (left as before): {left}." if left else "Everything was written."
    )


def _warn(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


def _fraction(text: str) -> float:
    """argparse type: a number above 0 and at most 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} must lie above 0 and at most 1, e.g. {PLAUSIBLE}"
        )
    return value


def _aware_time(text: str):
    """argparse type: an ISO 8601 time with an explicit timezone."""
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time such as 2026-12-01T23:59+01:00"
        ) from None
    if not any(sep in text.strip() for sep in "T "):
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time of day: give one with a timezone, e.g. "
            f"{text.strip().rstrip('Z')}T23:59+01:00"
        )
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no timezone: add one, e.g. {text}+01:00 or {text}Z"
        )
    return value


def _add_submit(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "submit",
        help="validate a submission, then send it to Kaggle with the official client",
        description="Check FILE exactly as grader validate does; if it is valid, submit it to "
        "the Kaggle competition with the kaggle package (credentials: ~/.kaggle/kaggle.json "
        "or KAGGLE_USERNAME and KAGGLE_KEY). An invalid file is never sent.",
        epilog="Exit status: 0 submitted, 1 invalid file or refused by Kaggle, 2 usage error "
        "(missing file, data or credentials).",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the submission CSV (default: none)")
    p.add_argument(
        "--competition",
        required=True,
        metavar="SLUG",
        help="the competition's name in its address, kaggle.com/competitions/SLUG "
        "(default: none, required)",
    )
    p.add_argument(
        "-m",
        "--message",
        required=True,
        help="a description of this submission (default: none, required)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path(DEFAULT_PUBLIC),
        metavar="DIR",
        help=f"the competition's public files, to validate against (default: {DEFAULT_PUBLIC})",
    )
    p.set_defaults(run=_run_submit)


def _run_submit(args: argparse.Namespace) -> int:
    from grader.kaggle import submit

    checked = _check_submission(args.file, args.data, "--data")
    if not checked.valid:
        _print_problems(args.file, checked.problems)
        print("Not submitted: fix the file first.")
        return 1
    receipt = submit(args.file, args.competition, args.message)
    reference = f" (ref {receipt.ref})" if receipt.ref else ""
    print(f"{args.file}: valid, submitted to {args.competition}{reference}: {receipt.message}")
    return 0


def _add_history(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "history",
        help="show a participant's scored submissions over time",
        description="List a participant's submissions recorded by grader score, in "
        "submission order, with the public accuracy and the best so far.",
    )
    p.add_argument("participant", metavar="PARTICIPANT", help="the participant (default: none)")
    p.add_argument(
        "--history",
        type=Path,
        default=Path(DEFAULT_HISTORY),
        metavar="FILE",
        help=f"the history file of grader score (default: {DEFAULT_HISTORY})",
    )
    p.add_argument(
        "--private",
        action="store_true",
        help="also show private-split accuracy, for the TA only (default: off)",
    )
    p.set_defaults(run=_run_history)


def _run_history(args: argparse.Namespace) -> int:
    from grader.core import names
    from grader.grades.history import history_problem, history_table, participant_history

    if not args.history.is_file():
        what = "a folder, not a file" if args.history.is_dir() else "no such file"
        raise UsageError(
            f"--history {args.history}: {what}. It is written by grader "
            "score (beside the solution unless --history was given)."
        )
    if problem := history_problem(args.history):
        raise UsageError(f"--history {args.history}: {problem}")
    if names.decoded(args.participant) is None:
        raise UsageError(
            f"{names.shown(args.participant)}: not UTF-8 text; no participant has such a name."
        )
    # Participants are recorded NFC-normalised (grader.core.names): so is the name asked for.
    rows = participant_history(args.history, names.identity(args.participant))
    if not rows:
        print(f"No scorings of {args.participant!r} in {args.history}.")
        return 1
    print(f"{args.participant}: {len(rows)} scored file(s)")
    print(history_table(rows, args.private))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `grader` console script; returns the exit code."""
    args = get_parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
