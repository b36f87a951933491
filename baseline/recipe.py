"""The lecture's hyperparameters as settings: optimizer, lr schedule, regularisation.

Each technique is one field of TrainConfig (defaults: the plain baseline):

* optimizer: SGD (with --momentum, --nesterov), Adam, AdamW; --weight-decay (L2);
* lr schedule (`LrSchedule`): linear warm-up, then none / step / exponential /
  cosine decay, or drops on a validation-loss plateau. It is a function of the
  GLOBAL optimizer step, set on the optimizer before each step, and it is not
  handed to `accelerator.prepare` (Accelerate's prepared scheduler steps once
  per process per call): so 1 GPU, 2 GPUs and the CPU follow the same lr trace;
* early stopping (`EarlyStopping`) on the validation loss, keeping the best weights;
* augmentation presets, mixup / cutmix (timm's Mixup) and label smoothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchvision.transforms.v2 as T

from baseline.config import TrainConfig
from baseline.errors import TrainingError

# The improved recipe of kernels/improved (a starting point, not a tuned optimum):
# Nesterov momentum, warm-up then cosine decay, L2, label smoothing, flip TTA and
# more epochs. Accuracy on T4 x2: not measured yet (target: >= 97% within an hour).
IMPROVED = {
    "optimizer": "sgd",
    "lr": 0.01,
    "momentum": 0.9,
    "nesterov": True,
    "sched": "cosine",
    "warmup_epochs": 1.0,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
    "tta": True,
    "epochs": 10,
}


def check_recipe(cfg: TrainConfig, per_process_batch: int) -> None:
    """Refuse settings that cannot work together, naming the flags (each value's own
    range is TrainConfig's: config.RANGES)."""
    problems = []
    if cfg.nesterov and (cfg.optimizer != "sgd" or cfg.momentum <= 0):
        problems.append("--nesterov needs --optimizer sgd and --momentum above 0")
    if (cfg.mixup or cfg.cutmix) and per_process_batch % 2:
        problems.append(f"--mixup/--cutmix need an even batch per process, not {per_process_batch}")
    if cfg.model.startswith("timm/") and cfg.weights_file:
        problems.append(
            "--weights-file works with torchvision models only (timm/ models take their "
            "weights from the Hugging Face cache)"
        )
    if cfg.model.startswith("timm/") and cfg.bn_head:
        problems.append("--bn-head works with torchvision models only")
    if problems:
        raise TrainingError("; ".join(problems) + ".")


def build_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    """SGD (torch defaults unless set), Adam or AdamW."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


class LrSchedule:
    """The lr of every optimizer step: base x warm-up x decay x plateau drops."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int) -> None:
        self.cfg, self.per_epoch = cfg, steps_per_epoch
        self.total = cfg.epochs * steps_per_epoch
        self.warmup = round(cfg.warmup_epochs * steps_per_epoch)
        self.plateau = {"factor": 1.0, "best": math.inf, "bad_epochs": 0}

    def lr_at(self, step: int) -> float:
        """The lr of optimizer step `step` (0-based, counted over the whole run)."""
        cfg = self.cfg
        warm = (step + 1) / self.warmup if step < self.warmup else 1.0
        epochs = step / self.per_epoch
        if cfg.sched == "step":
            decay = cfg.gamma ** math.floor(epochs / cfg.step_size)
        elif cfg.sched == "exponential":
            decay = cfg.gamma**epochs
        elif cfg.sched == "cosine":
            progress = max(step - self.warmup, 0) / max(self.total - self.warmup, 1)
            decay = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        else:
            decay = 1.0
        return cfg.lr * warm * decay * self.plateau["factor"]

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        lr = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def end_epoch(self, val_loss: float) -> None:
        """--sched plateau: multiply the lr by gamma after too many epochs without progress."""
        if self.cfg.sched != "plateau":
            return
        if val_loss < self.plateau["best"]:
            self.plateau.update(best=val_loss, bad_epochs=0)
            return
        self.plateau["bad_epochs"] += 1
        if self.plateau["bad_epochs"] >= self.cfg.plateau_patience:
            self.plateau.update(factor=self.plateau["factor"] * self.cfg.gamma, bad_epochs=0)


@dataclass
class EarlyStopping:
    """Stop after `patience` epochs without a lower validation loss (0: never)."""

    patience: int
    best: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Record an epoch's validation loss; True when it is the best so far."""
        if val_loss < self.best:
            self.best, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience


def augmentation_policy(name: str):
    """Per-image policy applied to uint8 (3, 32, 32) images before the device transforms."""
    if name == "randaugment":
        return T.RandAugment()
    if name == "trivialaugment":
        return T.TrivialAugmentWide()
    return None


class Criterion:
    """Cross-entropy with label smoothing, or timm's Mixup/CutMix with soft targets."""

    def __init__(self, cfg: TrainConfig, n_classes: int) -> None:
        self.mixup = None
        if cfg.mixup or cfg.cutmix:
            from timm.data import Mixup
            from timm.loss import SoftTargetCrossEntropy

            self.mixup = Mixup(
                mixup_alpha=cfg.mixup,
                cutmix_alpha=cfg.cutmix,
                label_smoothing=cfg.label_smoothing,
                num_classes=n_classes,
            )
            self.soft = SoftTargetCrossEntropy()
        self.smoothing = cfg.label_smoothing

    def mix(self, x: torch.Tensor, labels: torch.Tensor):
        """The (possibly mixed) batch and its targets."""
        return self.mixup(x, labels) if self.mixup is not None else (x, labels)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.mixup is not None:
            return self.soft(logits, targets)
        return torch.nn.functional.cross_entropy(logits, targets, label_smoothing=self.smoothing)
