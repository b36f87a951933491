"""Read CIFAR-10 from any of the places a TA may have it.

Three kinds of source, all giving the same `RawDataset` (uint8 HWC images and
integer labels in the standard class order):

* ``torchvision``: the official archive fetched into a cache folder, the same
  file (URL and md5) that ``torchvision.datasets.CIFAR10(download=True)``
  fetches, in the same layout, so an existing torchvision data root can serve
  as the cache. The grader never imports torch (docs/architecture.md), so the download is
  done here with the standard library rather than through torchvision.
* the official python release: ``cifar-10-python.tar.gz`` or its extracted
  ``cifar-10-batches-py/`` folder, checked against the official md5 sums.
* an ImageFolder tree ``train/<class>/*`` and ``test/<class>/*``, as a folder
  or a zip (the layout of many public mirrors and of the course's
  ``cifar10-images.zip``).

Images are always returned sorted (by class, then file name) so that the same
source gives the same arrays on every machine, whatever order a zip or a file
system lists them in.

Fresh test images (`grader prepare --fresh`, `load_fresh`) are images that are
not in CIFAR-10, such as CIFAR-10.1 (Recht et al. 2018,
github.com/modestyachts/CIFAR-10.1: ``cifar10.1_v6_data.npy`` with
``cifar10.1_v6_labels.npy`` beside it) or the TA's own 32x32 photos as an
ImageFolder ``<class>/<image>`` folder or zip. `check_new` refuses any that is
byte-identical to a CIFAR-10 image of the source.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import pickle
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image
from tqdm import tqdm

from grader.bundle.files import CIFAR10_CLASSES, IMAGE_SHAPE
from grader.core.constants import CACHE_NAME, TORCHVISION
from grader.core.errors import SourceError, UsageError
from grader.core.fileio import file_digest
from grader.core.progress import bars

# Facts of the official release (https://www.cs.toronto.edu/~kriz/cifar.html); the
# md5 sums are the ones torchvision's CIFAR10 dataset checks its download against.
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_ARCHIVE = "cifar-10-python.tar.gz"
OFFICIAL_FOLDER = "cifar-10-batches-py"
OFFICIAL_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_FILE_MD5 = {
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)

# Environment variable naming a mirror of the official archive (a local copy served
# over HTTP, or a test server): the download itself is unchanged.
URL_ENV = "GRADER_CIFAR10_URL"
# What torchvision's ImageFolder accepts as images.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
)
SPLITS = ("train", "test")
DOWNLOAD_TIMEOUT_S = 30


@dataclass
class RawDataset:
    """CIFAR-10 as read from a source, before any shuffling or splitting."""

    train_images: np.ndarray  # uint8 (N, 32, 32, 3)
    train_labels: np.ndarray  # int64 class indices
    test_images: np.ndarray
    test_labels: np.ndarray
    kind: str  # how the source was read, e.g. "imagefolder-zip"
    location: str  # absolute path (or URL) of the source
    checksums: str = "not-applicable"  # "official", "differ" or "not-applicable"
    warnings: list[str] = field(default_factory=list)


def default_cache_dir() -> Path:
    """Where `--source torchvision` keeps the archive: $XDG_CACHE_HOME/cifar10-kit, else
    ~/.cache/cifar10-kit."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / CACHE_NAME


def load_source(
    spec: str, cache_dir: Path | None = None, progress: bool | None = None
) -> RawDataset:
    """Read CIFAR-10 from `spec`: "torchvision" or the path of a file or folder."""
    if spec == TORCHVISION:
        cached = fetch_official(cache_dir or default_cache_dir(), progress)
        try:
            return _load_official(cached)
        except SourceError as exc:
            raise SourceError(
                f"{exc} It is the download cache's copy: delete {cached} and run again."
            ) from None
    path = Path(spec).expanduser()
    if not path.exists():
        raise UsageError(
            f"--source {spec}: no such file or folder. Use --source torchvision to download "
            "CIFAR-10, or give the path of cifar-10-python.tar.gz, a cifar-10-batches-py "
            "folder, or an ImageFolder tree (train/<class>/*, test/<class>/*) or its .zip."
        )
    if path.is_file():
        if zipfile.is_zipfile(path):
            return _load_imagefolder(_ZipTree(path), progress)
        if tarfile.is_tarfile(path):
            return _load_official(path)
        raise SourceError(
            f"{path}: neither a .zip of an ImageFolder tree nor the official "
            f"{OFFICIAL_ARCHIVE}. Check the file, or point --source at a folder."
        )
    if (path / OFFICIAL_FOLDER).is_dir():
        path = path / OFFICIAL_FOLDER
    if any((path / name).exists() for name in OFFICIAL_FILE_MD5):
        return _load_official(path)
    return _load_imagefolder(_FolderTree(path), progress)


