"""Reading CIFAR-10 from each kind of source, and the exact errors for broken ones."""

from __future__ import annotations

import functools
import hashlib
import http.server
import pickle
import shutil
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.bundle import sources as readers
from grader.bundle.sources import load_source
from grader.core.errors import SourceError, UsageError
from tests.cifar_fixtures import (
    TinyCifar,
    official_batches,
    write_imagefolder,
    write_official_archive,
    write_official_folder,
)

KINDS = ["imagefolder-folder", "imagefolder-zip", "cifar-python-folder", "cifar-python-archive"]
CLASS_LIST = "airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck"


@pytest.mark.parametrize("kind", KINDS)
def test_every_source_kind_decodes_the_exact_pixels_and_labels(kind, sources, tiny):
    raw = load_source(str(sources[kind]), progress=False)
    assert raw.kind == kind
    np.testing.assert_array_equal(raw.train_images, tiny.train_images)
    np.testing.assert_array_equal(raw.train_labels, tiny.train_labels)
    np.testing.assert_array_equal(raw.test_images, tiny.test_images)
    np.testing.assert_array_equal(raw.test_labels, tiny.test_labels)
    assert raw.train_images.dtype == np.uint8 and raw.train_images.shape == (60, 32, 32, 3)


def test_official_folder_is_found_inside_a_torchvision_root(sources):
    root = sources["cifar-python-folder"].parent
    assert load_source(str(root)).kind == "cifar-python-folder"


def test_a_copy_that_differs_from_the_official_release_is_a_warning_not_a_failure(sources):
    raw = load_source(str(sources["cifar-python-archive"]))
    md5 = hashlib.md5(sources["cifar-python-archive"].read_bytes()).hexdigest()
    assert raw.checksums == "differ"
    assert raw.warnings == [
        f"{raw.location}: checksum differs from the official CIFAR-10 release for "
        f"cifar-10-python.tar.gz (md5 {md5}). A re-encoded or modified copy? Building from "
        "it anyway; the manifest records this."
    ]


def test_matching_checksums_give_no_warning(sources, monkeypatch):
    folder = sources["cifar-python-folder"]
    sums = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in folder.iterdir()}
    monkeypatch.setattr(readers, "OFFICIAL_FILE_MD5", sums)
    raw = load_source(str(folder))
    assert (raw.checksums, raw.warnings) == ("official", [])


def test_imagefolder_ignores_non_images_with_a_warning(tiny, tmp_path):
    root = write_imagefolder(tiny, tmp_path / "tree")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    (root / "train" / ".DS_Store").write_bytes(b"\0")
    raw = load_source(str(root))
    assert len(raw.train_labels) == 60
    assert raw.warnings == [
        f"{root.resolve()}: ignored 1 file(s) that are not images in train/<class>/ or "
        "test/<class>/ (first: train/cat/notes.txt)."
    ]


# ----------------------------------------------------------------------------
# Broken sources: each gets one message naming the file and what to do.
# ----------------------------------------------------------------------------


def expect_error(spec: Path | str, error=SourceError) -> str:
    with pytest.raises(error) as info:
        load_source(str(spec), progress=False)
    return str(info.value)


def test_missing_path_is_a_usage_error(tmp_path):
    assert expect_error(tmp_path / "nope", UsageError) == (
        f"--source {tmp_path / 'nope'}: no such file or folder. Use --source torchvision to "
        "download CIFAR-10, or give the path of cifar-10-python.tar.gz, a cifar-10-batches-py "
        "folder, or an ImageFolder tree (train/<class>/*, test/<class>/*) or its .zip."
    )


def test_empty_folder(tmp_path):
    assert expect_error(tmp_path) == (
        f"{tmp_path}: found no train/<class>/<image> or test/<class>/<image> files. An "
        "ImageFolder source holds train/airplane/0000.jpg ... test/truck/0999.jpg (as in "
        "cifar10-images.zip); the official release is cifar-10-python.tar.gz."
    )


def test_unknown_class_folder(tiny, tmp_path):
    root = write_imagefolder(tiny, tmp_path / "tree")
    shutil.copytree(root / "train" / "cat", root / "train" / "lion")
    assert expect_error(root) == (
        f"{root}: train/lion: unknown class folder 'lion'. The CIFAR-10 classes are {CLASS_LIST}."
    )


def test_missing_class_folder(tiny, tmp_path):
    root = write_imagefolder(tiny, tmp_path / "tree")
    shutil.rmtree(root / "test" / "truck")
    assert expect_error(root) == (
        f"{root}: test/ has no images of class 'truck'. An ImageFolder source needs a folder "
        "of images for each of the 10 classes in both train/ and test/."
    )


