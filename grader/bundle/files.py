"""Read and check the public half of a competition bundle.

The bundle layout is the data contract of docs/architecture.md::

    public/train_images.npy   uint8 (N, 32, 32, 3), RGB, HWC
    public/train.csv          id,label   (label = class name; row i = image i)
    public/test_images.npy    uint8 (M, 32, 32, 3)
    public/test.csv           id         (row i = image i)
    public/classes.txt        class names in index order

`load_bundle` is what the baseline and the notebooks use: arrays come back
memory-mapped (nothing is copied until a batch is indexed) and every file is
checked first, so a broken bundle fails with one error that names the file
instead of a shape error deep inside training.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.core.errors import BundleError

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMAGE_SHAPE: tuple[int, int, int] = (32, 32, 3)

# File names of the bundle, shared by the writer (prepare) and the reader.
TRAIN_IMAGES = "train_images.npy"
TRAIN_CSV = "train.csv"
TEST_IMAGES = "test_images.npy"
TEST_CSV = "test.csv"
SAMPLE_SUBMISSION = "sample_submission.csv"


def sample_labels(ids: np.ndarray, n_classes: int) -> np.ndarray:
    """The sample submission's class index for each test id: id mod the number of
    classes. Ids are a secret permutation of the test images, so it scores at chance."""
    return np.asarray(ids) % n_classes


CLASSES_TXT = "classes.txt"
DATA_README = "README.md"
SOLUTION_CSV = "solution.csv"
MANIFEST_JSON = "manifest.json"
FRESH_CSV = "fresh.csv"  # private/: the ids of the --fresh test images (grader prepare)

# The id grammar (docs/students.md, "grader validate"): ASCII digits only, spaces
# around them ignored, at most 20 of them, compared by value (007 is 7).
MAX_ID_DIGITS = 20
ID_GRAMMAR = f"a whole number of at most {MAX_ID_DIGITS} digits 0-9"


def canonical_id(text: str) -> str | None:
    """The canonical form of an id (no leading zeros), or None if it breaks the grammar.

    Never calls int(): a 5,000-digit "id" is refused by its length, not by
    Python's integer-string limit, and signs, '_', '1e3' or Unicode digits
    (which int() would accept) are refused too.
    """
    text = text.strip()
    if not (0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    return text.lstrip("0") or "0"


@dataclass(frozen=True)
class Bundle:
    """The public competition files, checked and loaded.

    Images are read-only memory maps of shape (N, 32, 32, 3), dtype uint8.
    `train_labels` holds class indices into `classes`.
    """

    root: Path
    classes: tuple[str, ...]
    train_images: np.ndarray
    train_ids: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_ids: np.ndarray


def resolve_public_dir(path: str | Path) -> Path:
    """Return the folder holding the public files.

    Accepts the public folder itself or the bundle root above it
    (`competition/` as well as `competition/public/`).
    """
    path = Path(path)
    if not (path / CLASSES_TXT).exists() and (path / "public" / CLASSES_TXT).exists():
        return path / "public"
    return path


def load_bundle(path: str | Path) -> Bundle:
    """Load and check the public files of a bundle written by `grader prepare`.

    Raises BundleError naming the first bad file (and line) found.
    """
    root = resolve_public_dir(path)
    if not root.is_dir():
        what = "a file, not a folder" if root.exists() else "no such folder"
        raise BundleError(
            f"{root}: {what}. Build the competition first with `grader prepare`, "
            "or pass the folder that holds classes.txt and the .npy files."
        )
    classes = read_classes(root / CLASSES_TXT)
    train_images = _load_images(root / TRAIN_IMAGES)
    test_images = _load_images(root / TEST_IMAGES)
    train_ids, train_labels = read_id_csv(root / TRAIN_CSV, ("id", "label"), classes)
    test_ids, _ = read_id_csv(root / TEST_CSV, ("id",), classes)
    _check_count(root / TRAIN_CSV, len(train_ids), root / TRAIN_IMAGES, len(train_images))
    _check_count(root / TEST_CSV, len(test_ids), root / TEST_IMAGES, len(test_images))
    return Bundle(
        root=root,
        classes=classes,
        train_images=train_images,
        train_ids=train_ids,
        train_labels=train_labels,
        test_images=test_images,
        test_ids=test_ids,
    )


def read_classes(path: Path) -> tuple[str, ...]:
    """Read classes.txt: one unique, non-empty class name per line, in index order."""
    text = _read_text(path)
    names = text.splitlines()
    if not names:
        raise BundleError(f"{path}: empty; it must list the class names, one per line.")
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if not name.strip():
            raise BundleError(f"{path} line {number}: empty class name.")
        if name in seen:
            raise BundleError(f"{path} line {number}: class {name!r} repeats line {seen[name]}.")
        seen[name] = number
    return tuple(names)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise BundleError(
            f"{path}: missing. The bundle is incomplete; rebuild it with `grader prepare`."
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{path}: not UTF-8 text ({exc.reason}).") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror or exc}).") from None


def _load_images(path: Path) -> np.ndarray:
    if not path.is_file():
        raise BundleError(
            f"{path}: missing. The bundle is incomplete; rebuild it with `grader prepare`."
        )
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise BundleError(f"{path}: not a readable NumPy .npy file ({exc}).") from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise BundleError(
            f"{path}: expected uint8 images of shape (N, 32, 32, 3), "
            f"found {images.dtype} {images.shape}."
        )
    return images


def read_id_csv(
    path: Path, header: tuple[str, ...], classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Read an `id[,label]` CSV written by prepare; labels come back as class indices."""
    rows = list(csv.reader(_read_text(path).splitlines()))
    if not rows or tuple(rows[0]) != header:
        found = ",".join(rows[0]) if rows else "nothing"
        raise BundleError(f"{path} line 1: expected header {','.join(header)!r}, found {found!r}.")
    index = {name: i for i, name in enumerate(classes)}
    ids = np.empty(len(rows) - 1, dtype=np.int64)
    labels = np.empty(len(rows) - 1 if len(header) == 2 else 0, dtype=np.int64)
    first_line: dict[int, int] = {}
    for row_number, row in enumerate(rows[1:]):
        line = row_number + 2
        if len(row) != len(header):
            raise BundleError(
                f"{path} line {line}: expected {len(header)} field(s), found {len(row)}."
            )
        ids[row_number] = parse_id(row[0], path, line)
        if ids[row_number] in first_line:
            raise BundleError(
                f"{path} line {line}: id {row[0]} repeats line {first_line[ids[row_number]]}."
            )
        first_line[ids[row_number]] = line
        if len(header) == 2:
            if row[1] not in index:
                raise BundleError(f"{path} line {line}: label {row[1]!r} is not in classes.txt.")
            labels[row_number] = index[row[1]]
    return ids, labels


def parse_id(text: str, path: Path, line: int) -> int:
    """An id of a bundle file (test.csv, solution.csv) as an int64, by the id grammar."""
    canonical = canonical_id(text)
    if canonical is None or int(canonical) > np.iinfo(np.int64).max:
        raise BundleError(
            f"{path} line {line}: id {text[:40]!r} is not {ID_GRAMMAR}; rebuild the "
            "bundle with `grader prepare`."
        )
    return int(canonical)


def _check_count(csv_path: Path, n_rows: int, npy_path: Path, n_images: int) -> None:
    if n_rows != n_images:
        raise BundleError(
            f"{csv_path}: {n_rows} rows, but {npy_path.name} holds {n_images} images; "
            "row i of the CSV must describe image i. Rebuild the bundle with `grader prepare`."
        )
