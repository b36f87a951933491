"""What `grader collect` was asked to do: one frozen dataclass whose fields are its flags.

Light on purpose (no NumPy): the command line reads its defaults from here, so a
default is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from grader.core.constants import DEFAULT_INTO, DEFAULT_MAX_MB


@dataclass(frozen=True)
class CollectOptions:
    """What `grader collect` was asked to do; the fields mirror its flags."""

    exports: tuple[Path, ...]
    into: Path = Path(DEFAULT_INTO)
    roster: Path | None = None
    format: str = "auto"  # or one of grader.collect.lms.FORMATS
    timezone: str = "local"  # of Blackboard's attempt times and zip entries' times
    max_size: float = DEFAULT_MAX_MB  # MB per file


def default(name: str):
    """The default of one of CollectOptions' fields (what the CLI shows in --help)."""
    return next(f.default for f in fields(CollectOptions) if f.name == name)
