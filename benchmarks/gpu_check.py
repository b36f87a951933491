"""One command that measures the training loop on any CUDA machine and prints one JSON.

Run:
    python benchmarks/gpu_check.py            # full: about 8 minutes at most on a GPU
    python benchmarks/gpu_check.py --quick    # about 3 minutes at most
    python benchmarks/gpu_check.py --dry-run  # a tiny model for a few steps on the CPU
                                              # (what the tests run, so it cannot rot)
    # on Kaggle's T4 x2, as a script kernel (python -m kernels.publish writes its folder):
    kaggle kernels push -p dist/kaggle/gpu-check

No internet is needed: images are synthetic uint8 32x32 arrays and weights are random
(throughput does not depend on their values). Fixed step counts per phase. Prints, as
one JSON object (and writes it to --out; on Kaggle, by default, to
/kaggle/working/gpu_check.json):

* the device, its compute capability, the precision the kit chooses there and why;
* images/s of the kit's loop, of the compute-only ceiling (same model, precision and
  memory format, batches already on the device), of a naive loop with the same
  precision and memory format whose transforms are the lecture's v2 pipeline per image
  in DataLoader workers (4, as Kaggle's 4 vCPUs), and of that naive loop in fp32 (the
  AMP factor apart); for ResNet50 at 224 px and batch 128 (tiny shapes with --dry-run);
  see baseline/throughput.py;
* host-device synchronisations per step of the kit's loop
  (torch.cuda.set_sync_debug_mode; null on the CPU);
* peak GPU memory; the device count; with two GPUs, the kit's loop on two processes
  (torchrun, the same global batch: half per GPU) and its speed-up over one (with
  --dry-run, two CPU processes over gloo, so that this path is tested too);
* the seconds of one baseline epoch (45,000 training images) estimated from the kit's
  measured images/s on this device (on two processes when there are two GPUs);
* the kit measured: its sha256 and where it was imported from.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

# On Kaggle the kit comes from its dataset (cifar10_kit.zip, imported from the zip, or
# the folder Kaggle unpacked it into); elsewhere from this checkout. (The notebooks'
# first cell finds it the same way; CIFAR10_KIT_KAGGLE_INPUT: where Kaggle's inputs are.)
_INPUT = Path(os.environ.get("CIFAR10_KIT_KAGGLE_INPUT", "/kaggle/input"))
_UNPACKED = [*_INPUT.glob("*/baseline/lesson.py"), *_INPUT.glob("*/*/baseline/lesson.py")]
_KIT = [*_INPUT.glob("*/cifar10_kit.zip"), *(path.parents[1] for path in _UNPACKED)]
sys.path.insert(0, str(_KIT[0] if _KIT else Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from baseline import lesson  # noqa: E402
from baseline.config import TrainConfig  # noqa: E402
from baseline.devices import make_accelerator, precision_for, precision_reason  # noqa: E402
from baseline.kit import loaded_kit  # noqa: E402
from baseline.throughput import ceiling, kit_training, naive, sync  # noqa: E402

BASELINE_TRAIN_IMAGES = 45_000  # 50,000 minus the 10% validation split
KAGGLE_OUT = Path("/kaggle/working/gpu_check.json")
MODES = {
    # model, image size, batch, warm-up steps, timed steps, naive workers
    "dry-run": ("resnet18", 32, 8, 1, 2, 0),
    "quick": ("resnet50", 224, 128, 5, 15, 4),
    "full": ("resnet50", 224, 128, 10, 50, 4),
}


def significant(value: float, digits: int = 4) -> float:
    """`value` to `digits` significant digits: the ratios printed beside the rates stay
    within 0.1% of the rates' own ratio, from a loaded CPU's 5 images/s to a GPU's 2,000."""
    return float(f"{value:.{digits}g}")


def settings(mode: str) -> tuple[TrainConfig, int, int, int]:
    """(config, warm-up steps, timed steps, naive workers) of a mode."""
    model, size, batch, warmup, steps, workers = MODES[mode]
    cuda = torch.cuda.is_available() and mode != "dry-run"
    cfg = TrainConfig(model=model, weights="none", batch_size=batch, image_size=size, cpu=not cuda)
    return cfg, warmup, steps, workers


