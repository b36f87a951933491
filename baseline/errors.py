"""The training side's expected failures, each explained in one line for the user.

* `TrainingError`: bad data or a failure at run time (a missing bundle, settings that
  cannot work together, out of memory, a NaN loss): `Error: ...`, exit 1;
* a flag value outside its range is `baseline.config.ConfigError`: exit 2.
"""

from __future__ import annotations


class TrainingError(Exception):
    """An expected failure of a training run, explained for the user (no traceback)."""
