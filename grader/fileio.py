"""File helpers shared by the grader's commands: digests, atomic writes, locks.

Everything the kit writes goes through one of two paths: a single file
through `write_text_atomically` (a temporary file, then a rename), or a whole
folder through `build_folder_atomically` (a hidden staging folder beside the
target, renamed into place when complete). A folder being built is private
(mode 0700) until it is complete, so a killed run never leaves a readable
half-written board.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from grader.errors import UsageError

CHUNK = 1 << 22  # 4 MiB


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


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` (UTF-8) through a temporary file beside `path` and a rename.

    A kill leaves either the old file or the new one, never half of one. With
    `mode` (e.g. 0o600) the file has that mode from its creation on.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        Path(temporary).chmod(0o666 & ~_umask() if mode is None else mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_folder_atomically(
    out: Path,
    build: Callable[[Path], None],
    check_replace: Callable[[], None],
    mode: int | None = None,
) -> None:
    """Run `build` on a hidden staging folder beside `out`, then rename it to `out`.

    The staging folder (`.<out>.partial-*`) is private (0700) while it is
    built; when complete it gets `mode` (default: what the umask gives a new
    folder) and takes the place of `out`. On any failure (an exception,
    Ctrl-C) it is removed and `out` is untouched. An existing `out` is
    swapped out only after the new folder is complete, and only if
    `check_replace()` (run just before) does not raise. The swap is two
    renames: a kill between them leaves the previous folder as `.<out>.old-*`,
    which `leftovers` finds.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        build(staging)
        staging.chmod(0o777 & ~_umask() if mode is None else mode)
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


def leftovers(out: Path) -> list[Path]:
    """Staging or retired folders of `out` left by a run that was killed."""
    found = [*out.parent.glob(f".{out.name}.partial-*"), *out.parent.glob(f".{out.name}.old-*")]
    return sorted(found)


def lock_path(out: Path) -> Path:
    """The lock file of a folder the kit replaces: beside it, never inside."""
    return out.parent / f".{out.name}.lock"


@contextlib.contextmanager
def exclusive_lock(out: Path, flag: str) -> Iterator[None]:
    """Hold the lock of `out` (see `lock_path`) for the duration of the block.

    A second holder fails at once with a UsageError naming `flag`, `out` and
    the pid of the run holding it. The lock file is removed on release; a
    lock on a file that was removed meanwhile is retried, so two runs never
    both hold it.
    """
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, flag, out)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _acquire(path: Path, flag: str, out: Path) -> int:
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise UsageError(
                f"{flag} {out}: another grader score run{holder} is writing it (lock file "
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
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
