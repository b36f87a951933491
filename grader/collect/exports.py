"""Reading an LMS export, a zip file or a folder, without trusting anything in it.

An export is untrusted: a student chose the names and contents of the files
inside it. Every file becomes an `Item` with its path inside the export
(always '/'-separated text), its size, its own time, and `problem`, the reason
it may not be used:

* a zip entry with an absolute path (`/x`, `C:\\x`) or a `..` part, which
  extracting would put outside the target; a symbolic link (zip or folder),
  never followed; an encrypted entry; anything that is not a regular file;
* reading is bounded: a file is read up to a cap and refused past it, whatever
  its zip header claims (a zip bomb stops at the cap).

Nothing is ever extracted: `read` returns a file's bytes, and the caller
decides where (and whether) they go. Entries that archivers and operating systems
add on their own (`__MACOSX/`, grader.core.fileio.is_system_file: `.DS_Store`,
`Thumbs.db`, `desktop.ini`, `._*`, `.~lock.*#`) and tools' folders
(`.git/` in a GitHub Classroom repository, `.ipynb_checkpoints/`) are skipped. Zip names without
the UTF-8 flag are decoded as UTF-8 when they are valid UTF-8 (what most
archivers write), else as cp437 (the zip standard).
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grader.collect.lms import Zone
from grader.core.errors import UsageError
from grader.core.fileio import is_system_file

# Folders of tools, not of students: an archiver's resource forks, git's objects,
# Jupyter's autosaved copies.
TOOL_FOLDERS = frozenset({"__MACOSX", ".git", ".ipynb_checkpoints"})
UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1


class TooLarge(Exception):
    """A file past the size cap."""


@dataclass
class Item:
    """One file of an export."""

    path: str  # inside the export, '/'-separated
    size: int  # as declared (a zip header may lie: reading is bounded anyway)
    when: datetime  # the file's own time: the zip entry's or the file's modification time
    problem: str = ""  # why it may not be used ('' when it may)
    ref: object = None  # the ZipInfo, or the file's path on disk

    @property
    def parts(self) -> list[str]:
        return self.path.split("/")

    @property
    def name(self) -> str:
        return self.parts[-1]


class Export:
    """A zip file or a folder holding an LMS's files; open it with `open_export`."""

    def __init__(self, path: Path, kind: str, items: list[Item], archive=None) -> None:
        self.path, self.kind, self.items, self._archive = path, kind, items, archive

    @property
    def label(self) -> str:
        """How the export is named in messages and in collected.csv."""
        return self.path.name or str(self.path)

    @property
    def stem(self) -> str:
        return self.path.stem if self.kind == "zip" else self.path.name

    def read(self, item: Item, limit: int) -> bytes:
        """The bytes of a usable item, at most `limit` of them (TooLarge past it).
        OSError (with a plain reason) when the bytes cannot be read."""
        if item.size > limit:
            raise TooLarge
        if self.kind == "zip":
            try:
                with self._archive.open(item.ref) as f:
                    data = f.read(limit + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise OSError(f"damaged in the zip ({exc})") from None
            except (NotImplementedError, RuntimeError) as exc:
                raise OSError(f"cannot be decompressed ({exc})") from None
        else:
            data = _read_regular(item.ref, limit)
        if len(data) > limit:
            raise TooLarge
        return data

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


def open_export(path: Path, tz: Zone) -> Export:
    """Open a zip file or a folder; UsageError when it is neither or cannot be read.
    `tz` is the timezone of zip entries' times (a zip stores local times)."""
    if path.is_dir():
        try:
            return Export(path, "folder", _folder_items(path))
        except OSError as exc:
            raise UsageError(
                f"{path}: the folder cannot be read ({exc.strerror or exc})."
            ) from None
    if not path.exists():
        raise UsageError(
            f"{path}: no such file or folder. Pass the LMS's export (a .zip or a folder)."
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(
            f"{path}: not a readable zip file ({reason}). Pass the LMS's export as it was "
            "downloaded (a .zip), or a folder it was unpacked into."
        ) from None
    try:
        items = [_zip_item(info, tz) for info in archive.infolist() if not _archiver_entry(info)]
    except (zipfile.BadZipFile, ValueError) as exc:
        archive.close()
        raise UsageError(f"{path}: a damaged zip file ({exc}). Download it again.") from None
    return Export(path, "zip", items, archive)


# ----------------------------------------------------------------------------
# Zip files
# ----------------------------------------------------------------------------


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as text: flagged UTF-8 as it is; otherwise UTF-8 when the bytes
    are valid UTF-8 (most archivers write it without the flag), else cp437."""
    if info.flag_bits & UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _archiver_entry(info: zipfile.ZipInfo) -> bool:
    """Directories, and what archivers add on their own."""
    name = entry_name(info).replace("\\", "/")
    parts = [p for p in name.split("/") if p]
    return (
        name.endswith("/")
        or not parts
        or is_system_file(parts[-1])
        or any(p in TOOL_FOLDERS for p in parts[:-1])
    )


def _zip_item(info: zipfile.ZipInfo, tz: Zone) -> Item:
    name = entry_name(info)
    path = name.replace("\\", "/")
    parts = path.split("/")
    mode = info.external_attr >> 16
    problem = ""
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        problem = "an absolute path, which would land outside --into; not copied."
    elif ".." in parts:
        problem = "a path with '..', which would land outside --into; not copied."
    elif stat.S_ISLNK(mode):
        problem = "a symbolic link; links are never followed. Not copied."
    elif mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        problem = "not a regular file; not copied."
    elif info.flag_bits & ENCRYPTED_FLAG:
        problem = "encrypted; not copied. Export again without a password."
    shown = path if problem else "/".join(p for p in parts if p not in ("", "."))
    try:
        when = tz.aware(datetime(*info.date_time))
    except (ValueError, OverflowError, OSError):  # a zip can hold any bytes here
        when = datetime(1980, 1, 1, tzinfo=timezone.utc)
    return Item(
        path=shown or name,
        size=info.file_size,
        when=when.astimezone(timezone.utc),
        problem=problem,
        ref=info,
    )


# ----------------------------------------------------------------------------
# Folders
# ----------------------------------------------------------------------------


def _folder_items(root: Path) -> list[Item]:
    """Every file under `root`, links reported and never followed, hidden folders and
    archiver files skipped."""
    items = []
    for folder, subfolders, files in os.walk(root, followlinks=False, onerror=_raise):
        here = Path(folder)
        rel = here.relative_to(root)
        for name in sorted(subfolders):
            if (here / name).is_symlink():
                items.append(_link_item(here / name, rel / name))
        subfolders[:] = sorted(
            n for n in subfolders if n not in TOOL_FOLDERS and not (here / n).is_symlink()
        )
        for name in sorted(files):
            if is_system_file(name):
                continue
            items.append(_file_item(here / name, rel / name))
    return items


def _raise(exc: OSError) -> None:
    raise exc


def _link_item(path: Path, rel: Path) -> Item:
    return Item(
        path=rel.as_posix(),
        size=0,
        when=datetime.fromtimestamp(0, tz=timezone.utc),
        problem="a symbolic link; links are never followed. Not copied.",
        ref=path,
    )


def _file_item(path: Path, rel: Path) -> Item:
    info = path.lstat()
    when = datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)
    problem = ""
    if stat.S_ISLNK(info.st_mode):
        problem = "a symbolic link; links are never followed. Not copied."
    elif not stat.S_ISREG(info.st_mode):
        problem = "not a regular file; not copied."
    return Item(path=rel.as_posix(), size=info.st_size, when=when, problem=problem, ref=path)


def _read_regular(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes of a regular file, opened without following a link (it
    may have been swapped for one since it was listed)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError("not a regular file")
        return f.read(limit + 1)
