"""Turn CIFAR-10 into a Kaggle class competition bundle (`grader prepare`).

The bundle (docs/architecture.md, "The competition bundle")::

    OUT/public/    train_images.npy train.csv test_images.npy test.csv
                   sample_submission.csv classes.txt README.md   -> Kaggle's Data tab
    OUT/private/   solution.csv (id,label,Usage) manifest.json  -> the TA only
                   fresh.csv (id), with --fresh

Guarantees:

* The hidden split cannot be rebuilt. CIFAR-10 and this kit are public, so a
  guessable seed would let a student regenerate solution.csv. By default the
  seed comes from the OS (`secrets`) and is written only to private/. The
  Public/Private mask has a generator of its own (`mask_seed`, a second
  secret 128-bit seed): a student who matches test images to the original
  CIFAR-10 order observes the test permutation, and that stream must tell
  nothing about the mask.
* private/ is readable by its owner only: the folder 0700, its files 0600.
* `--seed N` gives a byte-identical bundle from the same source, for tests and
  demos (with a warning that anyone can rebuild that split).
* Nothing public reveals a test label: test rows are shuffled by the secret
  permutation and ids are row numbers, so ids follow neither class nor the
  original order; the sample submission labels id i with class i mod 10,
  which, ids being a secret permutation, scores at chance.
* Public/Private is stratified by class (largest-remainder rounding, so the
  Public total is round(fraction x test size)).
* All files are written into a hidden temporary folder beside OUT and renamed
  into place at the end: a run that fails or is killed leaves no half bundle.
* With `--fresh PATH`, images that are not in CIFAR-10 (grader.bundle.sources.
  load_fresh) join the test set: appended after CIFAR-10's test images, then
  shuffled with them by the same secret permutation, so their ids are row
  numbers like any other. They are all Private (the public leaderboard can
  never probe them); the Public rows are `--public-fraction` of CIFAR-10's
  test images, stratified by class as without them. private/fresh.csv lists
  their ids, and the manifest records their source and its sha256. Nothing
  public tells them apart: the Data tab README gives only the test set's size.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import __version__
from grader.bundle.files import (
    CIFAR10_CLASSES,
    CLASSES_TXT,
    DATA_README,
    FRESH_CSV,
    MANIFEST_JSON,
    SAMPLE_SUBMISSION,
    SOLUTION_CSV,
    TEST_CSV,
    TEST_IMAGES,
    TRAIN_CSV,
    TRAIN_IMAGES,
    sample_labels,
)
from grader.bundle.sources import FreshImages, RawDataset, check_new, load_fresh, load_source
from grader.bundle.split import stratified_mask
from grader.core.constants import (
    DEFAULT_BUNDLE,
    DEFAULT_PUBLIC_FRACTION,
    HISTORY_NAME,
    REVIEW_NAME,
    TORCHVISION,
)
from grader.core.errors import UsageError
from grader.core.fileio import build_folder_atomically, file_digest, leftovers

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


@dataclass(frozen=True)
class Split:
    """The shuffled arrays and the hidden Public/Private assignment of one bundle."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    public: np.ndarray  # bool per test row (= per test id)
    fresh: np.ndarray  # bool per test row: a --fresh image (all of them Private)


def prepare(
    source: str = TORCHVISION,
    out: Path = Path(DEFAULT_BUNDLE),
    public_fraction: float = DEFAULT_PUBLIC_FRACTION,
    seed: int | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    progress: bool | None = None,
    warn: Callable[[str], None] = lambda message: None,
    fresh: str | None = None,
) -> dict:
    """Build the bundle from `source` (plus the `fresh` test images, if given) into
    `out`; return its manifest.

    `warn` receives the warnings meant for the user (checksums, a fixed seed).
    """
    check_public_fraction(public_fraction)
    check_out(out, force)
    for leftover in leftovers(out):
        warn(f"{leftover}: left by an interrupted run of grader prepare; delete it to free space.")
    raw = load_source(source, cache_dir=cache_dir, progress=progress)
    for message in raw.warnings:
        warn(message)
    new = load_fresh(fresh, progress=progress) if fresh is not None else None
    if new is not None:
        check_new(new, raw, f"--fresh {fresh}")
        for message in new.warnings:
            warn(message)
    if seed is None:
        seed, mask_seed, seed_from = secrets.randbits(128), secrets.randbits(128), "os"
    else:
        mask_seed, seed_from = derived_mask_seed(seed), "--seed"
        warn(
            f"--seed {seed} makes a split that anyone with this kit and CIFAR-10 can rebuild. "
            "Use it for tests and demos only; leave --seed out for a graded competition."
        )
    split = split_dataset(raw, seed, public_fraction, mask_seed, new)
    manifest = _manifest(raw, split, seed, mask_seed, seed_from, public_fraction, new)
    build_folder_atomically(
        out, lambda folder: _write_bundle(folder, split, manifest), lambda: check_out(out, force)
    )
    return manifest


