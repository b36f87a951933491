"""Small CIFAR-10-shaped data sets, written in each source layout the kit reads.

The same images go into every layout, sorted by class and file name the way
the source readers sort them, so all layouts must decode to identical arrays.
"""

from __future__ import annotations

import pickle
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from grader.bundle.files import CIFAR10_CLASSES


@dataclass(frozen=True)
class TinyCifar:
    """Images (uint8 N x 32 x 32 x 3) and labels, sorted by class."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def make_tiny_cifar(train_per_class: int = 6, test_per_class: int = 5, seed: int = 0) -> TinyCifar:
    """Random images; each one unique (its index is written into its first pixels)."""
    rng = np.random.default_rng(seed)

    def part(per_class: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
        n = per_class * len(CIFAR10_CLASSES)
        images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        images[:, 0, 0, 0] = (np.arange(n) + offset) % 256
        images[:, 0, 0, 1] = (np.arange(n) + offset) // 256
        labels = np.repeat(np.arange(len(CIFAR10_CLASSES)), per_class)
        return images, labels

    train = part(train_per_class, 0)
    test = part(test_per_class, 10_000)
    return TinyCifar(*train, *test)


def _imagefolder_files(data: TinyCifar) -> dict[str, bytes]:
    """Relative path -> PNG bytes (lossless, so decoding gives the exact pixels back)."""
    import io

    files = {}
    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("test", data.test_images, data.test_labels),
    ):
        counters: dict[int, int] = {}
        for image, label in zip(images, labels, strict=True):
            k = counters.get(int(label), 0)
            counters[int(label)] = k + 1
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            files[f"{split}/{CIFAR10_CLASSES[label]}/{k:04d}.png"] = buffer.getvalue()
    return files


def write_imagefolder(data: TinyCifar, root: Path) -> Path:
    """Write `root/train/<class>/NNNN.png` and `root/test/<class>/NNNN.png`."""
    for rel, payload in _imagefolder_files(data).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    return root


def write_imagefolder_zip(data: TinyCifar, path: Path, prefix: str = "") -> Path:
    """Write the ImageFolder tree into a zip, optionally under a top folder `prefix/`.

    Entries are stored in reverse order, so readers cannot rely on zip order.
    """
    with zipfile.ZipFile(path, "w") as archive:
        for rel, payload in sorted(_imagefolder_files(data).items(), reverse=True):
            archive.writestr(prefix + rel, payload)
    return path


def official_batches(data: TinyCifar) -> dict[str, bytes]:
    """The official python release's files, pickled the way the original was (bytes keys)."""

    def batch(images: np.ndarray, labels: np.ndarray, name: str) -> bytes:
        rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
        entry = {
            b"batch_label": name.encode(),
            b"labels": [int(x) for x in labels],
            b"data": np.ascontiguousarray(rows),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
        }
        return pickle.dumps(entry, protocol=2)

    files = {
        "batches.meta": pickle.dumps(
            {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072},
            protocol=2,
        )
    }
    chunks = np.array_split(np.arange(len(data.train_labels)), 5)
    for i, rows in enumerate(chunks, start=1):
        files[f"data_batch_{i}"] = batch(
            data.train_images[rows], data.train_labels[rows], f"training batch {i} of 5"
        )
    files["test_batch"] = batch(data.test_images, data.test_labels, "testing batch 1 of 1")
    return files


def write_official_folder(data: TinyCifar, parent: Path) -> Path:
    """Write `parent/cifar-10-batches-py/` and return that folder."""
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in official_batches(data).items():
        (folder / name).write_bytes(payload)
    return folder


def write_official_archive(data: TinyCifar, path: Path) -> Path:
    """Write a `cifar-10-python.tar.gz` holding `cifar-10-batches-py/<files>`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        folder = write_official_folder(data, Path(staging))
        with tarfile.open(path, "w:gz") as tar:
            tar.add(folder, arcname="cifar-10-batches-py")
    return path


def tiny_competition(root: Path, train_per_class: int, data_seed: int, split_seed: int) -> Path:
    """A competition bundle built by `grader prepare` from a tiny ImageFolder zip under
    `root` (5 test images per class); returns its public folder."""
    from grader.bundle.prepare import prepare

    source = write_imagefolder_zip(
        make_tiny_cifar(train_per_class, 5, seed=data_seed), root / "tiny.zip"
    )
    prepare(str(source), root / "competition", seed=split_seed, progress=False)
    return root / "competition" / "public"


def make_learnable_cifar(train_per_class: int, test_per_class: int, seed: int = 0) -> TinyCifar:
    """Images a small network learns in a few dozen steps: each class has its own colour
    (ten hues around the colour wheel), under per-pixel noise."""
    rng = np.random.default_rng(seed)
    hues = np.linspace(0, 2 * np.pi, len(CIFAR10_CLASSES), endpoint=False)
    colours = 128 + 90 * np.stack([np.cos(hues + k * 2 * np.pi / 3) for k in range(3)], axis=1)

    def part(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(len(CIFAR10_CLASSES)), per_class)
        noise = rng.normal(0, 40, size=(len(labels), 32, 32, 3))
        images = np.clip(colours[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)
        return images, labels

    return TinyCifar(*part(train_per_class), *part(test_per_class))


def learnable_competition(root: Path, train_per_class: int, split_seed: int) -> Path:
    """A competition bundle of make_learnable_cifar images; returns its public folder."""
    from grader.bundle.prepare import prepare

    source = write_imagefolder_zip(make_learnable_cifar(train_per_class, 5), root / "colours.zip")
    prepare(str(source), root / "competition", seed=split_seed, progress=False)
    return root / "competition" / "public"
