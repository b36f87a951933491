"""What a run says about itself: the banner it prints at the start and run.json at the end.

`banner` is the start-of-run summary (the settings that decide the numbers, the
model, optimizer and transforms as built: baseline.built); `run_record` is run.json
(the resolved config, seed, what was settled and built, hardware, library versions,
the kit's commit and sha256, the test files' digests, timings and the history), so a
run can be read, compared and traced back to the code and data that made it.
"""

from __future__ import annotations

import platform
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from accelerate import Accelerator

from baseline.built import Built
from baseline.config import TrainConfig
from baseline.devices import device_name, precision_reason
from baseline.outputs import EDITED_CODE
from baseline.transforms import CROP_RATIO, CROP_SCALE
from grader.bundle.files import resolve_public_dir
from grader.core.fileio import file_digest

if TYPE_CHECKING:
    from baseline.engine import Training

# ----------------------------------------------------------------------------
# The banner
# ----------------------------------------------------------------------------


def banner(
    cfg: TrainConfig,
    acc: Accelerator,
    sizes: dict[str, int],
    steps: int,
    built: Built,
    edited: list[str] | None = None,
) -> str:
    """The start-of-run summary: the model, optimizer and transforms as built and called
    (`built`), the settings that decide the rest, and which of the lesson's functions the
    run's code changed."""
    if acc.device.type == "cuda":
        device = f"{acc.num_processes} x cuda ({device_name(acc)})"
    else:
        device = f"{acc.num_processes} x cpu"
    per_process = cfg.batch_size // acc.num_processes
    micro = f", in {cfg.grad_accum} micro-batches" if cfg.grad_accum > 1 else ""
    rows = {
        "recipe": f"{cfg.recipe} (baseline.config.RECIPES; flags override it)",
        "code": f"edited: {', '.join(edited)} (in {EDITED_CODE})"
        if edited
        else "baseline/lesson.py as shipped",
        "model": built.model_text(),
        "weights": (
            f"{cfg.model}, timm's {'pretrained' if cfg.weights != 'none' else 'no'} weights"
            if cfg.model.startswith("timm/")
            else f"torchvision {cfg.model}, weights {cfg.weights}"
        ),
        "data": f"{cfg.data}: {sizes['train']:,} train / {sizes['val']:,} validation "
        f"(stratified, seed {cfg.seed}) / {sizes['test']:,} test",
        "devices": f"{device}, {acc.distributed_type.value}, mixed precision "
        f"{acc.mixed_precision} ({precision_reason(cfg, acc)})",
        "batch": f"{cfg.batch_size} global per optimizer step = {per_process} per process x "
        f"{acc.num_processes} process(es){micro}",
        "steps": f"{steps:,} per epoch x {cfg.epochs} epochs = {steps * cfg.epochs:,} "
        "optimizer steps (an epoch's last incomplete batch is dropped)",
        "optimizer": built.optimizer_text() + " (as built; the schedule sets the lr each step)",
        "schedule": _schedule_text(cfg)
        + (" (the settings; lr_at is edited)" if "lr_at" in (edited or []) else ""),
        "regularise": f"dropout {cfg.dropout:g}, "
        f"batch-norm head {'on' if cfg.bn_head else 'off'}, label smoothing "
        f"{cfg.label_smoothing:g}, mixup {cfg.mixup:g}, cutmix {cfg.cutmix:g}, EMA "
        f"{cfg.ema or 'off'}, early stopping "
        f"{f'patience {cfg.patience}' if cfg.patience else 'off'}, flip TTA "
        f"{'on' if cfg.tta else 'off'}",
        "train": _train_text(built),
        "crop": f"random_resized_crop = RandomResizedCrop({cfg.image_size}, scale={CROP_SCALE}, "
        "ratio=(3/4, 4/3)) of the 32x32 image, bilinear antialias, on the device"
        if "random_resized_crop" in built.transforms["train_transform"]
        else None,
        "eval": built.transform_text("eval_transform"),
        "seed": f"{cfg.seed}, deterministic kernels {'on' if cfg.deterministic else 'off'}",
    }
    shown = [f"  {key:<10} {value}" for key, value in rows.items() if value is not None]
    return "\n".join([f"Training run -> {cfg.out}", *shown])


