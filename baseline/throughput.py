"""Images/s of three training loops with the same model and batch, for the benchmarks.

benchmarks/bench_train.py (a table) and benchmarks/gpu_check.py (one JSON, on
any CUDA machine or as a Kaggle script kernel) measure with these:

* `ceiling`: synthetic float tensors already on the device, channels_last, the
  kit's mixed precision: only the model's forward/backward/step;
* `kit`: the real `baseline.lesson.train_one_epoch` run by the engine's
  `Training`: uint8 32x32 batches from a NumPy array, pinned, moved, cropped,
  resized, flipped and normalised on the device;
* `naive`: what a student writes first: a DataLoader whose workers run
  torchvision v2 transforms image by image on the CPU (ToImage, ToDtype,
  RandomResizedCrop, RandomHorizontalFlip, Normalize), in a given precision and
  memory format (the kit's, so that the ratio compares pipelines; or fp32, so
  that the AMP factor is shown apart).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.v2 as T
from torch.utils.data import DataLoader, Dataset

from baseline import lesson
from baseline.checkpoint import TrainState
from baseline.config import TrainConfig
from baseline.data import ImageRows, make_loader
from baseline.devices import make_accelerator
from baseline.engine import Loaders, Training
from baseline.transforms import IMAGENET_MEAN, IMAGENET_STD


def build(model_name: str, device: torch.device, channels_last: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.get_model(model_name, weights=None, num_classes=10).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ceiling(cfg: TrainConfig, steps: int, warmup: int) -> float:
    """Images/s of forward/backward/step alone, on tensors already on the device."""
    acc = make_accelerator(cfg)
    model = build(cfg.model, acc.device, channels_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    model, optimizer = acc.prepare(model, optimizer)
    x = torch.randn(cfg.batch_size, 3, cfg.image_size, cfg.image_size, device=acc.device)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (cfg.batch_size,), device=acc.device)
    for i in range(warmup + steps):
        if i == warmup:
            sync(acc.device)
            start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        acc.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync(acc.device)
    return steps * cfg.batch_size / (time.perf_counter() - start)


def kit_training(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray, steps: int) -> Training:
    """The engine's Training over `steps` batches of the arrays, as baseline.train sets it
    up (model and loader prepared by Accelerate), for lesson.train_one_epoch."""
    acc = make_accelerator(cfg)
    model = build(cfg.model, acc.device, channels_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    rows = np.arange(steps * cfg.batch_size)
    loader = make_loader(
        ImageRows(images, labels, rows), cfg.batch_size, cfg.seed, acc.device.type == "cuda"
    )
    shuffle = loader.sampler
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    loaders = Loaders(loader, None, None, None)
    return Training(acc, cfg, model, optimizer, loaders, shuffle, TrainState.fresh(cfg))


def kit(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    """Images/s of the kit's own training epoch (the second one: the first warms up)."""
    t = kit_training(cfg, images, labels, steps)
    lesson.train_one_epoch(t, 0)
    sync(t.accelerator.device)
    return lesson.train_one_epoch(t, 1)["images_per_s"]


class PerImage(Dataset):
    """A student's dataset: one PIL-free tensor transform per image, on the CPU."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, size: int) -> None:
        self.images, self.labels = images, labels
        self.transform = T.Compose(
            [
                T.ToImage(),
                T.ToDtype(torch.float32, scale=True),
                T.RandomResizedCrop((size, size), antialias=True),
                T.RandomHorizontalFlip(),
                T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
            ]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), int(self.labels[i])


def naive(
    cfg: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    steps: int,
    warmup: int,
    workers: int,
    device: torch.device,
    precision: str = "no",
    channels_last: bool = False,
) -> float:
    """Images/s of a loop with per-image CPU transforms in DataLoader workers, in
    `precision` ("no", "fp16" with a gradient scaler, or "bf16") and memory format."""
    model = build(cfg.model, device, channels_last=channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    n = (warmup + steps) * cfg.batch_size
    loader = DataLoader(
        PerImage(images[:n], labels[:n], cfg.image_size),
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
    )
    for i, (x, y) in enumerate(loader):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - start)
