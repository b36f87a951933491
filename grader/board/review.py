"""The review folder: what `grader score` writes for the TA alone.

Default path: `review/` beside the solution (`competition/private/review/`);
`--review DIR` moves it. Mode 0700, files 0600, replaced as a whole and
atomically by every run, like `--out`. Its contents (a contract later
commands add to):

* `README.md`: what each file is, and that none of it may be published;
* `flags.csv`: `kind, participants, files, reason, p_value`, one row per
  integrity flag (`p_value` empty where no test stands behind it);
* `reports/<participant>.json`: per-class metrics and confusion matrices of
  every file on the Public split, the Private split and all test rows;
* `lookup.csv`: the lookup detector (grader.stats.lookup) per ranked file, when at
  least 15 files are ranked: participant, file, accuracy, right_on_hardest,
  expected_right_on_hardest, hardest, wrong_on_easiest,
  expected_wrong_on_easiest, easiest, p_value, flagged;
* `fresh.csv`: the fresh-image check (grader.stats.fresh) per ranked file, when the
  bundle has fresh test images and at least 10 files are ranked: participant, file,
  original_accuracy, fresh_accuracy, expected_fresh_accuracy, z, flagged;
* `gradebook.csv` with `--roster`;
* `gradebook-canvas.csv`, `gradebook-moodle.csv` or `gradebook-blackboard.csv` with
  `--gradebook-format` (grader.grades.lms): the same points in that LMS's import layout;
* `reconciliation.csv` with `--kaggle-leaderboard` (grader.grades.reconcile): per
  participant and Kaggle team, whether a file handed in reproduces the Kaggle
  score.

Everything here may depend on the Private labels; nothing here is ever
copied into `--out`.
"""

from __future__ import annotations

from pathlib import Path

from grader.board.public import write_reports
from grader.bundle.answers import SPLITS
from grader.core.constants import REVIEW_MARKER
from grader.core.text import csv_cell, csv_text, markdown_text, p_text
from grader.grades.gradebook import gradebook_csv
from grader.grades.lms import FILE_NAME as LMS_FILES
from grader.grades.lms import LABEL as LMS_LABEL
from grader.grades.reconcile import reconciliation_csv
from grader.provenance.check import provenance_csv
from grader.score.run import ScoringRun

REVIEW_TITLE = "# grader score: review folder (for the TA only)"
FILE_MODE = 0o600
FOLDER_MODE = 0o700


# What a review folder may hold: replacing one deletes nothing else (fileio.replace_problem).
REVIEW_FILES = frozenset(
    {
        REVIEW_MARKER,
        "README.md",
        "flags.csv",
        "fresh.csv",
        "gradebook.csv",
        "lookup.csv",
        "provenance.csv",
        "reconciliation.csv",
        "reports",
        *LMS_FILES.values(),
    }
)
LOOKUP_COLUMNS = [
    "participant",
    "file",
    "accuracy",
    "right_on_hardest",
    "expected_right_on_hardest",
    "hardest",
    "wrong_on_easiest",
    "expected_wrong_on_easiest",
    "easiest",
    "p_value",
    "flagged",
]


def flags_csv(flags) -> str:
    """kind, participants, files, reason, p_value: one row per flag."""
    rows = [
        [
            f.kind,
            csv_cell(" | ".join(f.participants)),
            csv_cell(" | ".join(f.files)),
            csv_cell(f.reason),
            p_text(f.p_value),
        ]
        for f in flags
    ]
    return csv_text(["kind", "participants", "files", "reason", "p_value"], rows)


def lookup_csv(rows) -> str:
    """One row per ranked file: what the lookup detector saw and expected."""
    return csv_text(
        LOOKUP_COLUMNS,
        [
            [
                csv_cell(r.participant),
                csv_cell(r.file),
                repr(r.accuracy),
                r.right_on_hardest,
                f"{r.expected_right_on_hardest:.1f}",
                r.hardest,
                r.wrong_on_easiest,
                f"{r.expected_wrong_on_easiest:.1f}",
                r.easiest,
                p_text(r.p_value),
                "yes" if r.flagged else "",
            ]
            for r in rows
        ],
    )


FRESH_COLUMNS = [
    "participant",
    "file",
    "original_accuracy",
    "fresh_accuracy",
    "expected_fresh_accuracy",
    "z",
    "flagged",
]


