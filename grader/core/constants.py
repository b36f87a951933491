"""Defaults shared by the library and the command line, importable without NumPy.

`grader --help` must start fast, so the parser reads its defaults from here
rather than from the modules that do the work.
"""

DEFAULT_PUBLIC_FRACTION = 0.3  # Kaggle's public leaderboards use 25-33% of the test set
RANK_BY = ("accuracy", "macro_f1")
PLAUSIBLE = 0.99  # grader score flags public accuracies at or above this for review

# Where grader score's outputs go by default, and how it recognises its own folders.
DEFAULT_SOLUTION = "competition/private/solution.csv"
HISTORY_NAME = "history.sqlite"  # beside the solution
REVIEW_NAME = "review"  # beside the solution
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
DEFAULT_MAX_MB = 10  # a 10,000-row submission is about 0.15 MB; the validator refuses 1+ MB

# grader score --gradebook-format: plain is gradebook.csv alone (grader.grades.lms)
GRADEBOOK_FORMATS = ("plain", "canvas", "moodle", "blackboard")
DEFAULT_ASSIGNMENT = "CIFAR-10 competition"  # --assignment: the grade column's name in the LMS