# ----------------------------------------------------------------------------
# Download (the torchvision source)
# ----------------------------------------------------------------------------


def fetch_official(cache_dir: Path, progress: bool | None = None) -> Path:
    """Return the official archive or folder in `cache_dir`, downloading it if absent."""
    if (cache_dir / OFFICIAL_FOLDER / "batches.meta").is_file():
        return cache_dir / OFFICIAL_FOLDER
    archive = cache_dir / OFFICIAL_ARCHIVE
    if archive.is_file():
        return archive
    url = os.environ.get(URL_ENV) or OFFICIAL_URL
    partial = archive.with_name(archive.name + ".part")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                partial.open("wb") as out,
                _bar(total, "Downloading CIFAR-10", progress, "B") as bar,
            ):
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        partial.replace(archive)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise SourceError(
            f"could not download CIFAR-10 from {url} ({reason}). Offline? Pass a local copy "
            f"with --source PATH: {OFFICIAL_ARCHIVE}, its {OFFICIAL_FOLDER} folder, or an "
            "ImageFolder tree or .zip."
        ) from None
    return archive


# ----------------------------------------------------------------------------
# The official python release
# ----------------------------------------------------------------------------


def _load_official(path: Path) -> RawDataset:
    """Read the official release from its .tar.gz or its extracted folder."""
    if path.is_file():
        files, location = _read_archive_members(path), str(path.resolve())
        got = file_digest(path, "md5")
        differ = [] if got == OFFICIAL_ARCHIVE_MD5 else [f"{path.name} (md5 {got})"]
    else:
        files, location = _read_folder_members(path), str(path.resolve())
        sums = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
        differ = [
            f"{name} (md5 {md5})" for name, md5 in sums.items() if md5 != OFFICIAL_FILE_MD5[name]
        ]
    _check_meta(files["batches.meta"], f"{location}/batches.meta")
    train_images, train_labels = _read_batches(files, TRAIN_BATCHES, location)
    test_images, test_labels = _read_batches(files, TEST_BATCHES, location)
    raw = RawDataset(
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        kind="cifar-python-archive" if path.is_file() else "cifar-python-folder",
        location=location,
        checksums="differ" if differ else "official",
    )
    if differ:
        raw.warnings.append(
            f"{location}: checksum differs from the official CIFAR-10 release for "
            f"{', '.join(differ)}. A re-encoded or modified copy? Building from it anyway; "
            "the manifest records this."
        )
    return raw


def _read_archive_members(path: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {
                PurePosixPath(m.name).name: m
                for m in tar.getmembers()
                if m.isfile() and PurePosixPath(m.name).parent.name == OFFICIAL_FOLDER
            }
            _require_all(members, f"{path}: {OFFICIAL_FOLDER}/")
            return {name: tar.extractfile(members[name]).read() for name in OFFICIAL_FILE_MD5}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read the archive ({exc}).") from None


def _read_folder_members(folder: Path) -> dict[str, bytes]:
    present = {name: folder / name for name in OFFICIAL_FILE_MD5 if (folder / name).is_file()}
    _require_all(present, f"{folder}/")
    return {name: file.read_bytes() for name, file in present.items()}


def _require_all(present: Iterable[str], where: str) -> None:
    missing = [name for name in OFFICIAL_FILE_MD5 if name not in set(present)]
    if missing:
        raise SourceError(
            f"{where}{missing[0]}: missing. The official layout has batches.meta, "
            "data_batch_1 ... data_batch_5 and test_batch."
        )


class _BatchUnpickler(pickle.Unpickler):
    """Unpickle a CIFAR-10 batch, refusing everything but NumPy arrays.

    Pickle can run arbitrary code, and a source file comes from who knows where:
    only the few globals that a pickled ndarray needs are allowed.
    """

    def find_class(self, module: str, name: str) -> object:
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR-10 batch holds only arrays and lists"
            )
        return allowed[(module, name)]


