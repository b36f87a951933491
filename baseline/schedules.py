"""The engine's stateful schedules: `Plateau` and `EarlyStopping`, both on the validation loss.

The code of each technique a student changes is in baseline/lesson.py (the
optimizer, the lr schedule, the loss, the transforms, the head); each
setting is a field of TrainConfig. What lives here needs state across epochs
and a resume (baseline.checkpoint.TrainState saves it): `Plateau` (--sched
plateau: lr drops when the validation loss stalls) and `EarlyStopping`
(--patience).

The lr of every step is `lesson.lr_at(step) x Plateau.factor`: a function of
the GLOBAL optimizer step, set on the optimizer before each step and never
handed to `accelerator.prepare` (whose prepared scheduler steps once per
process per call), so 1 GPU, 2 GPUs and the CPU follow the same lr trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from baseline.config import TrainConfig


@dataclass
class Plateau:
    """--sched plateau: the lr factor, multiplied by gamma after `plateau_patience`
    epochs without a lower validation loss."""

    factor: float = 1.0
    best: float = math.inf
    bad_epochs: int = 0

    def end_epoch(self, val_loss: float, cfg: TrainConfig) -> None:
        if cfg.sched != "plateau":
            return
        if val_loss < self.best:
            self.best, self.bad_epochs = val_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= cfg.plateau_patience:
            self.factor, self.bad_epochs = self.factor * cfg.gamma, 0


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
