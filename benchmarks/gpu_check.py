"""One command that measures the training loop on any CUDA machine and prints one JSON.

Run:
    python benchmarks/gpu_check.py            # full: about 8 minutes at most on a GPU
    python benchmarks/gpu_check.py --quick    # about 3 minutes at most
    python benchmarks/gpu_check.py --dry-run  # a tiny model for a few steps on the CPU
                                              # (what the tests run, so it cannot rot)

No internet is needed: images are synthetic uint8 32x32 arrays and weights are random
(throughput does not depend on their values). Fixed step counts per phase. Prints, as
one JSON object (and writes it to --out if given):

* the device, its compute capability, the precision the kit chooses there and why;
* images/s of the kit's loop, of the compute-only ceiling (same model, precision and
  memory format, batches already on the device), of a naive loop with the same
  precision and memory format whose transforms are the lecture's v2 pipeline per image
  in DataLoader workers (4, as Kaggle's 4 vCPUs), and of that naive loop in fp32 (the
  AMP factor apart); for ResNet50 at 224 px and batch 128 (tiny shapes with --dry-run);
* host-device synchronisations per step of the kit's loop
  (torch.cuda.set_sync_debug_mode; null on the CPU);
* peak GPU memory; the device count (a two-process run is not measured by this
  script); the seconds of one baseline epoch (45,000 training images) estimated from
  the kit's measured images/s on this device.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline.config import TrainConfig
from baseline.data import ImageRows, make_loader
from baseline.train import (
    Loop,
    make_accelerator,
    precision_for,
    precision_reason,
    train_one_epoch,
)
from baseline.transforms import DeviceTransforms
from benchmarks.bench_train import build, ceiling, naive, sync

BASELINE_TRAIN_IMAGES = 45_000  # 50,000 minus the 10% validation split
MODES = {
    # model, image size, batch, warm-up steps, timed steps, naive workers
    "dry-run": ("resnet18", 32, 8, 1, 2, 0),
    "quick": ("resnet50", 224, 128, 5, 15, 4),
    "full": ("resnet50", 224, 128, 10, 50, 4),
}


def kit_loop(cfg: TrainConfig, images, labels, steps: int) -> tuple[float, float | None]:
    """(images/s, host syncs per step) of the kit's training epoch, the second of two."""
    acc = make_accelerator(cfg)
    model = build(cfg.model, acc.device, channels_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    rows = np.arange(steps * cfg.batch_size)
    cuda = acc.device.type == "cuda"
    loader = make_loader(ImageRows(images, labels, rows), cfg.batch_size, cfg.seed, cuda)
    shuffle = loader.sampler
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    loop = Loop(acc, model, optimizer, DeviceTransforms(cfg.image_size, acc.device), cfg, shuffle)
    train_one_epoch(loop, loader, 0)
    sync(acc.device)
    if not cuda:
        return train_one_epoch(loop, loader, 1)["images_per_s"], None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            ips = train_one_epoch(loop, loader, 1)["images_per_s"]
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message).lower() for w in caught)
    return ips, syncs / steps


def check(mode: str) -> dict:
    """Every measurement of the module docstring, as a dict."""
    model, size, batch, warmup, steps, workers = MODES[mode]
    cuda = torch.cuda.is_available() and mode != "dry-run"
    device = torch.device("cuda" if cuda else "cpu")
    cfg = TrainConfig(model=model, weights="none", batch_size=batch, image_size=size, cpu=not cuda)
    capability = torch.cuda.get_device_capability() if cuda else None
    precision = precision_for(capability)[0]
    n = (warmup + steps) * batch
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    top = ceiling(cfg, steps, warmup)
    ours, syncs = kit_loop(cfg, images, labels, steps)
    matched = naive(cfg, images, labels, steps, warmup, workers, device, precision, True)
    plain = naive(cfg, images, labels, steps, warmup, workers, device)
    acc = make_accelerator(cfg)
    return {
        "mode": mode,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "compute_capability": f"{capability[0]}.{capability[1]}" if capability else None,
        "device_count": torch.cuda.device_count() if cuda else 0,
        "precision": precision,
        "precision_why": precision_reason(cfg, acc),
        "model": model,
        "image_size": size,
        "batch": batch,
        "timed_steps": steps,
        "naive_workers": workers,
        "images_per_s": {
            "kit": round(ours, 1),
            "ceiling": round(top, 1),
            "naive_same_precision": round(matched, 1),
            "naive_fp32": round(plain, 1),
        },
        "kit_over_ceiling": round(ours / top, 3),
        "kit_over_naive_same_precision": round(ours / matched, 3),
        "amp_factor_naive": round(matched / plain, 3),
        "host_syncs_per_step": None if syncs is None else round(syncs, 2),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "two_processes": "not measured by this script",
        "baseline_epoch_s_estimated": round(BASELINE_TRAIN_IMAGES / ours, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer steps: at most ~3 minutes")
    group.add_argument(
        "--dry-run", action="store_true", help="a tiny model for a few steps on the CPU"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here (default: stdout only)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    mode = "dry-run" if args.dry_run else "quick" if args.quick else "full"
    if mode != "dry-run" and not torch.cuda.is_available():
        print("Error: no CUDA GPU here; use --dry-run to check the script on the CPU.",
              file=sys.stderr)  # fmt: skip
        return 2
    result = json.dumps(check(mode), indent=2)
    print(result)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(result + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
