"""Defaults shared by the library and the command line, importable without NumPy.

`grader --help` must start fast, so the parser reads its defaults from here
rather than from the modules that do the work.
"""

DEFAULT_PUBLIC_FRACTION = 0.3  # Kaggle's public leaderboards use 25-33% of the test set
RANK_BY = ("accuracy", "macro_f1")