def _schedule_text(cfg: TrainConfig) -> str:
    warm = f"linear warm-up {cfg.warmup_epochs:g} epochs, then " if cfg.warmup_epochs else ""
    decay = {
        "none": "constant",
        "step": f"x{cfg.gamma:g} every {cfg.step_size} epochs",
        "exponential": f"x{cfg.gamma:g} per epoch (smoothly)",
        "plateau": f"x{cfg.gamma:g} after {cfg.plateau_patience} epochs without a better "
        "validation loss",
        "cosine": "cosine decay to 0",
    }[cfg.sched]
    return f"{warm}{decay}; set every optimizer step (global step count)"


def _train_text(built: Built) -> str:
    policy = built.cpu_augmentation
    extra = f"cpu_augmentation: {policy} on each 32x32 image (CPU), then " if policy else ""
    return extra + built.transform_text("train_transform")


# ----------------------------------------------------------------------------
# run.json
# ----------------------------------------------------------------------------


def run_record(
    t: Training,
    built: Built,
    sizes: dict[str, int],
    edited: list[str],
    final_val: dict[str, float],
    started: float,
    predict_start: float,
) -> dict:
    """run.json: config, seed, what was settled and built, hardware, versions, timings,
    history, and the validation metrics of the weights that made the submission
    (`final_val`). `started` and `predict_start` are time.perf_counter() at the start of
    the run and of the test set's prediction."""
    cfg, acc, history = t.cfg, t.accelerator, t.state.history
    return {
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "settled": {
            "batch": f"{cfg.batch_size} global per optimizer step, "
            f"{cfg.batch_size // acc.num_processes} per process",
            "crop": f"RandomResizedCrop({cfg.image_size}, scale={CROP_SCALE}, "
            f"ratio={tuple(round(r, 4) for r in CROP_RATIO)}) of the 32x32 image"
            if "random_resized_crop" in built.transforms["train_transform"]
            else None,  # train_transform called no random_resized_crop
            "mixed_precision": acc.mixed_precision,
            "mixed_precision_why": precision_reason(cfg, acc),
        },
        "hardware": {
            "processes": acc.num_processes,
            "device": acc.device.type,
            "device_name": device_name(acc),
            "distributed": acc.distributed_type.value,
        },
        "data": sizes,
        "steps_per_epoch": t.steps_per_epoch,
        "edited_code": edited,
        "built": built.to_dict(),
        "versions": library_versions(),
        "git_commit": git_commit(),
        "kit": kit_record(),
        "inputs": input_digests(Path(cfg.data)),
        "timings_s": {
            "total": round(time.perf_counter() - started, 3),
            "epochs": [round(row["seconds"], 3) for row in history],
            "predict_test": round(time.perf_counter() - predict_start, 3),
        },
        "history": history,
        "validation": {  # of the weights that made the submission
            "val_loss": final_val["loss"],
            "val_acc": final_val["acc"],
            "val_macro_f1": final_val["f1"],
        },
        "early_stopping": vars(t.state.stopper) if cfg.patience else None,
    }


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide a run's numbers."""
    import accelerate
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "accelerate": accelerate.__version__,
        "numpy": np.__version__,
        "cuda": torch.version.cuda or "none",
        "cudnn": str(torch.backends.cudnn.version()) if torch.cuda.is_available() else "none",
    }


def git_commit() -> str | None:
    """The kit's git commit (with '+dirty' when it has local changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def kit_record() -> dict[str, str]:
    """Which kit ran: its version and sha256 (the notebooks' check, baseline.notebook), so a
    TA can tell from a notebook's output what trained it (grader.provenance)."""
    from baseline.kit import loaded_kit
    from grader import __version__

    digest, where = loaded_kit()
    return {"version": __version__, "sha256": digest, "from": where}


def input_digests(data: Path) -> dict[str, str]:
    """sha256 of the public test files the run predicted: a TA compares them with the
    bundle's manifest to tell whether the run read this competition's test images."""
    public = resolve_public_dir(data)
    return {name: file_digest(public / name) for name in ("test_images.npy", "test.csv")}