def fresh_csv(rows) -> str:
    """One row per ranked file: its accuracy on the original Private images and on the
    fresh ones, and what the class's line expects of it."""
    return csv_text(
        FRESH_COLUMNS,
        [
            [
                csv_cell(r.participant),
                csv_cell(r.file),
                f"{r.original_accuracy:.4f}",
                f"{r.fresh_accuracy:.4f}",
                f"{r.expected_fresh_accuracy:.4f}",
                f"{r.z:.2f}",
                "yes" if r.flagged else "",
            ]
            for r in rows
        ],
    )


def readme(run: ScoringRun) -> str:
    """What each file of the review folder is."""
    lines = [
        REVIEW_TITLE,
        "",
        "Do not publish anything in this folder: it is computed from the hidden Private",
        "labels as well as the Public ones. What students may see is in the board folder",
        f"({run.options.out}).",
        "",
        "| file | what it holds |",
        "| --- | --- |",
        "| `flags.csv` | integrity flags for review: kind, participants, files, reason, "
        "p_value (empty where no test stands behind a flag) |",
        "| `reports/<participant>.json` | every file of the participant with per-class "
        "metrics and the confusion matrix on the Public split, the Private split and all "
        "test rows |",
    ]
    if run.lookup is not None:
        lines.append(
            "| `lookup.csv` | the lookup detector per ranked file: right answers on the "
            "hardest images and wrong answers on the easiest, against what files of the same "
            "accuracy give (grader/stats/lookup.py); flagged files are also in flags.csv |"
        )
    if run.fresh is not None and run.fresh.rows is not None:
        lines.append(
            "| `fresh.csv` | the fresh-image check per ranked file: accuracy on the original "
            "Private test images and on the fresh ones, the fresh accuracy that the class's "
            "line expects, and z, how far below it the file lies (flagged from z "
            f"{run.fresh.threshold:.2f}; grader/stats/fresh.py); flagged files are also in "
            "flags.csv |"
        )
    if run.gradebook is not None:
        lines.append(
            "| `gradebook.csv` | one row per roster student, for an LMS import: points, "
            "rank, the ranking metric's score, p_vs_baseline, note (which file was graded, "
            "late files and the late policy) |"
        )
    if (lms := run.lms_gradebook) is not None:
        left_out = (
            f"; {len(lms.left_out)} left out, whom the LMS could not identify (grader score's "
            "output names them)"
            if lms.left_out
            else ""
        )
        lines.append(
            f"| `{lms.file}` | gradebook.csv's points in {LMS_LABEL[lms.format]}'s grade "
            f"import layout, grade column {markdown_text(lms.column)}: "
            f"{lms.rows} of the roster's {lms.rows + len(lms.left_out)} students{left_out} |"
        )
    if run.reconciliation is not None:
        lines.append(
            "| `reconciliation.csv` | per participant and Kaggle team: the Kaggle score, the "
            "files handed in that reproduce it (5 decimals), the closest file, status "
            "(reproduced, not reproduced, no Kaggle entry, no file) |"
        )
    if run.provenance is not None:
        lines.append(
            "| `provenance.csv` | per participant: the graded file, the student's Kaggle "
            "notebook, whether its run wrote that file (reproduced, differs with the share of "
            "equal labels, no output, not pulled, no notebook), the device and kit its "
            "run.json names, and notes from reading its code |"
        )
    lines += [
        "",
        "This folder is replaced as a whole by every run of grader score.",
        "",
    ]
    return "\n".join(lines)


def write_review(folder: Path, run: ScoringRun) -> None:
    """Every TA-only output of a scoring run into `folder` (the review's staging folder)."""
    files = {
        REVIEW_MARKER: "Written by grader score; the folder is replaced on every run.\n",
        "README.md": readme(run),
        "flags.csv": flags_csv(run.flags),
    }
    if run.lookup is not None:
        files["lookup.csv"] = lookup_csv(run.lookup)
    if run.fresh is not None and run.fresh.rows is not None:
        files["fresh.csv"] = fresh_csv(run.fresh.rows)
    if run.gradebook is not None:
        files["gradebook.csv"] = gradebook_csv(run.gradebook.rows, run.options.rank_by)
    if run.provenance is not None:
        files["provenance.csv"] = provenance_csv(run.provenance)
    if run.lms_gradebook is not None:
        files[run.lms_gradebook.file] = run.lms_gradebook.text
    if run.reconciliation is not None:
        files["reconciliation.csv"] = reconciliation_csv(run.reconciliation)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    write_reports(folder, run.entries, run.board, run.options.final, SPLITS, run.key.classes)
    for path in folder.rglob("*"):  # private from the start: the folder is 0700 while built
        path.chmod(FOLDER_MODE if path.is_dir() else FILE_MODE)
