"""Small file helpers shared by the grader's commands."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 4 MiB chunks (any hashlib algorithm)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def build_folder_atomically(
    out: Path, build: Callable[[Path], None], check_replace: Callable[[], None]
) -> None:
    """Run `build` on a hidden temporary folder beside `out`, then rename it to `out`.

    On any failure (an exception, Ctrl-C) the temporary folder is removed and
    `out` is untouched. An existing `out` is swapped out only after the new
    folder is complete, and only if `check_replace()` (run just before) does
    not raise.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700)
        build(staging)
        if out.exists():
            check_replace()
            retired = staging.with_name(staging.name.replace(".partial-", ".old-"))
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