def check_public_fraction(fraction: float) -> None:
    """Reject a Public fraction that would leave either leaderboard empty."""
    if not 0 < fraction < 1:
        raise UsageError(
            f"--public-fraction {fraction}: must be between 0 and 1, exclusive "
            "(Kaggle competitions use 0.25 to 0.33)."
        )


def check_out(out: Path, force: bool) -> None:
    """Refuse to replace an existing folder, unless --force and it is a bundle."""
    if not out.exists():
        return
    if not force:
        raise UsageError(
            f"--out {out}: already exists. Pass --force to replace it, or choose another folder."
        )
    if not out.is_dir() or not (_looks_like_bundle(out) or not any(out.iterdir())):
        raise UsageError(
            f"--out {out}: exists and is not a competition bundle; refusing to replace it, "
            "even with --force. Choose another folder."
        )
    records = [p for p in (HISTORY_NAME, REVIEW_NAME) if (out / "private" / p).exists()]
    if records:
        shown = ", ".join(f"private/{name}" for name in records)
        raise UsageError(
            f"--out {out}: holds the records of grading with it ({shown}); replacing the "
            "bundle would delete them, and its new secret split would not match the scores "
            "they hold. Move them out first, or choose another folder."
        )


def _looks_like_bundle(folder: Path) -> bool:
    return (folder / "private" / MANIFEST_JSON).is_file() or (
        folder / "public" / CLASSES_TXT
    ).is_file()


def derived_mask_seed(seed: int) -> int:
    """The mask's seed under --seed N: reproducible from N, and not N's own stream."""
    words = np.random.SeedSequence(seed, spawn_key=(1,)).generate_state(4, np.uint32)
    return int.from_bytes(words.astype("<u4").tobytes(), "little")


def split_dataset(
    raw: RawDataset,
    seed: int,
    public_fraction: float,
    mask_seed: int | None = None,
    fresh: FreshImages | None = None,
) -> Split:
    """Shuffle train and test (with the fresh images after CIFAR-10's) with `seed`; draw
    the stratified Public rows among CIFAR-10's test images with `mask_seed` (by default
    derived from `seed`, as under --seed). Without fresh images the split is the one
    this function gave before --fresh existed, byte for byte."""
    test_images, test_labels = raw.test_images, raw.test_labels
    is_fresh = np.zeros(len(test_labels), dtype=bool)
    if fresh is not None:
        test_images = np.concatenate([test_images, fresh.images])
        test_labels = np.concatenate([test_labels, fresh.labels])
        is_fresh = np.concatenate([is_fresh, np.ones(len(fresh.labels), dtype=bool)])
    rng = np.random.default_rng(seed)
    train_order = rng.permutation(len(raw.train_labels))
    test_order = rng.permutation(len(test_labels))
    test_labels, is_fresh = test_labels[test_order], is_fresh[test_order]
    mask_rng = np.random.default_rng(derived_mask_seed(seed) if mask_seed is None else mask_seed)
    public = np.zeros(len(test_labels), dtype=bool)
    public[~is_fresh] = stratified_mask(test_labels[~is_fresh], public_fraction, mask_rng)
    if public[~is_fresh].all() or not public.any():
        raise UsageError(
            f"--public-fraction {public_fraction}: leaves the Public or the Private split "
            f"of the {int((~is_fresh).sum())} {'CIFAR-10 ' if fresh else ''}test images empty; "
            "choose a fraction nearer 0.3."
        )
    return Split(
        train_images=raw.train_images[train_order],
        train_labels=raw.train_labels[train_order],
        test_images=test_images[test_order],
        test_labels=test_labels,
        public=public,
        fresh=is_fresh,
    )


