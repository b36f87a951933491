"""The bundle as training, validation and test batches of uint8 images.

Images stay uint8 32x32 on the CPU (memory-mapped from the bundle); a batch
is fetched with one fancy-indexing call (`__getitems__`), pinned, and sent to
the device, where `baseline.transforms` does the rest.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from baseline.errors import TrainingError
from grader.bundle.files import CIFAR10_CLASSES, Bundle, load_bundle
from grader.core.errors import BundleError


def load_competition(path: str) -> Bundle:
    """The bundle at --data, checked (grader.bundle.files), with CIFAR-10's classes."""
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        raise TrainingError(f"--data: {exc}") from None
    if bundle.classes != CIFAR10_CLASSES:
        raise TrainingError(
            f"--data: {bundle.root / 'classes.txt'} lists {list(bundle.classes)}; the baseline "
            f"is built for the 10 CIFAR-10 classes {list(CIFAR10_CLASSES)}. Rebuild the "
            "bundle with `grader prepare`."
        )
    return bundle


def check_split(train_rows: np.ndarray, val_rows: np.ndarray, val_fraction: float) -> None:
    """Refuse a split (the lesson's split_data, code a student may change) that leaves no
    image to train on or none to validate with, or validates on training images."""
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise TrainingError(
            f"--val-fraction {val_fraction}: leaves no training or no validation image out of "
            f"{len(train_rows) + len(val_rows)}; raise --train-limit or choose a fraction "
            "nearer 0.1."
        )
    both = np.intersect1d(train_rows, val_rows)
    if len(both):
        shown = ", ".join(str(row) for row in both[:5])
        raise TrainingError(
            f"split_data puts {len(both)} image(s) in both the training and the validation "
            f"rows (rows {shown}{', ...' if len(both) > 5 else ''}): validation images must "
            "never be trained on."
        )


class ImageRows(Dataset):
    """Rows of a uint8 image array, fetched a whole batch at a time."""

    def __init__(
        self, images: np.ndarray, labels: np.ndarray | None, rows: np.ndarray, policy=None
    ) -> None:
        self.images, self.labels, self.rows = images, labels, rows
        self.policy = policy  # per-image augmentation of uint8 (3, 32, 32) tensors, or None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = self.rows[np.asarray(indices)]
        order = np.argsort(rows)  # read the memory map in ascending order, then restore
        images = np.empty((len(rows), *self.images.shape[1:]), dtype=np.uint8)
        images[order] = self.images[rows[order]]
        labels = self.labels[rows] if self.labels is not None else np.full(len(rows), -1)
        batch = torch.from_numpy(images)
        if self.policy is not None:  # cheap at 32x32: ~0.1 ms an image on one core
            chw = batch.permute(0, 3, 1, 2)
            batch = torch.stack([self.policy(image) for image in chw]).permute(0, 2, 3, 1)
        return (
            batch.contiguous(),
            torch.from_numpy(np.asarray(labels, dtype=np.int64)),
            torch.from_numpy(rows.astype(np.int64)),
        )


def keep_batch(batch):
    """collate_fn: `ImageRows.__getitems__` already returns a whole batch."""
    return batch


class EpochShuffle(Sampler[int]):
    """A permutation drawn from (seed, epoch): the same on every process and after a resume."""

    def __init__(self, n: int, seed: int, limit: int | None = None) -> None:
        self.n, self.seed, self.epoch = n, seed, 0
        self.limit = n if limit is None else limit  # how many of the permutation to yield

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.limit

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator)[: self.limit].tolist())


def make_loader(
    dataset: ImageRows,
    batch_size: int,
    shuffle_seed: int | None,
    pin_memory: bool,
    step_batch: int | None = None,
) -> DataLoader:
    """A loader of global batches; Accelerate splits each one across processes.

    Training (a shuffle seed given) uses only whole optimizer steps of
    `step_batch` images (the global batch, made of `batch_size` micro-batches
    under gradient accumulation), so every step sees a full batch; evaluation
    keeps every image.
    """
    training = shuffle_seed is not None
    step_batch = step_batch or batch_size  # images per optimizer step (global batch)
    whole_steps = len(dataset) - len(dataset) % step_batch
    sampler = EpochShuffle(len(dataset), shuffle_seed, whole_steps) if training else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=keep_batch,
        pin_memory=pin_memory,
        num_workers=0,
        drop_last=training,
    )
