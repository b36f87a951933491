"""`grader prepare`: the bundle's contents, reproducibility, secrecy and atomicity."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.bundle import prepare as prepare_module
from grader.bundle.files import CIFAR10_CLASSES, load_bundle
from grader.bundle.prepare import prepare, split_dataset
from grader.bundle.sources import RawDataset
from grader.bundle.split import stratified_mask
from grader.core.errors import UsageError
from tests.helpers import ROOT, read_rows

PUBLIC_FILES = [
    "README.md",
    "classes.txt",
    "sample_submission.csv",
    "test.csv",
    "test_images.npy",
    "train.csv",
    "train_images.npy",
]


def build(source: Path, out: Path, **kwargs) -> dict:
    return prepare(str(source), out, progress=False, **{"seed": 7, **kwargs})


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def bundle(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "competition"
    build(sources["imagefolder-zip"], out)
    return out


def test_bundle_has_exactly_the_contract_files(bundle):
    assert sorted(p.name for p in (bundle / "public").iterdir()) == PUBLIC_FILES
    assert sorted(p.name for p in (bundle / "private").iterdir()) == [
        "manifest.json",
        "solution.csv",
    ]


def test_bundle_round_trips_through_the_reader(bundle, tiny):
    loaded = load_bundle(bundle / "public")
    assert loaded.classes == CIFAR10_CLASSES
    assert isinstance(loaded.train_images, np.memmap)
    assert loaded.train_images.shape == (60, 32, 32, 3)
    assert loaded.test_images.shape == (50, 32, 32, 3)
    assert loaded.test_ids.tolist() == list(range(50))
    # Every training image keeps its label: find each one in the original set.
    original = {
        img.tobytes(): label
        for img, label in zip(tiny.train_images, tiny.train_labels, strict=True)
    }
    for image, label in zip(loaded.train_images, loaded.train_labels, strict=True):
        assert original[np.asarray(image).tobytes()] == label


def test_solution_labels_belong_to_their_test_images(bundle, tiny):
    solution = read_rows(bundle / "private" / "solution.csv")
    images = np.load(bundle / "public" / "test_images.npy")
    original = {
        img.tobytes(): CIFAR10_CLASSES[label]
        for img, label in zip(tiny.test_images, tiny.test_labels, strict=True)
    }
    assert [row["id"] for row in solution] == [str(i) for i in range(50)]
    assert [original[images[int(row["id"])].tobytes()] for row in solution] == [
        row["label"] for row in solution
    ]


def test_public_split_is_stratified_with_hand_computed_counts(bundle):
    # 5 test images per class x 0.3 = 1.5 each: floor gives 1 per class (10), and the
    # 5 rows still missing from round(50 x 0.3) = 15 go to the first 5 classes
    # (equal remainders, ties in class order).
    solution = read_rows(bundle / "private" / "solution.csv")
    public = [row["label"] for row in solution if row["Usage"] == "Public"]
    assert len(public) == 15
    assert {name: public.count(name) for name in CIFAR10_CLASSES} == {
        "airplane": 2,
        "automobile": 2,
        "bird": 2,
        "cat": 2,
        "deer": 2,
        "dog": 1,
        "frog": 1,
        "horse": 1,
        "ship": 1,
        "truck": 1,
    }
    assert {row["Usage"] for row in solution} == {"Public", "Private"}


def test_stratified_mask_on_uneven_classes():
    labels = np.array([0] * 7 + [1] * 3 + [2] * 10)
    mask = stratified_mask(labels, 0.25, np.random.default_rng(0))
    # Exact quotas 1.75, 0.75, 2.5 floor to 1, 0, 2 (3 rows); round(20 x 0.25) = 5 needs
    # 2 more, which go to the two largest remainders: classes 0 and 1 (0.75 each).
    assert np.bincount(labels[mask], minlength=3).tolist() == [2, 1, 2]


def test_manifest_records_seed_counts_source_and_file_hashes(bundle, sources):
    manifest = json.loads((bundle / "private" / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["seed_from"] == "--seed"
    assert manifest["public_fraction"] == 0.3
    assert manifest["source"]["kind"] == "imagefolder-zip"
    assert manifest["source"]["location"] == str(sources["imagefolder-zip"].resolve())
    assert manifest["counts"]["train"] == 60 and manifest["counts"]["test"] == 50
    assert manifest["counts"]["public"] == 15 and manifest["counts"]["private"] == 35
    assert manifest["counts"]["train_per_class"] == dict.fromkeys(CIFAR10_CLASSES, 6)
    files = sorted(
        p.relative_to(bundle).as_posix()
        for p in bundle.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    assert sorted(manifest["files"]) == files
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((bundle / rel).read_bytes()).hexdigest() == digest


def test_same_seed_and_source_give_a_byte_identical_bundle(sources, bundle, tmp_path):
    again = tmp_path / "again"
    build(sources["imagefolder-zip"], again)
    assert tree_bytes(again) == tree_bytes(bundle)


def test_another_seed_gives_another_split(sources, bundle, tmp_path):
    other = tmp_path / "other"
    build(sources["imagefolder-zip"], other, seed=8)
    for name in ("test_images.npy", "train_images.npy", "train.csv"):
        assert (other / "public" / name).read_bytes() != (bundle / "public" / name).read_bytes()
    assert (other / "private" / "solution.csv").read_bytes() != (
        bundle / "private" / "solution.csv"
    ).read_bytes()


@pytest.mark.parametrize(
    "kind", ["imagefolder-folder", "cifar-python-folder", "cifar-python-archive"]
)
def test_every_source_kind_gives_the_same_public_files(kind, sources, bundle, tmp_path):
    build(sources[kind], tmp_path / kind)
    assert tree_bytes(tmp_path / kind / "public") == tree_bytes(bundle / "public")
    assert (tmp_path / kind / "private" / "solution.csv").read_bytes() == (
        bundle / "private" / "solution.csv"
    ).read_bytes()


def test_without_seed_a_secret_seed_is_drawn_and_kept_private(sources, tmp_path):
    first = prepare(str(sources["imagefolder-zip"]), tmp_path / "a", progress=False)
    second = prepare(str(sources["imagefolder-zip"]), tmp_path / "b", progress=False)
    assert first["seed_from"] == "os" and first["seed"] != second["seed"]
    assert first["seed"] >= 2**64  # 128 random bits; far beyond any guessable seed
    for path in (tmp_path / "a" / "public").iterdir():
        assert str(first["seed"]).encode() not in path.read_bytes()


def test_a_fixed_seed_warns_that_the_split_can_be_rebuilt(sources, tmp_path):
    warnings: list[str] = []
    prepare(
        str(sources["imagefolder-zip"]),
        tmp_path / "c",
        seed=3,
        progress=False,
        warn=warnings.append,
    )
    assert warnings == [
        "--seed 3 makes a split that anyone with this kit and CIFAR-10 can rebuild. "
        "Use it for tests and demos only; leave --seed out for a graded competition."
    ]


# ----------------------------------------------------------------------------
# Nothing public reveals a test label
# ----------------------------------------------------------------------------


def test_public_files_hold_no_label_or_split_information(bundle):
    for name in ("test.csv", "sample_submission.csv", "README.md", "classes.txt"):
        text = (bundle / "public" / name).read_text()
        assert "Usage" not in text and ",Public" not in text and ",Private" not in text
    assert (bundle / "public" / "test.csv").read_text().splitlines() == ["id"] + [
        str(i) for i in range(50)
    ]


def test_test_ids_follow_neither_class_nor_original_order(bundle, tiny):
    solution = read_rows(bundle / "private" / "solution.csv")
    labels = [CIFAR10_CLASSES.index(row["label"]) for row in solution]
    assert labels != sorted(labels)  # the source lists test images class by class
    images = np.load(bundle / "public" / "test_images.npy")
    assert not np.array_equal(images, tiny.test_images)


def full_size_split(seed: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(10), 1000)  # CIFAR-10's test set: 1,000 per class
    images = np.zeros((10_000, 32, 32, 3), np.uint8)
    raw = RawDataset(images[:10], labels[:10], images, labels, kind="test", location="-")
    split = split_dataset(raw, seed, 0.3)
    return split.test_labels, split.public


def test_sample_submission_scores_at_chance_on_a_full_size_test_set():
    # The sample labels id i with class i mod 10; with ids a secret permutation that
    # must score 10% +- noise: binomial sd = sqrt(0.1 x 0.9 / 10,000) = 0.3 points.
    for seed in (0, 1, 2):
        labels, public = full_size_split(seed)
        sample = np.arange(10_000) % 10
        assert abs((sample == labels).mean() - 0.1) < 0.012
        assert abs((sample[public] == labels[public]).mean() - 0.1) < 0.022
        assert public.sum() == 3000
        assert np.bincount(labels[public]).tolist() == [300] * 10


def test_sample_submission_is_a_valid_submission(bundle):
    rows = read_rows(bundle / "public" / "sample_submission.csv")
    assert [row["id"] for row in rows] == [str(i) for i in range(50)]
    assert [row["label"] for row in rows[:11]] == [*CIFAR10_CLASSES, "airplane"]


# ----------------------------------------------------------------------------
# Refusals and atomic writes
# ----------------------------------------------------------------------------


def test_refuses_to_overwrite_without_force(sources, bundle):
    before = tree_bytes(bundle)
    with pytest.raises(UsageError) as info:
        build(sources["imagefolder-zip"], bundle)
    assert str(info.value) == (
        f"--out {bundle}: already exists. Pass --force to replace it, or choose another folder."
    )
    assert info.value.exit_code == 2
    assert tree_bytes(bundle) == before


def test_force_replaces_an_existing_bundle(sources, tmp_path):
    out = tmp_path / "competition"
    build(sources["imagefolder-zip"], out, seed=1)
    build(sources["imagefolder-zip"], out, seed=2, force=True)
    assert json.loads((out / "private" / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["competition"]


def test_force_never_replaces_a_folder_that_is_not_a_bundle(sources, tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(UsageError) as info:
        build(sources["imagefolder-zip"], tmp_path, force=True)
    assert str(info.value) == (
        f"--out {tmp_path}: exists and is not a competition bundle; refusing to replace it, "
        "even with --force. Choose another folder."
    )
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_force_never_deletes_the_records_of_grading(sources, tmp_path):
    out = tmp_path / "competition"
    build(sources["imagefolder-zip"], out, seed=1)
    (out / "private" / "history.sqlite").write_bytes(b"")
    (out / "private" / "review").mkdir()
    before = tree_bytes(out)
    with pytest.raises(UsageError) as info:
        build(sources["imagefolder-zip"], out, seed=2, force=True)
    assert str(info.value) == (
        f"--out {out}: holds the records of grading with it (private/history.sqlite, "
        "private/review); replacing the bundle would delete them, and its new secret split "
        "would not match the scores they hold. Move them out first, or choose another folder."
    )
    assert tree_bytes(out) == before


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.3, 30.0])
def test_public_fraction_outside_zero_one(fraction, sources, tmp_path):
    with pytest.raises(UsageError) as info:
        build(sources["imagefolder-zip"], tmp_path / "x", public_fraction=fraction)
    assert str(info.value) == (
        f"--public-fraction {fraction}: must be between 0 and 1, exclusive "
        "(Kaggle competitions use 0.25 to 0.33)."
    )


def test_public_fraction_too_small_for_the_test_set(sources, tmp_path):
    with pytest.raises(UsageError) as info:
        build(sources["imagefolder-zip"], tmp_path / "x", public_fraction=0.001)
    assert str(info.value) == (
        "--public-fraction 0.001: leaves the Public or the Private split of the 50 test "
        "images empty; choose a fraction nearer 0.3."
    )
    assert list(tmp_path.iterdir()) == []


class Crash(Exception):
    pass


def fail_when_writing_solution(monkeypatch, error: BaseException) -> None:
    """Make the bundle writer fail after the public files, as a full disk or Ctrl-C would."""
    real = prepare_module._write_csv

    def write_csv(path, header, rows):
        if path.name == "solution.csv":
            raise error
        real(path, header, rows)

    monkeypatch.setattr(prepare_module, "_write_csv", write_csv)


@pytest.mark.parametrize("error", [Crash("disk full"), KeyboardInterrupt()])
def test_a_crash_mid_write_leaves_nothing_behind(error, sources, tmp_path, monkeypatch):
    fail_when_writing_solution(monkeypatch, error)
    with pytest.raises(type(error)):
        build(sources["imagefolder-zip"], tmp_path / "competition")
    assert list(tmp_path.iterdir()) == []


def test_a_crash_during_force_keeps_the_old_bundle(sources, tmp_path, monkeypatch):
    out = tmp_path / "competition"
    build(sources["imagefolder-zip"], out, seed=1)
    before = tree_bytes(out)
    fail_when_writing_solution(monkeypatch, Crash("disk full"))
    with pytest.raises(Crash):
        build(sources["imagefolder-zip"], out, seed=2, force=True)
    assert tree_bytes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["competition"]


def test_a_killed_run_leaves_no_bundle_and_the_next_run_says_what_is_left(sources, tmp_path):
    # A real SIGKILL in the middle of writing: no cleanup code can run.
    out = tmp_path / "competition"
    script = (
        "import os, signal, sys\n"
        "from grader.bundle import prepare as p\n"
        "real = p._write_csv\n"
        "def write_csv(path, header, rows):\n"
        "    if path.name == 'solution.csv':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    real(path, header, rows)\n"
        "p._write_csv = write_csv\n"
        "p.prepare(sys.argv[1], p.Path(sys.argv[2]), seed=1, progress=False)\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, str(sources["imagefolder-zip"]), str(out)],
        cwd=ROOT,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL
    assert not out.exists()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(".competition.partial-")
    warnings: list[str] = []
    prepare(str(sources["imagefolder-zip"]), out, progress=False, warn=warnings.append)
    assert warnings == [
        f"{leftover}: left by an interrupted run of grader prepare; delete it to free space."
    ]
    assert load_bundle(out).test_ids.shape == (50,)


def test_the_mask_has_a_generator_of_its_own(sources, tmp_path):
    import json

    from grader.bundle.prepare import derived_mask_seed, prepare, split_dataset
    from grader.bundle.sources import load_source

    raw = load_source(str(sources["imagefolder-zip"]), progress=False)
    a, b = split_dataset(raw, 5, 0.3, mask_seed=1), split_dataset(raw, 5, 0.3, mask_seed=2)
    assert np.array_equal(a.test_images, b.test_images)  # the same permutations
    assert not np.array_equal(a.public, b.public)  # a different mask
    expected = stratified_mask(a.test_labels, 0.3, np.random.default_rng(1))
    assert np.array_equal(a.public, expected)
    # The old design drew the mask from the permutations' own stream: not any more.
    rng = np.random.default_rng(5)
    rng.permutation(len(raw.train_labels)), rng.permutation(len(raw.test_labels))
    assert not np.array_equal(
        split_dataset(raw, 5, 0.3).public, stratified_mask(a.test_labels, 0.3, rng)
    )
    manifest = prepare(str(sources["imagefolder-zip"]), tmp_path / "c", progress=False)
    assert manifest["mask_seed"] != manifest["seed"] and manifest["mask_seed"].bit_length() > 64
    written = json.loads((tmp_path / "c" / "private" / "manifest.json").read_text())
    assert written["mask_seed"] == manifest["mask_seed"]
    assert derived_mask_seed(5) == derived_mask_seed(5) != derived_mask_seed(6)
