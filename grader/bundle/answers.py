"""What a submission is checked and scored against.

`load_public_key` reads only public files (test.csv, classes.txt): enough for a
student to validate a file. `load_solution` reads the TA's hidden
private/solution.csv, which adds the true labels and the Public/Private split,
and private/fresh.csv beside it when `grader prepare --fresh` wrote one: which
test rows are fresh images (all Private).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from grader.bundle.files import (
    CIFAR10_CLASSES,
    CLASSES_TXT,
    FRESH_CSV,
    MANIFEST_JSON,
    TEST_CSV,
    parse_id,
    read_classes,
    read_id_csv,
    resolve_public_dir,
)
from grader.core.errors import BundleError

USAGES = ("Public", "Private")
SPLITS = ("public", "private", "all")


@dataclass(frozen=True)
class AnswerKey:
    """Test ids and classes; with the solution, also labels and the Public mask.

    `ids[i]`, `labels[i]` and `public[i]` describe test row i; `labels` and
    `public` are None for a key built from public files only. `fresh[i]` says
    whether row i is a fresh image (private/fresh.csv); None without that file.
    """

    ids: np.ndarray
    classes: tuple[str, ...]
    labels: np.ndarray | None = None
    public: np.ndarray | None = None
    source: str = ""
    fresh: np.ndarray | None = None

    def position_of(self) -> dict[str, int]:
        """Map the canonical text of each id (see bundle.canonical_id) to its row."""
        return {str(int(i)): row for row, i in enumerate(self.ids)}

    def mask(self, split: str) -> np.ndarray:
        """The test rows of a split: "public", "private" or "all" (the one split switch)."""
        if split == "public":
            return self.public
        if split == "private":
            return ~self.public
        if split == "all":
            return np.ones(len(self.ids), dtype=bool)
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def load_public_key(public_dir: str | Path) -> AnswerKey:
    """Read test ids and classes from a bundle's public folder."""
    root = resolve_public_dir(public_dir)
    if root.is_file():
        raise BundleError(
            f"--competition {root}: a file, not a folder. Pass the folder that holds the "
            "competition's public files (test.csv, classes.txt)."
        )
    if not (root / TEST_CSV).is_file():
        raise BundleError(
            f"{root / TEST_CSV}: missing. Pass --competition the folder that holds the "
            "competition's public files (test.csv, classes.txt)."
        )
    classes = read_classes(root / CLASSES_TXT)
    ids, _ = read_id_csv(root / TEST_CSV, ("id",), classes)
    if not len(ids):
        raise BundleError(
            f"{root / TEST_CSV}: holds no test ids; rebuild it with `grader prepare`."
        )
    return AnswerKey(ids=ids, classes=classes, source=str(root))


def load_solution(path: str | Path) -> AnswerKey:
    """Read private/solution.csv (`id,label,Usage`), and fresh.csv beside it if present.

    Classes come from the bundle's manifest.json beside it, else CIFAR-10's.
    """
    path = Path(path)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise BundleError(
            f"{path}: {what}. Pass --solution the private/solution.csv that `grader prepare` wrote."
        )
    classes = _classes_beside(path)
    index = {name: i for i, name in enumerate(classes)}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BundleError(
            f"{path}: not the solution.csv that `grader prepare` wrote ({exc})."
        ) from None
    if not rows or rows[0] != ["id", "label", "Usage"]:
        found = ",".join(rows[0]) if rows else "nothing"
        raise BundleError(f"{path} line 1: expected header 'id,label,Usage', found {found!r}.")
    ids, labels, public = [], [], []
    seen: set[int] = set()
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 3 or row[1] not in index or row[2] not in USAGES:
            raise BundleError(
                f"{path} line {line}: expected id,label,Usage with a class from "
                f"classes.txt and Usage Public or Private, found {','.join(row)!r}."
            )
        ids.append(parse_id(row[0], path, line))
        if ids[-1] in seen:
            raise BundleError(f"{path} line {line}: id {row[0]} appears twice.")
        seen.add(ids[-1])
        labels.append(index[row[1]])
        public.append(row[2] == "Public")
    if not ids:
        raise BundleError(f"{path}: holds no test ids; rebuild it with `grader prepare`.")
    key = AnswerKey(
        ids=np.asarray(ids, np.int64),
        classes=classes,
        labels=np.asarray(labels, np.int64),
        public=np.asarray(public, bool),
        source=str(path),
    )
    fresh_csv = path.parent / FRESH_CSV
    if not fresh_csv.exists():
        return key
    return replace(key, fresh=read_fresh(fresh_csv, key))


def read_fresh(path: Path, key: AnswerKey) -> np.ndarray:
    """Which test rows of `key` private/fresh.csv (`id`) lists: each a Private id of the
    solution, listed once."""
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError as exc:
        raise BundleError(f"{path}: not UTF-8 text ({exc.reason}).") from None
    if not rows or rows[0] != ["id"]:
        found = ",".join(rows[0]) if rows else "nothing"
        raise BundleError(f"{path} line 1: expected header 'id', found {found!r}.")
    position = {int(i): row for row, i in enumerate(key.ids)}
    fresh = np.zeros(len(key.ids), dtype=bool)
    for line, row in enumerate(rows[1:], start=2):
        test_id = parse_id(row[0] if len(row) == 1 else ",".join(row), path, line)
        where = position.get(test_id)
        if where is None or key.public[where] or fresh[where]:
            problem = (
                "is not in solution.csv"
                if where is None
                else "is Public in solution.csv; fresh images are all Private"
                if key.public[where]
                else "appears twice"
            )
            raise BundleError(
                f"{path} line {line}: id {row[0]} {problem}. It must list the fresh images "
                "that `grader prepare --fresh` added; rebuild the bundle."
            )
        fresh[where] = True
    return fresh


def _classes_beside(solution: Path) -> tuple[str, ...]:
    manifest = solution.parent / MANIFEST_JSON
    if manifest.is_file():
        try:
            return tuple(json.loads(manifest.read_text(encoding="utf-8"))["classes"])
        except OSError as exc:
            raise BundleError(f"{manifest}: cannot be read ({exc.strerror or exc}).") from None
        except (ValueError, KeyError, TypeError):
            raise BundleError(f"{manifest}: not a manifest written by `grader prepare`.") from None
    return CIFAR10_CLASSES