def synthetic(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def kit_loop(cfg: TrainConfig, steps: int) -> tuple[float, float | None]:
    """(images/s, host syncs per step) of the kit's training epoch, the second of two
    (on every process of a torchrun launch; images/s counts all of them)."""
    t = kit_training(cfg, *synthetic(steps * cfg.batch_size), steps)
    lesson.train_one_epoch(t, 0)
    sync(t.accelerator.device)
    if t.accelerator.device.type != "cuda":
        return lesson.train_one_epoch(t, 1)["images_per_s"], None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            ips = lesson.train_one_epoch(t, 1)["images_per_s"]
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message).lower() for w in caught)
    return ips, syncs / steps


def two_processes(mode: str) -> float:
    """Images/s of the kit's loop on two processes started by torchrun (this script with
    --worker), on two GPUs, or on two CPU processes over gloo with --dry-run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "worker.json"
        command = [
            *(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"),
            *("--master_addr", "127.0.0.1", "--master_port", str(port)),
            *(str(Path(__file__).resolve()), "--worker", mode, "--out", str(result)),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"the two-process run failed:\n{done.stderr[-2000:]}")
        return json.loads(result.read_text())["images_per_s"]


def check(mode: str) -> dict:
    """Every measurement of the module docstring, as a dict."""
    cfg, warmup, steps, workers = settings(mode)
    cuda = not cfg.cpu
    device = torch.device("cuda" if cuda else "cpu")
    capability = torch.cuda.get_device_capability() if cuda else None
    precision = precision_for(capability)[0]
    images, labels = synthetic((warmup + steps) * cfg.batch_size)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    top = ceiling(cfg, steps, warmup)
    ours, syncs = kit_loop(cfg, steps)
    matched = naive(cfg, images, labels, steps, warmup, workers, device, precision, True)
    plain = naive(cfg, images, labels, steps, warmup, workers, device)
    peak = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
    count = torch.cuda.device_count() if cuda else 0
    pair = two_processes(mode) if count >= 2 or mode == "dry-run" else None
    return {
        "mode": mode,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "compute_capability": f"{capability[0]}.{capability[1]}" if capability else None,
        "device_count": count,
        "precision": precision,
        "precision_why": precision_reason(cfg, make_accelerator(cfg)),
        "model": cfg.model,
        "image_size": cfg.image_size,
        "batch": cfg.batch_size,
        "timed_steps": steps,
        "naive_workers": workers,
        "images_per_s": {
            "kit": significant(ours),
            "ceiling": significant(top),
            "naive_same_precision": significant(matched),
            "naive_fp32": significant(plain),
        },
        "kit_over_ceiling": round(ours / top, 3),
        "kit_over_naive_same_precision": round(ours / matched, 3),
        "amp_factor_naive": round(matched / plain, 3),
        "host_syncs_per_step": None if syncs is None else round(syncs, 2),
        "peak_memory_gib": peak,
        "two_processes": None
        if pair is None
        else {
            "on": "2 GPUs" if cuda else "2 CPU processes (gloo)",
            "images_per_s": significant(pair),
            "over_one_process": round(pair / ours, 3),
        },
        "baseline_epoch_s_estimated": round(BASELINE_TRAIN_IMAGES / (pair or ours), 1),
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
        "kit": dict(zip(("sha256", "from"), loaded_kit(), strict=True)),
    }


def worker(mode: str, out: Path) -> int:
    """One process of the two-process run: rank 0 writes the images/s of all processes."""
    cfg, _, steps, _ = settings(mode)
    ours, _ = kit_loop(cfg, steps)
    if int(os.environ.get("RANK", "0")) == 0:
        out.write_text(json.dumps({"images_per_s": ours}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer steps: at most ~3 minutes")
    group.add_argument(
        "--dry-run", action="store_true", help="a tiny model for a few steps on the CPU"
    )
    group.add_argument("--worker", choices=tuple(MODES), help=argparse.SUPPRESS)
    on_kaggle = KAGGLE_OUT.parent.is_dir()
    parser.add_argument(
        "--out",
        type=Path,
        default=KAGGLE_OUT if on_kaggle else None,
        help=f"also write the JSON here (default: stdout only; on Kaggle {KAGGLE_OUT})",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.worker:
        return worker(args.worker, args.out)
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
