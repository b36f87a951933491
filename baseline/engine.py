"""The engine around the lesson's code: data on the device, bookkeeping, the epoch loop.

baseline/lesson.py holds what decides the numbers (transforms, model, loss,
optimizer, schedule, the training loop, evaluation); this module holds what a
student has no reason to change: `Pieces` (the lesson's entry points, the
functions the engine calls, taken from the module or from a notebook's cells),
`Training` (what the lesson's loop is
given: the prepared model, optimizer and loaders, seeded batches, running
metrics, the NaN check, the EMA update) and `fit` (epochs, evaluation,
plateau and early stopping, records, checkpoints).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from baseline import lesson as default_lesson
from baseline.checkpoint import (
    BEST,
    TrainState,
    fail_point,
    restore_best,
    save_best,
    save_checkpoint,
)
from baseline.config import TrainConfig
from baseline.data import EpochShuffle, ImageRows, make_loader
from baseline.devices import derived_seed
from baseline.ema import sync_ema
from baseline.errors import TrainingError
from baseline.outputs import plot_learning_curves, write_metrics_csv, write_text
from grader.bundle.files import Bundle
from grader.core.progress import bars

NAN_CHECK_EVERY = 25  # steps between host syncs that check the loss is finite


@dataclass(frozen=True)
class Pieces:
    """The lesson's entry points: the functions the engine calls, by these names, and no
    others. Taken from baseline/lesson.py or a notebook's cells (`of`); the lesson's own
    helpers (loss_fn, lr_at, new_head, ...) are called by these, never by the engine, so
    a lesson may rename, drop or add helpers as it likes. The engine calls the two
    transforms only to check them on one batch before training (built.check_transforms,
    which the banner reports); the batches of training and prediction go through
    whatever the lesson's train_one_epoch and predict call.
    """

    split_data: Callable  # (labels, cfg) -> (training rows, validation rows)
    cpu_augmentation: Callable  # (cfg) -> a per-image policy on the CPU, or None
    train_transform: Callable  # (uint8 batch on the device, generator, cfg) -> float batch
    eval_transform: Callable  # (uint8 batch on the device, cfg) -> float batch
    build_model: Callable  # (cfg, pretrained state dict or None) -> the network
    build_optimizer: Callable  # (model, cfg) -> the optimizer
    train_one_epoch: Callable  # (t, epoch) -> t.epoch_summary()
    predict: Callable  # (t, loader) -> (rows, predicted, labels, losses)
    evaluate: Callable  # (t, loader) -> (dict of loss, acc and f1, confusion matrix)
    write_submission: Callable  # (path, ids, predicted, classes) writes submission.csv
    # name -> source of the lesson's functions (entry points or helpers) that this run's
    # code changed: the banner names them and edited_code.py keeps them.
    edited: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def functions(self) -> dict[str, Callable]:
        """The entry points by name (what the notebook's Run sends to its processes)."""
        return {name: getattr(self, name) for name in ENTRY_POINTS}

    @classmethod
    def of(cls, lesson: Any) -> Pieces:
        """The entry points from a module (baseline.lesson) or a namespace (a notebook's
        globals()); missing ones are one line naming them."""
        get = lesson.get if isinstance(lesson, Mapping) else lambda n: getattr(lesson, n, None)
        missing = [name for name in ENTRY_POINTS if not callable(get(name))]
        if missing:
            raise TrainingError(
                f"the training code defines no {', '.join(missing)}: run the notebook's "
                "cells from the top (Run All), or put back the cells that defined them "
                "(baseline/lesson.py has the originals)."
            )
        return cls(**{name: get(name) for name in ENTRY_POINTS}, edited=edited_code(get))


ENTRY_POINTS = tuple(f.name for f in fields(Pieces) if f.name != "edited")


def edited_code(get: Callable[[str], Any]) -> dict[str, str]:
    """name -> source of each function of baseline/lesson.py, in its order, that `get`
    gives in another version (a notebook cell's copy of the same text is not an edit).
    Helpers the code does not define are not edits: only the entry points are required."""
    edited = {}
    for name, shipped in vars(default_lesson).items():
        if not inspect.isfunction(shipped) or shipped.__module__ != default_lesson.__name__:
            continue
        function = get(name)
        if function is shipped or not callable(function):
            continue
        source = _source(function)
        if source is None or source != _source(shipped):
            edited[name] = source or f"# {name}: its source could not be read"
    return edited


def _source(function: Callable) -> str | None:
    try:
        return inspect.getsource(function).strip()
    except (OSError, TypeError):
        return None


@dataclass
class Loaders:
    """The run's data: shuffled training batches, and the evaluation sets."""

    train: Any
    val: Any
    test: Any
    train_eval: Any  # a fixed training subset, seen without augmentation (diagnose)


def make_loaders(
    cfg: TrainConfig, bundle: Bundle, train_rows, val_rows, policy, acc: Accelerator
) -> tuple[Loaders, EpochShuffle]:
    """Loaders of uint8 batches (pinned on a GPU), and the training sampler."""
    pin = acc.device.type == "cuda"
    micro = cfg.batch_size // cfg.grad_accum
    images, labels = bundle.train_images, bundle.train_labels
    train = make_loader(
        ImageRows(images, labels, train_rows, policy), micro, cfg.seed, pin, cfg.batch_size
    )
    if len(train) == 0:
        raise TrainingError(
            f"--batch-size {cfg.batch_size}: larger than the {len(train_rows)} training "
            "images; lower it or raise --train-limit."
        )
    # What diagnose judges fitting on: training images the size of the validation split,
    # evenly spread, seen as evaluation sees them (no augmentation).
    count = max(1, min(len(val_rows), len(train_rows)))
    subset = np.asarray(train_rows)[
        np.unique(np.linspace(0, len(train_rows) - 1, count).round().astype(int))
    ]
    loaders = Loaders(
        train,
        make_loader(ImageRows(images, labels, val_rows), micro, None, pin),
        make_loader(
            ImageRows(bundle.test_images, None, np.arange(len(bundle.test_ids))), micro, None, pin
        ),
        make_loader(ImageRows(images, labels, subset), micro, None, pin),
    )
    return loaders, train.sampler


class Training:
    """What the lesson's train_one_epoch, predict and evaluate are given (`t`)."""

    def __init__(
        self,
        accelerator: Accelerator,
        cfg: TrainConfig,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loaders: Loaders,
        shuffle: EpochShuffle,
        state: TrainState,
        ema: torch.nn.Module | None = None,
    ) -> None:
        self.accelerator, self.cfg = accelerator, cfg
        self.model, self.optimizer = model, optimizer  # prepared by Accelerate
        self.loaders, self.shuffle = loaders, shuffle  # the sampler, from before prepare()
        self.state, self.ema = state, ema
        self.steps_per_epoch = len(loaders.train) // cfg.grad_accum
        self._step = 0

    @property
    def steps_done(self) -> int:
        """Optimizer steps taken so far over the whole run (what lr_at counts)."""
        return len(self.state.lr_trace)

    @property
    def lr_factor(self) -> float:
        """--sched plateau's factor (1 otherwise)."""
        return self.state.plateau.factor

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights that are evaluated and predict: the moving average with --ema."""
        return self.ema.module if self.ema is not None else self.model

    def progress(self, loader, desc: str = "evaluating"):
        """`loader`, with a progress bar where a person watches."""
        quiet = not self.accelerator.is_local_main_process or not bars()
        return tqdm(loader, desc=desc, leave=False, disable=quiet)

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Generator]]:
        """The epoch's training batches, (uint8 images, labels) on the device and a CPU
        generator seeded for this (seed, epoch, step, process)."""
        acc, cfg, loader = self.accelerator, self.cfg, self.loaders.train
        # Accelerate re-sets the sampler's epoch from its own counter when iteration starts
        # (0 after a resume): set both, so a resumed run shuffles as an uninterrupted one.
        loader.set_epoch(epoch)
        self.shuffle.set_epoch(epoch)
        # Dropout, mixup and the per-image policies draw from the global generators: seed
        # them per (epoch, process) so that a resumed run draws what an uninterrupted one did.
        torch.manual_seed(derived_seed(cfg.seed, epoch, acc.process_index, 1))
        np.random.seed(derived_seed(cfg.seed, epoch, acc.process_index, 2))  # noqa: NPY002
        self._epoch, self._start = epoch, time.perf_counter()
        self._sums = torch.zeros(3, device=acc.device)  # loss x n, correct, n
        self._first_bad = torch.full((), -1, device=acc.device)  # first step with a NaN loss
        self._bar = self.progress(loader, f"epoch {epoch + 1}/{cfg.epochs}")
        for step, (images, labels, _) in enumerate(self._bar):
            if step == len(loader) // 2 and acc.is_main_process:
                fail_point("epoch:middle", epoch + 1)
            self._step = step
            seed = derived_seed(cfg.seed, epoch, step, acc.process_index)
            yield images, labels, torch.Generator().manual_seed(seed)

    def note(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """After a micro-batch: record the lr and update the EMA once per optimizer step;
        add to the running loss and accuracy; every NAN_CHECK_EVERY steps, stop on a NaN.
        Only that check waits for the device."""
        acc = self.accelerator
        if acc.sync_gradients:
            self.state.lr_trace.append(self.optimizer.param_groups[0]["lr"])
            if self.ema is not None:
                self.ema.update(acc.unwrap_model(self.model), step=self.steps_done)
        detached = loss.detach().float()
        self._first_bad = torch.where(
            (self._first_bad < 0) & ~torch.isfinite(detached),
            torch.full_like(self._first_bad, self._step),  # a fill on the device, not a copy
            self._first_bad,
        )
        n = detached.new_full((), float(len(labels)))
        self._sums += torch.stack([detached * n, (logits.argmax(1) == labels).sum(), n])
        last = len(self.loaders.train) - 1
        if self._step % NAN_CHECK_EVERY == 0 or self._step == last:
            self._stop_if_diverged()
            self._bar.set_postfix(loss=f"{self._sums[0].item() / max(self._sums[2].item(), 1):.3f}")

    def _stop_if_diverged(self) -> None:
        # gather, not reduce(..., "max"): accelerate before 1.0 only sums.
        found = self.accelerator.gather(self._first_bad.reshape(1)).tolist()
        bad = [step for step in found if step >= 0]
        if bad:
            lr = self.optimizer.param_groups[0]["lr"]
            raise TrainingError(
                f"the loss became NaN or infinite at epoch {self._epoch + 1}, step "
                f"{min(bad) + 1} (lr {lr:g}). Lower --lr (e.g. by 10x), or try "
                "--mixed-precision no."
            )

    def epoch_summary(self) -> dict[str, float]:
        """The epoch's mean training loss and accuracy over every process, and its speed."""
        sums = self.accelerator.reduce(self._sums, reduction="sum")
        seconds = time.perf_counter() - self._start
        return {
            "train_loss": (sums[0] / sums[2]).item(),
            "train_acc": (sums[1] / sums[2]).item(),
            "seconds": seconds,
            "images_per_s": sums[2].item() / seconds,
        }


def guard_memory(
    step: Callable[[], Any], cfg: TrainConfig, acc: Accelerator, doing: str = "training"
):
    """Run `step`; turn running out of memory into advice on what to lower. (CUDA's
    OutOfMemoryError is a RuntimeError on every torch the kit supports; torch 2.5 added
    the torch.OutOfMemoryError name, which older ones lack.)"""
    try:
        return step()
    except RuntimeError as exc:
        if "out of memory" not in str(exc) and "can't allocate memory" not in str(exc):
            raise
        per_process = cfg.batch_size // acc.num_processes // cfg.grad_accum
        raise TrainingError(
            f"out of memory while {doing}, with {per_process} images per process at "
            f"{cfg.image_size} px on {acc.device.type}. Lower --batch-size or --image-size, "
            f"or keep the batch and add --grad-accum {cfg.grad_accum * 2} (the same "
            "optimisation in smaller pieces)."
        ) from None


def fit(
    t: Training, pieces: Pieces, out: Path, on_epoch: Callable[[dict], None] | None = None
) -> None:
    """Train the remaining epochs: each one trains, evaluates the validation split and
    the training subset, updates plateau and early stopping, writes the records and a
    checkpoint. With --patience, ends with the best epoch's weights."""
    acc, cfg, state = t.accelerator, t.cfg, t.state
    for epoch in range(state.epochs_done, cfg.epochs):
        if state.stopper.should_stop:
            break
        steps_before = t.steps_done
        summary = guard_memory(lambda e=epoch: pieces.train_one_epoch(t, e), cfg, acc)
        check_epoch(summary, t.steps_done - steps_before)
        row = {"epoch": epoch + 1, **summary}
        sync_ema(acc, t.ema)
        val = evaluated(
            guard_memory(lambda: pieces.evaluate(t, t.loaders.val), cfg, acc, "evaluating")
        )
        seen = evaluated(
            guard_memory(lambda: pieces.evaluate(t, t.loaders.train_eval), cfg, acc, "evaluating")
        )
        row.update(train_eval_loss=seen["loss"], train_eval_acc=seen["acc"])
        row.update(val_loss=val["loss"], val_acc=val["acc"], val_macro_f1=val["f1"])
        row["lr"] = state.lr_trace[-1]
        state.history.append(row)
        state.plateau.end_epoch(row["val_loss"], cfg)
        if state.stopper.update(epoch + 1, row["val_loss"]) and cfg.patience:
            save_best(acc, t.eval_model, out)
        if acc.is_main_process:
            report_epoch(out, state, cfg)
        save_checkpoint(acc, out, cfg, state)
        if on_epoch is not None:
            on_epoch(row)
        if state.stopper.should_stop:
            acc.print(
                f"Early stopping: no better validation loss for {cfg.patience} epochs; "
                f"keeping the weights of epoch {state.stopper.best_epoch}."
            )
    if cfg.patience and (out / BEST).is_file():
        restore_best(acc, t.eval_model, out)


EPOCH_KEYS = ("train_loss", "train_acc", "seconds", "images_per_s")
EVALUATION_KEYS = ("loss", "acc", "f1")


def check_epoch(summary: Any, steps: int) -> None:
    """Refuse, in one line, an epoch that broke the loop's contract with the engine (the
    lesson's train_one_epoch is code a student may change)."""
    if steps == 0:
        raise TrainingError(
            "train_one_epoch took no optimizer step that the engine saw: it must call "
            "t.note(loss, logits, labels) after each batch (cell The training loop)."
        )
    if not isinstance(summary, Mapping) or any(key not in summary for key in EPOCH_KEYS):
        raise TrainingError(
            "train_one_epoch must return t.epoch_summary() (a dict of "
            f"{', '.join(EPOCH_KEYS)}), not {type(summary).__name__}."
        )


def evaluated(result: Any) -> dict[str, float]:
    """evaluate()'s metrics, after checking it returned (metrics, confusion matrix)."""
    ok = isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Mapping)
    if not ok or any(key not in result[0] for key in EVALUATION_KEYS):
        raise TrainingError(
            "evaluate must return (a dict of loss, acc and f1, the confusion matrix), "
            f"not {type(result).__name__}."
        )
    return result[0]


def report_epoch(out: Path, state: TrainState, cfg: TrainConfig) -> None:
    """The per-epoch files (metrics.csv, lr.csv, learning_curves.png) and line."""
    row = state.history[-1]
    write_metrics_csv(out / "metrics.csv", state.history)
    trace = "".join(f"{i + 1},{lr!r}\n" for i, lr in enumerate(state.lr_trace))
    write_text(out / "lr.csv", "step,lr\n" + trace)
    plot_learning_curves(out / "learning_curves.png", state.history)
    print(
        f"epoch {row['epoch']}/{cfg.epochs}: train loss {row['train_loss']:.4f} acc "
        f"{row['train_acc']:.4f} | val loss {row['val_loss']:.4f} acc "
        f"{row['val_acc']:.4f} macro-F1 {row['val_macro_f1']:.4f} | lr {row['lr']:.3g} | "
        f"{row['images_per_s']:.0f} img/s",
        flush=True,
    )