def test_corrupt_image(tiny, tmp_path):
    root = write_imagefolder(tiny, tmp_path / "tree")
    (root / "train" / "dog" / "0003.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    message = expect_error(root)
    assert message.startswith(f"{root}: train/dog/0003.png: cannot decode image (")


def test_image_of_the_wrong_size(tiny, tmp_path):
    from PIL import Image

    root = write_imagefolder(tiny, tmp_path / "tree")
    Image.new("RGB", (64, 48)).save(root / "test" / "bird" / "0001.png")
    assert expect_error(root) == (
        f"{root}: test/bird/0001.png: image is 64x48 pixels; CIFAR-10 images are 32x32. "
        "Remove it or use an unresized copy of the data set."
    )


def test_grayscale_images_are_converted_to_rgb(tiny, tmp_path):
    from PIL import Image

    root = write_imagefolder(tiny, tmp_path / "tree")
    Image.new("L", (32, 32), color=77).save(root / "train" / "airplane" / "0000.png")
    raw = load_source(str(root))
    assert raw.train_images[0].tolist() == [[[77, 77, 77]] * 32] * 32


def test_zip_that_is_not_an_imagefolder(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photos/cat.jpg", b"x")
    assert expect_error(path).startswith(f"{path.resolve()}: found no train/<class>/<image>")


def test_file_that_is_no_archive(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,label\n")
    assert expect_error(path) == (
        f"{path}: neither a .zip of an ImageFolder tree nor the official "
        "cifar-10-python.tar.gz. Check the file, or point --source at a folder."
    )


def test_official_folder_with_a_missing_batch(tiny, tmp_path):
    folder = write_official_folder(tiny, tmp_path)
    (folder / "data_batch_3").unlink()
    assert expect_error(folder) == (
        f"{folder}/data_batch_3: missing. The official layout has batches.meta, "
        "data_batch_1 ... data_batch_5 and test_batch."
    )


def test_official_archive_with_a_missing_batch(tiny, tmp_path):
    import tarfile

    folder = write_official_folder(tiny, tmp_path / "staging")
    (folder / "test_batch").unlink()
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    assert expect_error(archive) == (
        f"{archive}: cifar-10-batches-py/test_batch: missing. The official layout has "
        "batches.meta, data_batch_1 ... data_batch_5 and test_batch."
    )


def test_official_batch_with_the_wrong_array_shape(tiny, tmp_path):
    folder = write_official_folder(tiny, tmp_path)
    batch = {b"data": np.zeros((12, 3000), np.uint8), b"labels": [0] * 12}
    (folder / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=2))
    assert expect_error(folder) == (
        f"{folder}/data_batch_2: 'data' must be uint8 rows of 3072 values (3 x 32 x 32, "
        "channel first), found uint8 (12, 3000)."
    )


def test_official_batch_with_labels_out_of_range(tiny, tmp_path):
    folder = write_official_folder(tiny, tmp_path)
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    assert expect_error(folder) == (
        f"{folder}/test_batch: 'labels' must be 2 integers in 0..9, found 2 values."
    )


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_a_pickle_that_would_run_code_is_refused(tiny, tmp_path):
    folder = write_official_folder(tiny, tmp_path)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": _Exploit()}, protocol=2))
    message = expect_error(folder)
    assert message.startswith(f"{folder}/data_batch_1: not a readable CIFAR-10 batch (refused to")
    assert message.endswith("system: a CIFAR-10 batch holds only arrays and lists).")


def test_meta_with_other_class_names(tiny, tmp_path):
    folder = write_official_folder(tiny, tmp_path)
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a", b"b"]}))
    assert expect_error(folder) == (
        f"{folder}/batches.meta: label_names are ['a', 'b'], not the CIFAR-10 classes "
        "['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', "
        "'truck']."
    )


# ----------------------------------------------------------------------------
# --source torchvision: the official archive, downloaded into a cache folder
# ----------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_offline_fails_fast_and_names_the_source_flag(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz"
    monkeypatch.setenv("GRADER_CIFAR10_URL", url)
    with pytest.raises(SourceError) as info:
        load_source("torchvision", cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert message.startswith(f"could not download CIFAR-10 from {url} (")
    assert message.endswith(
        "Offline? Pass a local copy with --source PATH: cifar-10-python.tar.gz, its "
        "cifar-10-batches-py folder, or an ImageFolder tree or .zip."
    )
    assert list((tmp_path / "cache").iterdir()) == []  # no partial download left behind


def test_download_from_a_loopback_mirror_then_reuse_the_cache(
    tiny: TinyCifar, tmp_path, monkeypatch
):
    served = write_official_archive(tiny, tmp_path / "www" / "cifar-10-python.tar.gz")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"
        monkeypatch.setenv("GRADER_CIFAR10_URL", url)
        cache = tmp_path / "cache"
        raw = load_source("torchvision", cache_dir=cache, progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert (cache / "cifar-10-python.tar.gz").read_bytes() == served.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == ["cifar-10-python.tar.gz"]
    np.testing.assert_array_equal(raw.test_images, tiny.test_images)
    # The server is gone: a second run must read the cache, not the network.
    again = load_source("torchvision", cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again.train_labels, tiny.train_labels)


def test_a_torchvision_data_root_serves_as_the_cache(sources, monkeypatch):
    monkeypatch.setenv("GRADER_CIFAR10_URL", f"http://127.0.0.1:{closed_port()}/x")
    root = sources["cifar-python-folder"].parent
    raw = load_source("torchvision", cache_dir=root, progress=False)
    assert raw.kind == "cifar-python-folder"


def test_default_cache_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert readers.default_cache_dir() == tmp_path / "cifar10-kit"


def test_fixture_batches_match_the_official_file_names(tiny):
    assert set(official_batches(tiny)) == set(readers.OFFICIAL_FILE_MD5)
