"""The training side's expected failures, each explained in one line for the user.

* `TrainingError`: bad data or a failure at run time (a missing bundle, settings that
  cannot work together, out of memory, a NaN loss): `Error: ...`, exit 1;
* a setting of the wrong kind or outside its range is `baseline.config.ConfigError`:
  exit 2;
* `NotebookStop`: a problem with the notebook's machine, packages or code, stopped in
  its cell with what to do.

All of them show as their message alone in a notebook too (IPython's `_render_traceback_`).
"""

from __future__ import annotations


class OneLineError(Exception):
    """An error the user fixes from its message alone: a notebook shows only that line."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"Error: {self}"]


class TrainingError(OneLineError):
    """An expected failure of a training run, explained for the user (no traceback)."""


class NotebookStop(OneLineError):
    """A problem the student can fix, shown in a notebook as its message (no traceback)."""