def _allowed_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy < 2
        from numpy.core import multiarray
    table: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "_reconstruct")] = multiarray._reconstruct
        table[(module, "scalar")] = multiarray.scalar
    return table


def _unpickle(data: bytes, where: str) -> dict[str, object]:
    try:
        obj = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # any malformed pickle: report, never crash
        raise SourceError(f"{where}: not a readable CIFAR-10 batch ({exc}).") from None
    if not isinstance(obj, dict):
        raise SourceError(f"{where}: expected a pickled dict, found {type(obj).__name__}.")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _check_meta(data: bytes, where: str) -> None:
    names = _unpickle(data, where).get("label_names")
    decoded = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names or ())
    if decoded != CIFAR10_CLASSES:
        raise SourceError(
            f"{where}: label_names are {list(decoded)}, not the CIFAR-10 classes "
            f"{list(CIFAR10_CLASSES)}."
        )


def _read_batches(
    files: dict[str, bytes], names: tuple[str, ...], location: str
) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for name in names:
        where = f"{location}/{name}"
        batch = _unpickle(files[name], where)
        data, batch_labels = batch.get("data"), batch.get("labels")
        if (
            not isinstance(data, np.ndarray)
            or data.dtype != np.uint8
            or data.ndim != 2
            or data.shape[1] != 3 * 32 * 32
        ):
            found = (
                f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else repr(type(data))
            )
            raise SourceError(
                f"{where}: 'data' must be uint8 rows of 3072 values (3 x 32 x 32, channel "
                f"first), found {found}."
            )
        batch_labels = np.asarray(batch_labels if batch_labels is not None else [], np.int64)
        if batch_labels.shape != (len(data),) or not np.all(
            (batch_labels >= 0) & (batch_labels < 10)
        ):
            raise SourceError(
                f"{where}: 'labels' must be {len(data)} integers in 0..9, "
                f"found {batch_labels.shape[0]} values."
            )
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


# ----------------------------------------------------------------------------
# ImageFolder trees, as a folder or a zip
# ----------------------------------------------------------------------------


class _FolderTree:
    """A folder seen as relative POSIX paths plus a byte reader."""

    def __init__(self, root: Path) -> None:
        self.location = str(root.resolve())
        self.kind = "imagefolder-folder"
        self._root = root

    def paths(self) -> list[str]:
        return [p.relative_to(self._root).as_posix() for p in self._root.rglob("*") if p.is_file()]

    @contextmanager
    def open(self) -> Iterator[Callable[[str], bytes]]:
        yield lambda rel: (self._root / rel).read_bytes()


class _ZipTree:
    """A zip file seen as relative POSIX paths plus a byte reader."""

    def __init__(self, path: Path) -> None:
        self.location = str(path.resolve())
        self.kind = "imagefolder-zip"
        self._path = path

    def paths(self) -> list[str]:
        with zipfile.ZipFile(self._path) as archive:
            return [i.filename for i in archive.infolist() if not i.is_dir()]

    @contextmanager
    def open(self) -> Iterator[Callable[[str], bytes]]:
        with zipfile.ZipFile(self._path) as archive:
            yield archive.read


def _load_imagefolder(tree: _FolderTree | _ZipTree, progress: bool | None) -> RawDataset:
    """Decode every image of `train/<class>/*` and `test/<class>/*` in a tree."""
    warnings: list[str] = []
    files = _group_imagefolder(tree.paths(), tree.location, warnings)
    total = sum(len(names) for per_class in files.values() for names in per_class.values())
    arrays = {}
    with tree.open() as read, _bar(total, "Decoding images", progress, "img") as bar:
        for split in SPLITS:
            arrays[split] = _decode_split(files[split], read, tree.location, bar)
    (train_images, train_labels), (test_images, test_labels) = arrays["train"], arrays["test"]
    return RawDataset(
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        kind=tree.kind,
        location=tree.location,
        warnings=warnings,
    )


