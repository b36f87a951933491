"""File helpers shared by the grader's commands: digests, atomic writes, locks.

The grader writes its outputs in one of two ways: a single file through
`write_atomically` (a temporary file, then a rename; `write_bytes_atomically` and
`write_text_atomically` for data in memory), or a whole folder through
`build_folder_atomically` (a hidden staging folder beside the target, renamed
into place when complete). A folder being built is private (mode 0700) until it
is complete, so a killed run never leaves a readable half-written board. (The
SQLite history is atomic by its own transactions; lock files hold only a pid.)
The baseline's checkpoint pointer and best weights go through `write_atomically`
too.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from grader.core.errors import UsageError

CHUNK = 1 << 22  # 4 MiB
# Files an operating system or an office program leaves in any folder a person opens:
# Finder's .DS_Store, Windows Explorer's Thumbs.db and desktop.ini (compared ignoring
# case), macOS's ._ resource forks on foreign disks, LibreOffice's .~lock.<file># while
# a file is open. Never a submission, never a reason to refuse replacing a folder.
SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})


def is_system_file(name: str) -> bool:
    """Whether `name` is one of the files an OS or office program leaves behind."""
    return (
        name.lower() in SYSTEM_FILES
        or name.startswith("._")
        or (name.startswith(".~lock.") and name.endswith("#"))
    )


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 4 MiB chunks (any hashlib algorithm)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_head_and_digest(path: Path, limit: int) -> tuple[bytes, str]:
    """The first `limit` bytes of a file and the sha256 of the whole file, in one pass.

    A file far too large to check is still identified by the hash of all of it.
    """
    digest = hashlib.sha256()
    head = bytearray()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            if len(head) < limit:
                head += chunk[: limit - len(head)]
    return bytes(head), digest.hexdigest()


def write_text_atomically(
    path: Path, text: str, mode: int | None = None, fsync: bool = False
) -> None:
    """Write `text` (UTF-8) through a temporary file beside `path` and a rename.

    A kill leaves either the old file or the new one, never half of one. With
    `mode` (e.g. 0o600) the file has that mode from its creation on; `fsync` as
    in `write_atomically`.
    """
    write_bytes_atomically(path, text.encode("utf-8"), mode, fsync=fsync)


def write_bytes_atomically(
    path: Path, data: bytes, mode: int | None = None, replace: bool = True, fsync: bool = False
) -> bool:
    """Write `data` to `path` as `write_atomically` does (see there)."""
    return write_atomically(path, lambda f: f.write(data), mode, replace, fsync)


def write_atomically(
    path: Path,
    write: Callable[[BinaryIO], object],
    mode: int | None = None,
    replace: bool = True,
    fsync: bool = False,
) -> bool:
    """Let `write` fill a temporary file beside `path`, then put it in place: the kit's
    one atomic write (`write_bytes_atomically` and `write_text_atomically` call it;
    `write` may stream, e.g. torch.save).

    With `replace` an existing `path` is replaced by one rename. Without it an
    existing `path` is never touched: the file is put in place by a hard link,
    which fails when the name is taken, and False is returned (True when
    written). Either way a kill leaves the old state or the whole new file. On a
    file system without hard links (FAT, some network shares) the name is
    claimed by an exclusive create and the complete temporary file renamed over
    it: a kill between the two leaves that name as an empty file.

    A kill of the process is covered either way; a power cut is not, unless
    `fsync`: without it the file system may persist the rename before the data,
    leaving `path` empty or short. With it the data reach the disk (os.fsync)
    before the rename: for a file whose content other files are trusted by, such
    as a checkpoint pointer.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        Path(temporary).chmod(0o666 & ~_umask() if mode is None else mode)
        if replace:
            Path(temporary).replace(path)
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            return _claim_and_rename(Path(temporary), path)
        return True
    finally:
        Path(temporary).unlink(missing_ok=True)


# What os.link raises where a file system has no hard links.
NO_HARD_LINKS = frozenset(
    getattr(errno, name)
    for name in ("EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK", "EXDEV")
    if hasattr(errno, name)
)


