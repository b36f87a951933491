"""grader.core.fileio's one atomic write: a file is the old one or the whole new one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader.core import fileio
from grader.core.fileio import build_folder_atomically


def test_a_write_that_fails_halfway_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.current"
    path.write_text("checkpoint.0001\n")

    def write(f):
        f.write(b"checkpoint.00")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        fileio.write_atomically(path, write)
    assert path.read_text() == "checkpoint.0001\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.current"]


def test_a_streamed_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "best_model.pt"
    path.write_bytes(b"old weights")
    chunks = [b"a" * 1000, b"b" * 1000, b"c"]
    assert fileio.write_atomically(path, lambda f: [f.write(c) for c in chunks]) is True
    assert path.read_bytes() == b"".join(chunks)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_model.pt"]


def test_fsync_puts_the_whole_data_on_disk_before_the_name_changes(tmp_path, monkeypatch):
    """A power cut cannot be staged in a test: what os.fsync was given, and what the
    name held at that moment, is recorded instead."""
    path = tmp_path / "checkpoint.current"
    path.write_text("checkpoint.0001\n")
    seen = []

    def fsync(fd: int) -> None:
        seen.append((os.pread(fd, 100, 0), path.read_text(), os.fstat(fd).st_ino))

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    fileio.write_text_atomically(path, "checkpoint.0002\n")
    assert seen == []  # without fsync=True: none
    fileio.write_text_atomically(path, "checkpoint.0003\n", fsync=True)
    # The synced file held all of the new text while the name still held the old; then
    # that very file (its inode) took the name.
    assert seen == [(b"checkpoint.0003\n", "checkpoint.0002\n", path.stat().st_ino)]
    assert path.read_text() == "checkpoint.0003\n"


def test_a_folder_is_private_until_it_is_complete(tmp_path):
    seen = []

    def build(folder: Path) -> None:
        seen.append(stat.S_IMODE(folder.stat().st_mode))
        (folder / "a.txt").write_text("x")

    old = os.umask(0o022)
    try:
        build_folder_atomically(tmp_path / "out", build, lambda: None)
        build_folder_atomically(tmp_path / "secret", build, lambda: None, mode=0o700)
    finally:
        os.umask(old)
    assert seen == [0o700, 0o700]
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o700


def test_a_failed_swap_puts_the_previous_folder_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous")
    real_rename = Path.rename

    def rename(self, target):
        if ".partial-" in self.name:  # the second rename of the swap
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError):
        build_folder_atomically(out, lambda f: (f / "new.txt").write_text("new"), lambda: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "old.txt").read_text() == "previous"