def _write_bundle(folder: Path, split: Split, manifest: dict) -> None:
    public, private = folder / "public", folder / "private"
    public.mkdir()
    private.mkdir()
    classes = manifest["classes"]
    test_ids = np.arange(len(split.test_labels))
    np.save(public / TRAIN_IMAGES, split.train_images, allow_pickle=False)
    np.save(public / TEST_IMAGES, split.test_images, allow_pickle=False)
    names = np.asarray(classes)
    _write_csv(
        public / TRAIN_CSV,
        ["id", "label"],
        zip(range(len(split.train_labels)), names[split.train_labels], strict=True),
    )
    _write_csv(public / TEST_CSV, ["id"], ((i,) for i in test_ids))
    _write_csv(
        public / SAMPLE_SUBMISSION,
        ["id", "label"],
        zip(test_ids, names[sample_labels(test_ids, len(classes))], strict=True),
    )
    (public / CLASSES_TXT).write_text("".join(f"{name}\n" for name in classes), encoding="utf-8")
    (public / DATA_README).write_text(_data_readme(manifest), encoding="utf-8")
    usage = np.where(split.public, "Public", "Private")
    _write_csv(
        private / SOLUTION_CSV,
        ["id", "label", "Usage"],
        zip(test_ids, names[split.test_labels], usage, strict=True),
    )
    if split.fresh.any():
        _write_csv(private / FRESH_CSV, ["id"], ((i,) for i in test_ids[split.fresh]))
    manifest["files"] = {
        path.relative_to(folder).as_posix(): file_digest(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    (private / MANIFEST_JSON).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    for path in private.iterdir():
        path.chmod(PRIVATE_FILE_MODE)
    private.chmod(PRIVATE_FOLDER_MODE)


def _write_csv(path: Path, header: list[str], rows) -> None:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _manifest(
    raw: RawDataset,
    split: Split,
    seed: int,
    mask_seed: int,
    seed_from: str,
    public_fraction: float,
    fresh: FreshImages | None = None,
) -> dict:
    def per_class(labels: np.ndarray) -> dict[str, int]:
        counts = np.bincount(labels, minlength=len(CIFAR10_CLASSES))
        return {name: int(n) for name, n in zip(CIFAR10_CLASSES, counts, strict=True)}

    manifest = {
        "kit_version": __version__,
        "seed": seed,
        "mask_seed": mask_seed,
        "seed_from": seed_from,
        "seeds": "seed shuffles train and test (numpy PCG64); mask_seed, a generator of "
        "its own, draws the Public/Private split (under --seed it is derived from seed)",
        "public_fraction": public_fraction,
        "classes": list(CIFAR10_CLASSES),
        "source": {
            "kind": raw.kind,
            "location": raw.location,
            "checksums": raw.checksums,
            "warnings": raw.warnings,
        },
        "counts": {
            "train": len(split.train_labels),
            "test": len(split.test_labels),
            "public": int(split.public.sum()),
            "private": int((~split.public).sum()),
            "train_per_class": per_class(split.train_labels),
            "test_per_class": per_class(split.test_labels),
            "public_per_class": per_class(split.test_labels[split.public]),
        },
    }
    if fresh is not None:  # only then, so a bundle without them is as it always was
        manifest["fresh"] = {
            "kind": fresh.kind,
            "location": fresh.location,
            "sha256": fresh.sha256,
            "warnings": fresh.warnings,
        }
        if fresh.kind == "imagefolder-folder":
            manifest["fresh"]["sha256_of_the_folder"] = (
                "sha256 of its lines '<path> <sha256 of the file>', by class, then path"
            )
        manifest["counts"]["fresh"] = len(fresh.labels)
        manifest["counts"]["fresh_per_class"] = per_class(split.test_labels[split.fresh])
    return manifest


def _data_readme(manifest: dict) -> str:
    counts = manifest["counts"]
    classes = manifest["classes"]
    percent = round(100 * counts["public"] / counts["test"])
    return f"""# CIFAR-10 class competition: data

Classify 32x32 colour images into {len(classes)} classes: {", ".join(classes)}.

| file | contents |
| --- | --- |
| `train_images.npy` | uint8 array ({counts["train"]}, 32, 32, 3): RGB, height x width x channel |
| `train.csv` | `id,label`: row i describes image i of `train_images.npy`; label is a class name |
| `test_images.npy` | uint8 array ({counts["test"]}, 32, 32, 3): the images to classify |
| `test.csv` | `id`: row i is the id of image i of `test_images.npy` |
| `sample_submission.csv` | a valid submission in the expected format (it scores at chance) |
| `classes.txt` | the class names in index order, one per line |

Load the images with `numpy.load("train_images.npy", mmap_mode="r")`.

## Submission

A CSV file with the header `id,label` and one row for each of the {counts["test"]} test
ids, in any order. `label` is a class name from `classes.txt` (or its index 0-9).

## Evaluation

Submissions are scored by accuracy (macro-F1 is reported too). The public leaderboard
uses about {percent}% of the test images; the final ranking uses the other
{100 - percent}%, which stay hidden until the competition ends. Keep a validation split
of the training data for your own model selection: the public leaderboard is small and
noisy.
"""
