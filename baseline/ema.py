"""--ema: an exponential moving average of the weights, which evaluation and prediction use.

The engine makes it (`make_ema`, in baseline.train.set_up), updates it after each
optimizer step (baseline.engine.Training.note) and gives every process the same one
before evaluating (`sync_ema`); Accelerate saves it with each checkpoint
(`register_for_checkpointing`), so a resumed run continues the same average.
"""

from __future__ import annotations

import torch
from accelerate import Accelerator


def make_ema(model: torch.nn.Module, decay: float) -> torch.nn.Module:
    """timm's ModelEmaV3 with warm-up: at optimizer step t the average keeps
    min(decay, 1 - t ** -2/3) of itself (0 at the first step, 0.37 at the second, 0.98
    after one baseline epoch of 351 steps), so it follows the model early instead of
    holding the initial weights for thousands of steps."""
    from timm.utils import ModelEmaV3

    return ModelEmaV3(model, decay=decay, use_warmup=True)


def sync_ema(acc: Accelerator, ema: torch.nn.Module | None) -> None:
    """Give every process rank 0's moving average.

    The average is kept outside DDP, and each process's BatchNorm statistics
    follow its own images: without this, processes would evaluate (and resume)
    with different weights.
    """
    if ema is None or acc.num_processes == 1:
        return
    import torch.distributed as dist

    for tensor in ema.module.state_dict().values():
        dist.broadcast(tensor, src=0)