def _claim_and_rename(temporary: Path, path: Path) -> bool:
    """Put `temporary` at `path` unless the name is taken, without hard links."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    temporary.replace(path)
    return True


def build_folder_atomically(
    out: Path,
    build: Callable[[Path], None],
    check_replace: Callable[[], None],
    mode: int | None = None,
    on_done: Callable[[], None] = lambda: None,
) -> None:
    """Run `build` on a hidden staging folder beside `out`, then rename it to `out`.

    The staging folder (`.<out>.partial-*`) is private (0700) while it is
    built; when complete it takes the place of `out` and then gets `mode`
    (default: what the umask gives a new folder). An existing `out` is swapped out
    only after the new folder is complete, and only if `check_replace()` (run
    just before) does not raise. The swap (two renames, then `on_done()`)
    runs with SIGINT and SIGTERM held back, so Ctrl-C lands before it (and
    `out` is untouched) or after it (and `on_done` has said the folder is
    written). On any failure before the swap the staging folder is removed.
    Only SIGKILL or a crash can stop the swap between its renames: that
    leaves the previous folder as `.<out>.old-*`, which `leftovers` finds.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    retired = staging.with_name(staging.name.replace(".partial-", ".old-"))
    try:
        build(staging)
        if out.exists():
            check_replace()
        with signals_held():
            replacing = out.exists()
            if replacing:
                out.chmod(0o700)  # private before it takes a leftover's name
                out.rename(retired)
            staging.rename(out)
            # Opened up only once in place: a kill at any point leaves every staging or
            # retired folder private (0700).
            out.chmod(0o777 & ~_umask() if mode is None else mode)
            on_done()
    except BaseException:
        if retired.exists() and not out.exists():
            retired.rename(out)  # the second rename failed: put the previous folder back
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if replacing:
        shutil.rmtree(retired, ignore_errors=True)  # interrupted: a leftover, named later


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (delivered when the block ends), where possible."""
    import signal

    held = {signal.SIGINT, signal.SIGTERM}
    try:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # not POSIX, or not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def replace_problem(
    folder: Path, marker: str, known: frozenset[str], report_start: bytes = b""
) -> str:
    """Why an existing folder may not be replaced as a whole ('' when it may).

    It may when it is empty, or when the kit wrote it: it holds the kit's
    `marker` file, every other entry is a file (or a link, of which only the
    link goes) named in `known`, and `reports/` is a folder of the kit's .json
    reports (each starting with `report_start`). Files an OS or office program
    leaves behind (`is_system_file`) go with the folder. So no file or folder of
    the user's is ever deleted.
    """
    if not folder.exists():
        return ""
    if folder.is_symlink() or not folder.is_dir():
        return "exists and is not a folder"
    entries = sorted(folder.iterdir())
    if not entries:
        return ""
    if not (folder / marker).is_file():
        return f"exists and was not written by grader score (it has no {marker} file)"
    foreign = []
    for path in entries:
        if path.name == "reports" and path.is_dir() and not path.is_symlink():
            foreign += [
                f"reports/{p.name}"
                for p in sorted(path.iterdir())
                if not (_report(p, report_start) or _left_behind(p))
            ]
        elif _left_behind(path):
            continue
        elif path.name not in known or (path.is_dir() and not path.is_symlink()):
            foreign.append(path.name)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        return f"holds files grader score did not write ({shown}), which replacing it would delete"
    return ""


def _left_behind(path: Path) -> bool:
    """A file (not a folder) an OS or office program left in the folder."""
    return is_system_file(path.name) and (path.is_symlink() or not path.is_dir())


def _report(path: Path, start: bytes) -> bool:
    """Whether `path` is one of the kit's JSON reports (a link counts: only it goes)."""
    if path.is_symlink():
        return True
    if path.suffix != ".json" or not path.is_file():
        return False
    with path.open("rb") as f:
        return f.read(len(start)) == start


def leftovers(out: Path) -> list[Path]:
    """Staging or retired folders of `out` left by a run that was killed."""
    name = glob.escape(out.name)
    found = [*out.parent.glob(f".{name}.partial-*"), *out.parent.glob(f".{name}.old-*")]
    return sorted(found)


def is_internal_name(name: str) -> bool:
    """Whether `name` is one the kit gives its lock, staging or retired folders."""
    return name.startswith(".") and (
        name.endswith(".lock") or ".partial-" in name or ".old-" in name
    )


def relation(place: Path, other: Path) -> str:
    """How two resolved paths stand: "is", "contains", "inside" or '' (apart)."""
    if place == other:
        return "is"
    if place in other.parents:
        return "contains"
    if other in place.parents:
        return "inside"
    return ""


def lock_path(out: Path) -> Path:
    """The lock file of a folder the kit writes: beside it, never inside. Named from the
    folder's resolved path, so every spelling of one folder (`.`, `../subs`, a path
    through a link) locks the same file."""
    place = out.absolute().resolve()
    return place.parent / f".{place.name}.lock"


@contextlib.contextmanager
def exclusive_lock(out: Path, flag: str, command: str = "grader score") -> Iterator[None]:
    """Hold the lock of `out` (see `lock_path`) for the duration of the block.

    A second holder fails at once with a UsageError naming `flag`, `out` and
    the pid of the run (of `command`) holding it. The lock file is opened without following
    links and must be a regular file. It is removed on release, and so are
    the folders created for it if they stayed empty (a run refused later
    leaves nothing); a lock on a file that was removed meanwhile is retried,
    so two runs never both hold it.
    """
    path = lock_path(out)
    created = _missing_parents(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(path, flag, out, command)
    except OSError as exc:
        _remove_empty(created)
        raise UsageError(
            f"{flag} {out}: cannot create its lock file {path} ({exc.strerror or exc}). "
            f"Remove what is there, or choose another folder for {flag}."
        ) from None
    try:
        _claim(fd, path, flag, out, command)
    except UsageError:
        os.close(fd)
        _remove_empty(created)
        raise
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
        _remove_empty(created)


def _claim(fd: int, path: Path, flag: str, out: Path, command: str) -> None:
    """Refuse to take over a file that is not a lock of the kit's (empty or a pid)."""
    info = os.fstat(fd)
    text = os.pread(fd, 64, 0)
    if info.st_nlink != 1 or info.st_size > 32 or not (text.strip().isdigit() or not text):
        raise UsageError(
            f"{flag} {out}: {path} exists and is not a lock file of {command}; it was "
            "left as it is. Move it away, or choose another folder."
        )


def _missing_parents(folder: Path) -> list[Path]:
    """The folders of `folder`'s path that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (the run wrote there) or already gone


def _acquire(path: Path, flag: str, out: Path, command: str) -> int:
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(
                f"{flag} {out}: its lock file {path} is not a regular file; remove it."
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise UsageError(
                f"{flag} {out}: another {command} run{holder} is writing it (lock file "
                f"{path}). Wait for it to finish, or choose another {flag}."
            ) from None
        try:
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file as we locked it: lock the new one


def _read_pid(fd: int) -> str:
    """' (pid N)' of the lock's holder; it writes N just after it locks, so wait a little."""
    import time

    for _ in range(20):
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return ""
        if text.isdigit():
            return f" (pid {text})"
        time.sleep(0.025)
    return ""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
