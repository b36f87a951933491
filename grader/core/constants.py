"""Defaults shared by the library and the command line, importable without NumPy.

`grader --help` must start fast, so the parser reads its defaults from here (and
from the options dataclasses, which read theirs from here) rather than from the
modules that do the work. Each default is written once.
"""

METRICS = ("accuracy", "macro_f1")  # every file's two scores; either ranks (--rank-by)
PLAUSIBLE = 0.99  # grader score flags public accuracies at or above this for review

# grader prepare: where the bundle comes from and goes; the other commands' defaults
# name the folders inside it.
TORCHVISION = "torchvision"  # --source: download the official archive, as torchvision does
CACHE_NAME = "cifar10-kit"  # --cache-dir: this folder in the user's cache folder
DEFAULT_BUNDLE = "competition"  # --out
DEFAULT_PUBLIC_FRACTION = 0.3  # Kaggle's public leaderboards use 25-33% of the test set
DEFAULT_PUBLIC = f"{DEFAULT_BUNDLE}/public"  # grader validate --competition, submit --data

# Where grader score's outputs go by default, and how it recognises its own folders.
HISTORY_NAME = "history.sqlite"  # beside the solution
REVIEW_NAME = "review"  # beside the solution
DEFAULT_SOLUTION = f"{DEFAULT_BUNDLE}/private/solution.csv"  # grader score --solution
DEFAULT_HISTORY = f"{DEFAULT_BUNDLE}/private/{HISTORY_NAME}"  # grader history --history
DEFAULT_BOARD = "leaderboard"  # grader score --out
DEFAULT_RANK_BY = "accuracy"  # grader score --rank-by
BOARD_MARKER = ".grader-board"
REVIEW_MARKER = ".grader-review"

# grader collect
LMS_FORMATS = (
    "canvas",
    "moodle",
    "blackboard",
    "classroom",
    "folder",
)  # --format (grader.collect.lms)
DEFAULT_INTO = "submissions"  # --into: the submissions folder grader score reads
DEFAULT_MAX_MB = 10  # a 10,000-row submission is about 0.15 MB; the validator refuses 1+ MB

DEFAULT_NOTEBOOKS = "notebooks"  # grader notebooks pull --into

# grader score --gradebook-format: plain is gradebook.csv alone (grader.grades.lms)
GRADEBOOK_FORMATS = ("plain", "canvas", "moodle", "blackboard")
DEFAULT_ASSIGNMENT = "CIFAR-10 competition"  # --assignment: the grade column's name in the LMS
