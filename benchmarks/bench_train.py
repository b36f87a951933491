"""Training throughput: the kit's loop against a compute-only ceiling and a naive loop.

Run:
    python benchmarks/bench_train.py                      # CPU: resnet18, 64 px, small
    python benchmarks/bench_train.py --model resnet50 --image-size 224 --batch-size 128
                                                          # GPU: the baseline's shapes

Measures, in one process, with the same model and batch:

* ceiling: synthetic float tensors already on the device, channels_last, the
  kit's mixed precision: only the model's forward/backward/step;
* kit: the real `baseline.lesson.train_one_epoch` run by the engine's `Training`:
  uint8 32x32 batches from a numpy array, pinned, moved, cropped, resized,
  flipped and normalised on the device;
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
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline.config import TrainConfig
from baseline.devices import make_accelerator
from baseline.throughput import ceiling, kit, naive


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