def _group_imagefolder(
    paths: list[str], location: str, warnings: list[str]
) -> dict[str, dict[int, list[str]]]:
    """Sort a tree's files into split -> class index -> sorted paths, checking the layout."""
    paths = [
        p for p in paths if not any(part.startswith((".", "__MACOSX")) for part in p.split("/"))
    ]
    prefix = _split_prefix(paths, location)
    by_name = {name.lower(): index for index, name in enumerate(CIFAR10_CLASSES)}
    files: dict[str, dict[int, list[str]]] = {split: {} for split in SPLITS}
    ignored: list[str] = []
    for path in sorted(paths):
        parts = path.split("/")[len(prefix) :]
        if not parts or parts[0] not in SPLITS:
            continue
        if len(parts) != 3 or PurePosixPath(path).suffix.lower() not in IMAGE_EXTENSIONS:
            ignored.append(path)
            continue
        split, folder, _ = parts
        if folder.lower() not in by_name:
            raise SourceError(
                f"{location}: {'/'.join([*prefix, split, folder])}: unknown class folder "
                f"{folder!r}. The CIFAR-10 classes are {', '.join(CIFAR10_CLASSES)}."
            )
        files[split].setdefault(by_name[folder.lower()], []).append(path)
    for split in SPLITS:
        for index, name in enumerate(CIFAR10_CLASSES):
            if index not in files[split]:
                raise SourceError(
                    f"{location}: {'/'.join([*prefix, split])}/ has no images of class {name!r}. "
                    "An ImageFolder source needs a folder of images for each of the 10 classes "
                    "in both train/ and test/."
                )
    if ignored:
        warnings.append(
            f"{location}: ignored {len(ignored)} file(s) that are not images in "
            f"train/<class>/ or test/<class>/ (first: {ignored[0]})."
        )
    return files


def _split_prefix(paths: list[str], location: str) -> list[str]:
    """The folders above train/ and test/ (none, or e.g. ["cifar10"] in a zip)."""
    candidates = set()
    for path in paths:
        parts = path.split("/")
        for i, part in enumerate(parts[:-2]):
            if part in SPLITS:
                candidates.add(tuple(parts[:i]))
                break
    if not candidates:
        raise SourceError(
            f"{location}: found no train/<class>/<image> or test/<class>/<image> files. An "
            "ImageFolder source holds train/airplane/0000.jpg ... test/truck/0999.jpg (as in "
            "cifar10-images.zip); the official release is cifar-10-python.tar.gz."
        )
    return list(min(candidates, key=len))


