"""Keep the CIFAR-10.1 authors' model predictions as a compact fixture.

Run (a few seconds; no network, no GPU):
    python benchmarks/make_cifar101_fixture.py --repo PATH

PATH is a clone of github.com/modestyachts/CIFAR-10.1 (a work tree, or a bare
git directory read with `git show HEAD:...`). The repository publishes the
predictions of 30 CIFAR-10 models (shake-shake, WRN, ResNeXt, PyramidNet,
DenseNet, ResNets, VGG, cuda-convnet, random features, AlexNet) on the
original CIFAR-10 test set (`model_predictions/original_predictions/*.json`,
10,000 class indices in the official test_batch order) and on CIFAR-10.1 v6
(`model_predictions/v6_predictions/*.json`, 2,000), and the v6 labels
(`datasets/cifar10.1_v6_labels.npy`). Writes
`benchmarks/data/cifar101_predictions.npz`:

* `names` (30,): the model names (the JSON files' stems without `_predictions`);
* `original` uint8 (30, 10000): each model's class per original test image;
* `fresh` uint8 (30, 2000): each model's class per CIFAR-10.1 v6 image;
* `fresh_labels` uint8 (2000,): the v6 labels;
* `original_labels` uint8 (10000,): the original test labels **as the 30
  models' majority vote** (ties to the lowest class index). The repository
  does not hold CIFAR-10's own test labels, and none can be downloaded here;
  bench_fresh.py prints how far the vote can be from the truth.

Licence: the repository's code is MIT (its LICENSE file); its README says the
LICENSE does not apply to the image and label data in its datasets/ folder,
which "is part of the Tiny Images dataset and can be used the same way as the
Tiny Images dataset". No image is kept here; the v6 labels are, as the
benchmark's ground truth (benchmarks/data/README.md).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "benchmarks" / "data" / "cifar101_predictions.npz"
ORIGINAL = "model_predictions/original_predictions"
FRESH = "model_predictions/v6_predictions"
FRESH_LABELS = "datasets/cifar10.1_v6_labels.npy"


class Repository:
    """Read files of a CIFAR-10.1 clone, whether a work tree or a bare git directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bare = not (path / ORIGINAL).is_dir()

    def names(self, folder: str) -> list[str]:
        if not self.bare:
            return sorted(p.name for p in (self.path / folder).iterdir())
        listing = self._git("ls-tree", "--name-only", f"HEAD:{folder}").decode()
        return sorted(listing.split())

    def read(self, relative: str) -> bytes:
        if not self.bare:
            return (self.path / relative).read_bytes()
        return self._git("show", f"HEAD:{relative}")

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True
        ).stdout


def majority_vote(predictions: np.ndarray) -> np.ndarray:
    """Per image, the class most models predict (ties: the lowest class index)."""
    votes = np.zeros((predictions.shape[1], 10), np.int64)
    for row in predictions:
        votes[np.arange(len(row)), row] += 1
    return votes.argmax(axis=1)


def build(repo: Repository) -> dict[str, np.ndarray]:
    """The fixture's arrays, read from `repo`."""
    files = [n for n in repo.names(ORIGINAL) if n.endswith("_predictions.json")]
    if files != [n for n in repo.names(FRESH) if n.endswith("_predictions.json")]:
        raise SystemExit("the original and v6 prediction folders name different models")
    original = np.stack([json.loads(repo.read(f"{ORIGINAL}/{n}")) for n in files])
    fresh = np.stack([json.loads(repo.read(f"{FRESH}/{n}")) for n in files])
    fresh_labels = np.load(io.BytesIO(repo.read(FRESH_LABELS)), allow_pickle=False)
    if original.shape != (len(files), 10_000) or fresh.shape != (len(files), 2_000):
        raise SystemExit(f"unexpected shapes {original.shape} and {fresh.shape}")
    return {
        "names": np.array([n.removesuffix("_predictions.json") for n in files]),
        "original": original.astype(np.uint8),
        "fresh": fresh.astype(np.uint8),
        "fresh_labels": fresh_labels.astype(np.uint8),
        "original_labels": majority_vote(original).astype(np.uint8),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="a CIFAR-10.1 clone")
    parser.add_argument("--out", type=Path, default=FIXTURE, help=f"(default: {FIXTURE})")
    args = parser.parse_args()
    arrays = build(Repository(args.repo))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB): {len(arrays['names'])} models"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
