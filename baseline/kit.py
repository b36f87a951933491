"""The kit itself: which files it is, its zip (what Kaggle's kit dataset holds) and the
sha256 that names it.

The notebooks refuse a kit other than the one they were built with
(baseline.notebook.check_kit); every run records the kit it ran on (run.json's
`kit`), so a TA can tell from a notebook's output what trained it.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

KIT_ZIP = "cifar10_kit.zip"  # the file of the kit's Kaggle dataset
KIT_PACKAGES = ("grader", "baseline")


def kit_files(root: Path) -> list[Path]:
    """The kit's files under `root`: grader/ and baseline/ Python files and the tuner's
    search space; in a git checkout only the tracked ones (a TA's scratch file is not
    published), elsewhere (the kit unpacked on Kaggle) all of them."""
    found = [
        path
        for package in KIT_PACKAGES
        for pattern in ("*.py", "*.json")
        for path in (root / package).rglob(pattern)
    ]
    if (root / ".git").exists():
        try:
            listed = subprocess.run(
                ["git", "ls-files", "-z", *KIT_PACKAGES],
                cwd=root,
                capture_output=True,
                check=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return sorted(found)
        tracked = {root / name for name in listed.decode().split("\0") if name}
        found = [path for path in found if path in tracked]
    return sorted(found)


def kit_zip(root: Path) -> bytes:
    """The kit (kit_files) as a zip whose bytes depend only on the files' contents: what
    Kaggle's kit dataset holds, and what the notebooks check by its sha256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in kit_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def loaded_kit() -> tuple[str, str]:
    """(sha256, where) of the kit this process imported: the zip's bytes, or those of
    kit_zip() of the folder it came from."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if parent.is_file() and zipfile.is_zipfile(parent):  # imported from cifar10_kit.zip
            return hashlib.sha256(parent.read_bytes()).hexdigest(), str(parent)
    root = here.parents[1]
    return hashlib.sha256(kit_zip(root)).hexdigest(), str(root)
