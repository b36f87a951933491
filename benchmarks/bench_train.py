"""Training throughput: the kit's loop against a compute-only ceiling and a naive loop.

Run:
    python benchmarks/bench_train.py                      # CPU: resnet18, 64 px, small
    python benchmarks/bench_train.py --model resnet50 --image-size 224 --batch-size 128
                                                          # GPU: the baseline's shapes

Measures, in one process, with the same model and batch:

* ceiling: synthetic float tensors already on the device, channels_last, the
  kit's mixed precision: only the model's forward/backward/step;
* kit: the real `baseline.train.train_one_epoch`: uint8 32x32 batches from a
  numpy array, pinned, moved, cropped/resized/flipped/normalised on the device;
* naive: what a student writes first: a DataLoader whose workers run
  torchvision v2 transforms image by image on the CPU (ToImage, ToDtype,
  RandomResizedCrop, RandomHorizontalFlip, Normalize), with the *same*
  precision and memory format as the kit (so the ratio compares pipelines),
  and once more in fp32 without channels_last (so the AMP factor is shown
  apart).

Prints images/s for each and the ratios. Goals on a GPU: kit >= 0.90 of the
ceiling and >= 1.5x the precision-matched naive loop (ResNet50, 224 px,
batch 128). benchmarks/gpu_check.py runs the same loops and prints JSON.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.v2 as T
from torch.utils.data import DataLoader, Dataset

from baseline.config import TrainConfig
from baseline.data import ImageRows, make_loader
from baseline.train import Loop, make_accelerator, train_one_epoch
from baseline.transforms import IMAGENET_MEAN, IMAGENET_STD, DeviceTransforms


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


def kit(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    """Images/s of the kit's own training epoch (the second one: the first warms up)."""
    acc = make_accelerator(cfg)
    model = build(cfg.model, acc.device, channels_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    rows = np.arange(steps * cfg.batch_size)
    loader = make_loader(
        ImageRows(images, labels, rows), cfg.batch_size, cfg.seed, acc.device.type == "cuda"
    )
    shuffle = loader.sampler
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    loop = Loop(acc, model, optimizer, DeviceTransforms(cfg.image_size, acc.device), cfg, shuffle)
    train_one_epoch(loop, loader, 0)
    sync(acc.device)
    return train_one_epoch(loop, loader, 1)["images_per_s"]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cuda = torch.cuda.is_available()
    parser.add_argument(
        "--model",
        default="resnet50" if cuda else "resnet18",
        help="torchvision model (default: resnet50 on GPU, resnet18 on CPU)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=224 if cuda else 64,
        help="training resolution (default: 224 on GPU, 64 on CPU)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=128 if cuda else 32,
        help="batch size (default: 128 on GPU, 32 on CPU)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=50 if cuda else 8,
        help="timed steps (default: 50 on GPU, 8 on CPU)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=10 if cuda else 2,
        help="untimed steps first (default: 10 on GPU, 2 on CPU)",
    )
    workers = min(4, os.cpu_count() or 1)
    parser.add_argument(
        "--workers",
        type=int,
        default=workers,
        help=f"DataLoader workers of the naive loop (default: the CPUs, at most 4 as on "
        f"Kaggle: {workers} here)",
    )
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the kit loop's progress bar
    cfg = TrainConfig(
        model=args.model,
        weights="none",
        batch_size=args.batch_size,
        image_size=args.image_size,
        cpu=not cuda,
    )
    n = (args.steps + args.warmup) * args.batch_size
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    device = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name() if cuda else "cpu"
    print(
        f"{args.model}, {args.image_size} px, batch {args.batch_size}, {args.steps} timed "
        f"steps, on {name} (torch {torch.__version__})"
    )
    precision = make_accelerator(cfg).mixed_precision
    top = ceiling(cfg, args.steps, args.warmup)
    ours = kit(cfg, images, labels, args.steps)
    matched = naive(
        cfg, images, labels, args.steps, args.warmup, args.workers, device, precision, True
    )
    plain = naive(cfg, images, labels, args.steps, args.warmup, args.workers, device)
    print(f"  ceiling (device tensors, kit precision {precision}) {top:9.1f} images/s")
    print(f"  kit loop                                    {ours:9.1f} images/s")
    print(f"  naive loop, same precision, channels_last   {matched:9.1f} images/s")
    print(f"  naive loop, fp32                            {plain:9.1f} images/s")
    print(f"  kit / ceiling        {ours / top:5.2f}   (goal on GPU >= 0.90)")
    print(f"  kit / matched naive  {ours / matched:5.2f}   (goal on GPU >= 1.5)")
    print(f"  AMP factor (matched naive / fp32 naive) {matched / plain:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
