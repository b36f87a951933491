"""The bundle reader: memory-mapped arrays, and one clear error per broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.bundle.files import load_bundle
from grader.bundle.prepare import prepare
from grader.core.errors import BundleError


@pytest.fixture(scope="module")
def pristine(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reader") / "competition"
    prepare(str(sources["imagefolder-folder"]), out, seed=11, progress=False)
    return out


@pytest.fixture
def public(pristine, tmp_path) -> Path:
    """A fresh copy of the public folder that a test may break."""
    return Path(shutil.copytree(pristine / "public", tmp_path / "public"))


def error_of(folder: Path) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(folder)
    return str(info.value)


def test_the_bundle_root_is_accepted_as_well_as_public(pristine):
    assert load_bundle(pristine).root == pristine / "public"
    assert load_bundle(pristine / "public").train_labels.shape == (60,)


def test_arrays_are_read_only_memory_maps(pristine):
    bundle = load_bundle(pristine)
    assert isinstance(bundle.test_images, np.memmap)
    with pytest.raises(ValueError):
        bundle.test_images[0, 0, 0, 0] = 1


def test_missing_folder(tmp_path):
    assert error_of(tmp_path / "nowhere") == (
        f"{tmp_path / 'nowhere'}: no such folder. Build the competition first with "
        "`grader prepare`, or pass the folder that holds classes.txt and the .npy files."
    )
    # One of the bundle's files passed for its folder: said so, as grader score does.
    (tmp_path / "train.csv").write_text("id,label\n")
    assert error_of(tmp_path / "train.csv") == (
        f"{tmp_path / 'train.csv'}: a file, not a folder. Build the competition first with "
        "`grader prepare`, or pass the folder that holds classes.txt and the .npy files."
    )


def test_missing_file(public):
    (public / "test.csv").unlink()
    assert error_of(public) == (
        f"{public / 'test.csv'}: missing. The bundle is incomplete; rebuild it with "
        "`grader prepare`."
    )


def test_images_of_the_wrong_dtype(public):
    np.save(public / "train_images.npy", np.zeros((60, 32, 32, 3), np.float32))
    assert error_of(public) == (
        f"{public / 'train_images.npy'}: expected uint8 images of shape (N, 32, 32, 3), "
        "found float32 (60, 32, 32, 3)."
    )


def test_images_in_channel_first_layout(public):
    np.save(public / "test_images.npy", np.zeros((50, 3, 32, 32), np.uint8))
    assert error_of(public) == (
        f"{public / 'test_images.npy'}: expected uint8 images of shape (N, 32, 32, 3), "
        "found uint8 (50, 3, 32, 32)."
    )


def test_a_file_that_is_not_npy(public):
    (public / "test_images.npy").write_text("id,label\n")
    assert error_of(public).startswith(
        f"{public / 'test_images.npy'}: not a readable NumPy .npy file ("
    )


def test_wrong_header(public):
    text = (public / "train.csv").read_text()
    (public / "train.csv").write_text(text.replace("id,label", "image,class", 1))
    assert error_of(public) == (
        f"{public / 'train.csv'} line 1: expected header 'id,label', found 'image,class'."
    )


def test_unknown_label_names_its_line(public):
    lines = (public / "train.csv").read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",lion"
    (public / "train.csv").write_text("\n".join(lines) + "\n")
    assert error_of(public) == f"{public / 'train.csv'} line 6: label 'lion' is not in classes.txt."


def test_duplicate_id(public):
    lines = (public / "test.csv").read_text().splitlines()
    lines[4] = "0"
    (public / "test.csv").write_text("\n".join(lines) + "\n")
    assert error_of(public) == f"{public / 'test.csv'} line 5: id 0 repeats line 2."


def test_non_integer_id(public):
    lines = (public / "test.csv").read_text().splitlines()
    lines[2] = "abc"
    (public / "test.csv").write_text("\n".join(lines) + "\n")
    assert error_of(public) == (
        f"{public / 'test.csv'} line 3: id 'abc' is not a whole number of at most 20 digits "
        "0-9; rebuild the bundle with `grader prepare`."
    )


def test_rows_and_images_disagree(public):
    lines = (public / "test.csv").read_text().splitlines()
    (public / "test.csv").write_text("\n".join(lines[:-1]) + "\n")
    assert error_of(public) == (
        f"{public / 'test.csv'}: 49 rows, but test_images.npy holds 50 images; row i of the "
        "CSV must describe image i. Rebuild the bundle with `grader prepare`."
    )


def test_repeated_class_name(public):
    (public / "classes.txt").write_text("cat\ndog\ncat\n")
    assert error_of(public) == f"{public / 'classes.txt'} line 3: class 'cat' repeats line 1."