def _decode_split(
    per_class: dict[int, list[str]],
    read: Callable[[str], bytes],
    location: str,
    bar: tqdm,
) -> tuple[np.ndarray, np.ndarray]:
    count = sum(len(names) for names in per_class.values())
    images = np.empty((count, *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    row = 0
    for index in sorted(per_class):
        for path in per_class[index]:
            images[row] = _decode_image(read(path), f"{location}: {path}")
            labels[row] = index
            row += 1
            bar.update(1)
    return images, labels


SIZE_ADVICE = "CIFAR-10 images are 32x32. Remove it or use an unresized copy of the data set."


def _decode_image(data: bytes, where: str, size_advice: str = SIZE_ADVICE) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.size != IMAGE_SHAPE[:2]:
                raise SourceError(
                    f"{where}: image is {image.size[0]}x{image.size[1]} pixels; {size_advice}"
                )
            return np.asarray(image.convert("RGB"))
    except SourceError:
        raise
    except Exception as exc:  # PIL raises many types for broken files
        raise SourceError(f"{where}: cannot decode image ({exc}).") from None


# ----------------------------------------------------------------------------
# Fresh test images (--fresh): CIFAR-10.1's .npy files, or an ImageFolder of classes
# ----------------------------------------------------------------------------


@dataclass
class FreshImages:
    """Test images new to CIFAR-10, with their labels, as read from `--fresh`."""

    images: np.ndarray  # uint8 (N, 32, 32, 3)
    labels: np.ndarray  # int64 class indices
    names: list[str]  # where each image came from ("row 17", "cat/0003.png")
    kind: str  # "cifar10.1-npy", "imagefolder-folder" or "imagefolder-zip"
    location: str  # absolute path of the data file, zip or folder
    sha256: dict[str, str]  # file name -> sha256 (a folder: one digest of the whole tree)
    warnings: list[str] = field(default_factory=list)


FRESH_SIZE_ADVICE = "fresh images must be 32x32, like CIFAR-10's. Resize them first."
FRESH_LAYOUT = (
    "Give CIFAR-10.1's <name>_data.npy (with <name>_labels.npy beside it), or a folder or .zip "
    "of <class>/<image> files."
)


def load_fresh(spec: str, progress: bool | None = None) -> FreshImages:
    """Read `--fresh`: CIFAR-10.1's `*_data.npy` (labels in `*_labels.npy` beside it), or an
    ImageFolder folder or zip `<class>/<image>` of 32x32 images (one top folder allowed)."""
    path = Path(spec).expanduser()
    flag = f"--fresh {spec}"
    if not path.exists():
        raise UsageError(f"{flag}: no such file or folder. {FRESH_LAYOUT}")
    if path.is_dir():
        return _load_fresh_tree(_FolderTree(path), flag, progress)
    if path.suffix.lower() == ".npy":
        return _load_fresh_npy(path, flag)
    if zipfile.is_zipfile(path):
        return _load_fresh_tree(_ZipTree(path), flag, progress)
    raise SourceError(f"{flag}: neither a .npy file nor a .zip. {FRESH_LAYOUT}")


def _load_fresh_npy(path: Path, flag: str) -> FreshImages:
    """CIFAR-10.1's release: uint8 (N, 32, 32, 3) images and N integer labels, two files."""
    if not path.name.endswith("_data.npy"):
        raise SourceError(f"{flag}: a .npy source must be named <name>_data.npy. {FRESH_LAYOUT}")
    labels_path = path.with_name(path.name.removesuffix("_data.npy") + "_labels.npy")
    if not labels_path.is_file():
        raise SourceError(f"{flag}: {labels_path.name} (its labels) is missing beside it.")
    images, labels = _read_npy(path, flag), _read_npy(labels_path, f"--fresh {labels_path}")
    if images.ndim == 4 and images.shape[3] == 3 and images.shape[1:3] != IMAGE_SHAPE[:2]:
        raise SourceError(
            f"{flag}: images are {images.shape[2]}x{images.shape[1]} pixels; {FRESH_SIZE_ADVICE}"
        )
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise SourceError(
            f"{flag}: expected uint8 images of shape (N, 32, 32, 3), found {images.dtype} "
            f"{images.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
        raise SourceError(
            f"--fresh {labels_path}: expected {len(images)} integer labels, one per image of "
            f"{path.name}, found {labels.dtype} {labels.shape}."
        )
    unknown = np.flatnonzero((labels < 0) | (labels >= len(CIFAR10_CLASSES)))
    if len(unknown):
        row = int(unknown[0])
        raise SourceError(
            f"--fresh {labels_path}: row {row}: label {int(labels[row])} is not a CIFAR-10 "
            f"class (0-9: {', '.join(CIFAR10_CLASSES)})."
        )
    return FreshImages(
        images=np.ascontiguousarray(images),
        labels=labels.astype(np.int64),
        names=[f"row {i}" for i in range(len(images))],
        kind="cifar10.1-npy",
        location=str(path.resolve()),
        sha256={p.name: file_digest(p) for p in (path, labels_path)},
    )


def _read_npy(path: Path, flag: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SourceError(f"{flag}: not a readable NumPy .npy file ({exc}).") from None


def _load_fresh_tree(tree: _FolderTree | _ZipTree, flag: str, progress: bool | None) -> FreshImages:
    """Decode every image of `<class>/<image>` in a folder or zip, sorted by class and name."""
    warnings: list[str] = []
    paths = _group_fresh(tree.paths(), flag, warnings)
    images = np.empty((len(paths), *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(len(paths), dtype=np.int64)
    by_name = {name: index for index, name in enumerate(CIFAR10_CLASSES)}
    tree_digest = hashlib.sha256()
    with tree.open() as read, _bar(len(paths), "Decoding fresh images", progress, "img") as bar:
        for row, path in enumerate(paths):
            data = read(path)
            tree_digest.update(f"{path} {hashlib.sha256(data).hexdigest()}\n".encode())
            images[row] = _decode_image(data, f"{flag}: {path}", FRESH_SIZE_ADVICE)
            labels[row] = by_name[path.split("/")[-2].lower()]
            bar.update(1)
    location = Path(tree.location)
    if tree.kind == "imagefolder-zip":
        digests = {location.name: file_digest(location)}
    else:  # one digest for the tree: sha256 of its "path sha256" lines, sorted by path
        digests = {f"{location.name}/": tree_digest.hexdigest()}
    return FreshImages(
        images=images,
        labels=labels,
        names=paths,
        kind=tree.kind,
        location=tree.location,
        sha256=digests,
        warnings=warnings,
    )


def _group_fresh(paths: list[str], flag: str, warnings: list[str]) -> list[str]:
    """The image paths of a `<class>/<image>` tree, sorted by class index then name;
    refuses a folder that is not a CIFAR-10 class and images at different depths."""
    paths = [
        p for p in paths if not any(part.startswith((".", "__MACOSX")) for part in p.split("/"))
    ]
    images = [p for p in paths if PurePosixPath(p).suffix.lower() in IMAGE_EXTENSIONS]
    others = sorted(set(paths) - set(images))
    if not images:
        raise SourceError(f"{flag}: holds no images. {FRESH_LAYOUT}")
    depths = sorted({p.count("/") for p in images})
    if depths[0] == 0 or len(depths) > 1:
        first = min(images, key=lambda p: (p.count("/"), p))
        raise SourceError(
            f"{flag}: {first}: every image must lie in a folder named after its class, all at "
            "one level (cat/0001.png, or photos/cat/0001.png in a zip)."
        )
    by_name = {name: index for index, name in enumerate(CIFAR10_CLASSES)}
    for path in sorted(images):
        folder = path.split("/")[-2]
        if folder.lower() not in by_name:
            raise SourceError(
                f"{flag}: {path.rsplit('/', 1)[0]}/: unknown class {folder!r}; fresh images "
                f"must be of the CIFAR-10 classes ({', '.join(CIFAR10_CLASSES)})."
            )
    if others:
        warnings.append(
            f"{flag}: ignored {len(others)} file(s) that are not images (first: {others[0]})."
        )
    return sorted(images, key=lambda p: (by_name[p.split("/")[-2].lower()], p))


def check_new(fresh: FreshImages, raw: RawDataset, flag: str) -> None:
    """Refuse fresh images byte-identical to a train or test image of CIFAR-10: their
    labels can be looked up, which is what fresh images are there to rule out."""
    digests = {_image_digest(image): row for row, image in enumerate(fresh.images)}
    found: dict[int, str] = {}  # fresh row -> the CIFAR-10 split holding its copy
    for split, images in (("train", raw.train_images), ("test", raw.test_images)):
        for image in images:
            row = digests.get(_image_digest(image))
            if row is not None and row not in found and np.array_equal(fresh.images[row], image):
                found[row] = split
    if found:
        first = min(found)
        more = f" (and {len(found) - 1} more fresh image(s))" if len(found) > 1 else ""
        raise SourceError(
            f"{flag}: {fresh.names[first]}{more} is byte-identical to a CIFAR-10 "
            f"{found[first]} image of --source; fresh images must be new, or their labels can "
            "be looked up. Remove them."
        )


def _image_digest(image: np.ndarray) -> bytes:
    return hashlib.blake2b(image.tobytes(), digest_size=16).digest()


def _bar(total: int | None, desc: str, progress: bool | None, unit: str) -> tqdm:
    """A progress bar on stderr; `progress=None` animates it only where a person watches
    (grader.core.progress) and otherwise prints one line when it closes."""
    shown = bars() if progress is None else progress
    return _Stage(
        total=total,
        desc=desc,
        unit=unit,
        disable=not shown,
        unit_scale=unit == "B",
        leave=False,
        plain_line=progress is None and not shown,
    )


class _Stage(tqdm):
    """tqdm that, when disabled for a log, still says in one line what it did."""

    def __init__(self, *args, plain_line: bool = False, **kwargs) -> None:
        self._plain_line, self._done, self._start = plain_line, 0, time.perf_counter()
        self._what, self._unit = kwargs.get("desc", ""), kwargs.get("unit", "it")
        super().__init__(*args, **kwargs)

    def update(self, n: float | None = 1) -> bool | None:
        self._done += n or 0
        return super().update(n)

    def close(self) -> None:
        if self._plain_line:
            self._plain_line = False
            done = self._done
            amount = f"{done / 1e6:,.1f} MB" if self._unit == "B" else f"{done:,} {self._unit}"
            seconds = time.perf_counter() - self._start
            print(f"{self._what}: {amount} in {seconds:.1f} s", file=sys.stderr)
        super().close()
