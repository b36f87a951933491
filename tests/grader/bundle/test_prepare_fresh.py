"""`grader prepare --fresh`: fresh test images join the Private split, listed for the TA
only; what it refuses, in one line."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grader.bundle.answers import load_public_key, load_solution
from grader.bundle.files import CIFAR10_CLASSES, load_bundle
from grader.bundle.prepare import prepare
from grader.bundle.sources import load_fresh
from grader.bundle.submission import SubmissionChecker
from grader.core.errors import BundleError, GraderError, SourceError, UsageError
from grader.core.fileio import file_digest
from tests.cifar_fixtures import make_tiny_cifar, write_official_folder
from tests.helpers import grader, read_rows

N_FRESH = 20


def fresh_arrays(seed: int = 11, n: int = N_FRESH) -> tuple[np.ndarray, np.ndarray]:
    """Random images that no CIFAR-10 fixture holds (a pixel pattern marks them)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    images[:, 0, 0] = [250, 251, 252]  # the tiny fixtures write small numbers there
    images[:, 0, 1, 0] = np.arange(n)
    return images, np.arange(n) % 10


def write_npy(folder: Path, images: np.ndarray, labels: np.ndarray, name: str = "v6") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}_data.npy", images)
    np.save(folder / f"{name}_labels.npy", labels)
    return folder / f"{name}_data.npy"


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_tree(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    for k, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = root / CIFAR10_CLASSES[label] / f"{k:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png(image))
    return root


def build(source: Path, out: Path, fresh: Path | None, **kwargs) -> dict:
    return prepare(
        str(source),
        out,
        seed=7,
        progress=False,
        fresh=None if fresh is None else str(fresh),
        **kwargs,
    )


@pytest.fixture(scope="module")
def fresh_bundle(sources, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fresh")
    data = write_npy(root / "cifar10.1", *fresh_arrays())
    out = root / "competition"
    build(sources["imagefolder-zip"], out, data)
    return out, data


def test_fresh_images_are_all_private_and_listed_in_private_fresh_csv(fresh_bundle, tiny):
    out, _ = fresh_bundle
    images, labels = fresh_arrays()
    test_images = np.load(out / "public" / "test_images.npy")
    solution = read_rows(out / "private" / "solution.csv")
    assert len(test_images) == len(solution) == len(tiny.test_labels) + N_FRESH
    # Each fresh image is found by its pixels; its row is its id (ids are row numbers).
    rows = [int(np.flatnonzero((test_images == image).all(axis=(1, 2, 3)))[0]) for image in images]
    listed = [int(r["id"]) for r in read_rows(out / "private" / "fresh.csv")]
    assert listed == sorted(rows)
    assert [solution[r]["Usage"] for r in rows] == ["Private"] * N_FRESH
    assert [solution[r]["label"] for r in rows] == [CIFAR10_CLASSES[y] for y in labels]
    # Shuffled in: the fresh ids are not the last ones.
    assert min(rows) < len(tiny.test_labels)
    # The Public rows are --public-fraction of CIFAR-10's 50 test images, 3 per class x 5.
    public = [r for r in solution if r["Usage"] == "Public"]
    assert len(public) == 15
    assert stat.S_IMODE((out / "private" / "fresh.csv").stat().st_mode) == 0o600


def test_the_key_knows_the_fresh_rows(fresh_bundle):
    out, _ = fresh_bundle
    key = load_solution(out / "private" / "solution.csv")
    listed = {int(r["id"]) for r in read_rows(out / "private" / "fresh.csv")}
    assert {int(i) for i in key.ids[key.fresh]} == listed
    assert not (key.fresh & key.public).any()


def test_the_manifest_records_the_fresh_source_and_its_sha256(fresh_bundle):
    out, data = fresh_bundle
    manifest = json.loads((out / "private" / "manifest.json").read_text())
    labels_file = data.with_name("v6_labels.npy")
    assert manifest["fresh"] == {
        "kind": "cifar10.1-npy",
        "location": str(data.resolve()),
        "sha256": {"v6_data.npy": file_digest(data), "v6_labels.npy": file_digest(labels_file)},
        "warnings": [],
    }
    counts = manifest["counts"]
    assert (counts["test"], counts["fresh"], counts["public"], counts["private"]) == (
        70,
        20,
        15,
        55,
    )
    assert counts["fresh_per_class"] == dict.fromkeys(CIFAR10_CLASSES, 2)
    assert manifest["files"]["private/fresh.csv"] == file_digest(out / "private" / "fresh.csv")


def test_public_files_do_not_tell_the_fresh_images_apart(fresh_bundle):
    out, _ = fresh_bundle
    public = out / "public"
    assert sorted(p.name for p in public.iterdir()) == [
        "README.md",
        "classes.txt",
        "sample_submission.csv",
        "test.csv",
        "test_images.npy",
        "train.csv",
        "train_images.npy",
    ]
    for path in public.iterdir():
        text = path.read_bytes()
        assert b"fresh" not in text.lower() and b"10.1" not in text, path.name
    readme = (public / "README.md").read_text()
    assert "uint8 array (70, 32, 32, 3): the images to classify" in readme
    assert "one row for each of the 70 test" in readme
    # The sample submission and the baseline predict every test id, fresh ones included.
    key = load_public_key(public)
    assert SubmissionChecker(key).check_file(public / "sample_submission.csv").valid


def test_the_same_seed_gives_the_same_bundle_and_without_fresh_the_old_one(
    sources, fresh_bundle, tmp_path
):
    out, data = fresh_bundle
    again = tmp_path / "again"
    build(sources["imagefolder-zip"], again, data)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path
    plain = tmp_path / "plain"
    manifest = build(sources["imagefolder-zip"], plain, None)
    assert not (plain / "private" / "fresh.csv").exists()
    assert "fresh" not in manifest and "fresh" not in manifest["counts"]


def test_an_imagefolder_of_fresh_images_as_a_folder_or_a_zip(tmp_path):
    images, labels = fresh_arrays()
    tree = write_tree(tmp_path / "photos", images, labels)
    (tree / "notes.txt").write_text("taken in the park")
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(tree.rglob("*.png"), reverse=True):
            z.writestr(f"photos/{path.relative_to(tree).as_posix()}", path.read_bytes())
    from_folder, from_zip = load_fresh(str(tree)), load_fresh(str(archive))
    order = np.lexsort((np.arange(N_FRESH), labels))  # by class, then file name
    for fresh in (from_folder, from_zip):
        assert np.array_equal(fresh.images, images[order])
        assert np.array_equal(fresh.labels, labels[order])
    assert from_folder.names[:2] == ["airplane/0000.png", "airplane/0010.png"]
    assert from_zip.names[:2] == ["photos/airplane/0000.png", "photos/airplane/0010.png"]
    assert from_folder.warnings == [
        f"--fresh {tree}: ignored 1 file(s) that are not images (first: notes.txt)."
    ]
    assert from_zip.kind == "imagefolder-zip"
    assert from_zip.sha256 == {"photos.zip": file_digest(archive)}
    assert list(from_folder.sha256) == ["photos/"]


@pytest.mark.slow
def test_a_bundle_of_12000_test_images_loads(tmp_path):
    """CIFAR-10's 10,000 test images and CIFAR-10.1's 2,000: the bundle reader, the
    validator and the sample submission take any number of test rows."""
    data = make_tiny_cifar(train_per_class=1, test_per_class=1000, seed=3)
    source = write_official_folder(data, tmp_path)
    fresh = write_npy(tmp_path / "fresh", *fresh_arrays(n=2000))
    build(source, tmp_path / "competition", fresh)
    bundle = load_bundle(tmp_path / "competition")
    assert bundle.test_images.shape == (12_000, 32, 32, 3)
    assert len(bundle.test_ids) == 12_000
    key = load_public_key(tmp_path / "competition" / "public")
    checked = SubmissionChecker(key).check_file(
        tmp_path / "competition" / "public" / "sample_submission.csv"
    )
    assert checked.valid and checked.rows == 12_000
    assert len(read_rows(tmp_path / "competition" / "private" / "fresh.csv")) == 2000


# ----------------------------------------------------------------------------
# Refusals: one line that names the file and says what to do
# ----------------------------------------------------------------------------


def refusal(sources, tmp_path, fresh: Path) -> str:
    with pytest.raises(GraderError) as caught:
        build(sources["imagefolder-zip"], tmp_path / "competition", fresh)
    assert not (tmp_path / "competition").exists()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_refuses_npy_images_of_another_size(sources, tmp_path):
    images = np.zeros((5, 28, 28, 3), np.uint8)
    data = write_npy(tmp_path / "in", images, np.zeros(5, np.int64))
    assert refusal(sources, tmp_path, data) == (
        f"--fresh {data}: images are 28x28 pixels; fresh images must be 32x32, like "
        "CIFAR-10's. Resize them first."
    )


def test_refuses_an_image_of_another_size_in_a_folder(sources, tmp_path):
    images, labels = fresh_arrays()
    tree = write_tree(tmp_path / "photos", images, labels)
    big = np.zeros((48, 64, 3), np.uint8)
    (tree / "cat" / "9999.png").write_bytes(png(big))
    assert refusal(sources, tmp_path, tree) == (
        f"--fresh {tree}: cat/9999.png: image is 64x48 pixels; fresh images must be 32x32, "
        "like CIFAR-10's. Resize them first."
    )


def test_refuses_a_folder_that_is_not_a_cifar10_class(sources, tmp_path):
    images, labels = fresh_arrays()
    tree = write_tree(tmp_path / "photos", images, labels)
    (tree / "lion").mkdir()
    (tree / "lion" / "0000.png").write_bytes(png(images[0]))
    assert refusal(sources, tmp_path, tree) == (
        f"--fresh {tree}: lion/: unknown class 'lion'; fresh images must be of the CIFAR-10 "
        "classes (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck)."
    )


def test_refuses_a_label_that_is_not_a_cifar10_class(sources, tmp_path):
    images, labels = fresh_arrays()
    labels[3] = 10
    data = write_npy(tmp_path / "in", images, labels)
    assert refusal(sources, tmp_path, data) == (
        f"--fresh {tmp_path / 'in' / 'v6_labels.npy'}: row 3: label 10 is not a CIFAR-10 "
        "class (0-9: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck)."
    )


@pytest.mark.parametrize("split", ["train", "test"])
def test_refuses_images_byte_identical_to_cifar10(split, sources, tiny, tmp_path):
    images, labels = fresh_arrays()
    known = tiny.train_images if split == "train" else tiny.test_images
    images[4], images[9] = known[7], known[2]
    data = write_npy(tmp_path / "in", images, labels)
    assert refusal(sources, tmp_path, data) == (
        f"--fresh {data}: row 4 (and 1 more fresh image(s)) is byte-identical to a CIFAR-10 "
        f"{split} image of --source; fresh images must be new, or their labels can be looked "
        "up. Remove them."
    )


def test_refuses_a_data_file_without_its_labels(sources, tmp_path):
    data = write_npy(tmp_path / "in", *fresh_arrays())
    data.with_name("v6_labels.npy").unlink()
    assert refusal(sources, tmp_path, data) == (
        f"--fresh {data}: v6_labels.npy (its labels) is missing beside it."
    )


def test_refuses_a_path_that_does_not_exist(sources, tmp_path):
    with pytest.raises(UsageError) as caught:
        build(sources["imagefolder-zip"], tmp_path / "competition", tmp_path / "nope")
    assert str(caught.value) == (
        f"--fresh {tmp_path / 'nope'}: no such file or folder. Give CIFAR-10.1's "
        "<name>_data.npy (with <name>_labels.npy beside it), or a folder or .zip of "
        "<class>/<image> files."
    )


def test_the_command_line_says_it_in_one_line_with_exit_1(sources, tmp_path):
    images, labels = fresh_arrays()
    labels[0] = -1
    data = write_npy(tmp_path / "in", images, labels)
    out = tmp_path / "competition"
    result = grader(
        "prepare", "--source", str(sources["imagefolder-zip"]), "--out", str(out),
        "--fresh", str(data), "--seed", "1",
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: --fresh {tmp_path / 'in' / 'v6_labels.npy'}: row 0: label -1 is not a "
        "CIFAR-10 class (0-9: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, "
        "truck)."
    ]
    assert "Traceback" not in result.stderr and not out.exists()


def test_the_command_line_reports_the_fresh_images(sources, tmp_path):
    data = write_npy(tmp_path / "in", *fresh_arrays())
    out = tmp_path / "competition"
    result = grader(
        "prepare", "--source", str(sources["imagefolder-zip"]), "--out", str(out),
        "--fresh", str(data), "--seed", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" s: ", 1)[1].splitlines()[0] == (
        f"60 train and 70 test images (20 of them fresh, all Private; their ids are in "
        f"{out}/private/fresh.csv), Public 15 / Private 55 (stratified by class)."
    )


# ----------------------------------------------------------------------------
# A fresh.csv that does not fit its solution
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ids\n1\n", "line 1: expected header 'id', found 'ids'."),
        ("id\n999\n", "line 2: id 999 is not in solution.csv."),
        ("id\nx\n", "line 2: id 'x' is not a whole number of at most 20 digits 0-9;"),
    ],
)
def test_a_fresh_csv_that_does_not_fit_is_refused(fresh_bundle, tmp_path, text, problem):
    out, _ = fresh_bundle
    private = tmp_path / "private"
    private.mkdir()
    for name in ("solution.csv", "manifest.json"):
        (private / name).write_bytes((out / "private" / name).read_bytes())
    (private / "fresh.csv").write_text(text)
    with pytest.raises(BundleError) as caught:
        load_solution(private / "solution.csv")
    assert str(caught.value).startswith(f"{private / 'fresh.csv'} {problem}")


def test_a_fresh_csv_listing_a_public_id_is_refused(fresh_bundle, tmp_path):
    out, _ = fresh_bundle
    private = tmp_path / "private"
    private.mkdir()
    for name in ("solution.csv", "manifest.json"):
        (private / name).write_bytes((out / "private" / name).read_bytes())
    public = next(
        r["id"] for r in read_rows(out / "private" / "solution.csv") if r["Usage"] == "Public"
    )
    (private / "fresh.csv").write_text(f"id\n{public}\n")
    with pytest.raises(BundleError) as caught:
        load_solution(private / "solution.csv")
    assert str(caught.value) == (
        f"{private / 'fresh.csv'} line 2: id {public} is Public in solution.csv; fresh images "
        "are all Private. It must list the fresh images that `grader prepare --fresh` added; "
        "rebuild the bundle."
    )


def test_source_errors_are_source_errors(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    with pytest.raises(SourceError) as caught:
        load_fresh(str(path))
    assert str(caught.value) == (
        f"--fresh {path}: neither a .npy file nor a .zip. Give CIFAR-10.1's <name>_data.npy "
        "(with <name>_labels.npy beside it), or a folder or .zip of <class>/<image> files."
    )
