"""Progress: an animated bar where a person watches, one plain line per stage elsewhere.

A bar redraws itself with carriage returns; written to a file (nohup, CI, a Kaggle
"Save & Run All" log) every redraw is kept and buries the lines that matter. So bars
are shown only on a terminal or in an interactive notebook, and elsewhere each stage
prints one line when it ends. `CIFAR10_KIT_PROGRESS=bar` or `=plain` overrides the
guess. Kaggle marks a headless run with `KAGGLE_KERNEL_RUN_TYPE=Batch`.
"""

from __future__ import annotations

import os
import sys

ENV = "CIFAR10_KIT_PROGRESS"
MODES = ("bar", "plain")


def mode() -> str:
    """ "bar" or "plain": what progress looks like in this process."""
    chosen = os.environ.get(ENV, "").strip().lower()
    if chosen in MODES:
        return chosen
    if chosen:
        print(
            f"Warning: {ENV}={os.environ[ENV]!r} is not one of {', '.join(MODES)}; "
            "guessing from the output instead.",
            file=sys.stderr,
        )
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE", "").lower() == "batch":
        return "plain"
    if _interactive_notebook():
        return "bar"
    return "bar" if sys.stderr.isatty() else "plain"


def bars() -> bool:
    """Whether progress bars should animate here."""
    return mode() == "bar"


def _interactive_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        return type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:  # an IPython without a running shell
        return False
