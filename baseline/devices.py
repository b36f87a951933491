"""Where a run computes and how: Accelerate, mixed precision by compute capability, seeds.

Mixed precision "auto" is decided per process, from the GPU that process was
given (not always GPU 0): bf16 from compute capability 8.0 (A100, H100, ...);
below it fp16 with a gradient scaler, because PyTorch sends bf16 convolutions to
cuDNN only from 8.0, so on a T4 (7.5) bf16 would run emulated, without tensor
cores; fp32 on the CPU.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DataLoaderConfiguration

from baseline.config import TrainConfig


def precision_for(capability: tuple[int, int] | None) -> tuple[str, str]:
    """(mixed precision, why) for a device of this CUDA compute capability (None: the CPU)."""
    if capability is None:
        return "no", "fp32 on the CPU"
    shown = f"{capability[0]}.{capability[1]}"
    if tuple(capability) >= (8, 0):
        return "bf16", f"bf16: compute capability {shown} runs it on tensor cores"
    return "fp16", (
        f"fp16 with a gradient scaler: compute capability {shown} is below 8.0, where bf16 "
        "convolutions would run without tensor cores"
    )


def precision_reason(cfg: TrainConfig, acc: Accelerator) -> str:
    """Why the run uses its precision, for the banner and run.json."""
    if cfg.mixed_precision != "auto":
        return f"{acc.mixed_precision}: set by --mixed-precision"
    cuda = acc.device.type == "cuda"
    return precision_for(torch.cuda.get_device_capability(acc.device) if cuda else None)[1]


def loader_config() -> DataLoaderConfiguration:
    """A GLOBAL batch (split_batches), and batches copied to the device without blocking,
    from the pinned memory the loaders use (non_blocking: Accelerate 0.30, the minimum)."""
    return DataLoaderConfiguration(split_batches=True, non_blocking=True)


def make_accelerator(cfg: TrainConfig) -> Accelerator:
    """Accelerate with a GLOBAL batch and the chosen precision, decided per process from
    the capability of the GPU this process was given."""
    use_cuda = torch.cuda.is_available() and not cfg.cpu
    precision = cfg.mixed_precision
    if precision == "auto":
        capability = None
        if use_cuda:
            device = PartialState().device  # this process's GPU, not always GPU 0
            capability = torch.cuda.get_device_capability(device)
        precision = precision_for(capability)[0]
    return Accelerator(
        cpu=not use_cuda,
        mixed_precision=precision,
        gradient_accumulation_steps=cfg.grad_accum,
        dataloader_config=loader_config(),
    )


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch once; choose deterministic or fast GPU kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds any library code using the global RNG)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def derived_seed(*parts: int) -> int:
    """A seed for one (epoch, step, process): runs and resumes draw the same numbers."""
    return int(np.random.SeedSequence([abs(p) for p in parts]).generate_state(1)[0])


def device_name(acc: Accelerator) -> str:
    """The GPU's name, or the CPU's."""
    if acc.device.type == "cuda":
        return torch.cuda.get_device_name(acc.device)
    import platform

    return platform.processor() or platform.machine()
