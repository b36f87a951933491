"""The baseline's hyperparameters: one frozen dataclass, and the CLI generated from it.

Defaults are the course baseline (docs/baseline.md). Each
field's `help` says its unit or reason; `--help` prints every default.

Settled ambiguities (printed at the start of every run):

* `batch_size` is the GLOBAL batch: 128 images per optimizer step however many
  processes share it (64 per T4 on Kaggle's T4 x2). Accelerate's default would
  make it per process, i.e. 256 on two GPUs, which changes the optimisation
  (lr 1e-3 was chosen for 128). A global batch gives 1 GPU, 2 GPUs and the CPU
  the same optimisation, so results compare across hardware.
* The crop is the lecture's `RandomResizedCrop((224, 224), antialias=True)`
  with torchvision's defaults (scale 0.08-1, ratio 3/4-4/3), taken from the
  32x32 image and resized to 224; evaluation resizes the whole image to 224.
* Mixed precision "auto": fp16 below compute capability 8.0 (Kaggle's T4 is
  7.5), bf16 from 8.0, none (fp32) on the CPU.

Validation, in two steps, both before anything runs:

* `TrainConfig` itself refuses a value of the wrong kind, not among its choices
  or outside its range (`RANGES`): `ConfigError`, one `Error:` line naming the
  flag and what it must be (exit 2).
* `check_settings`, the first step of a run, refuses values that each fit but
  cannot train (`--epochs 0`) or cannot work together (`--nesterov` with Adam):
  every problem in one `TrainingError` (exit 1).

What needs more than the settings is checked where it becomes known: the
processes (baseline.train.check_batch_split), the data (baseline.data.
check_split, baseline.engine.make_loaders), the checkpoint (baseline.checkpoint.
load_checkpoint) and --out (baseline.train.prepare_out).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from baseline.errors import OneLineError, TrainingError

# Allowed values of numeric flags: (low, high, low included, high included).
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0, math.inf, False, False),
    "momentum": (0, 1, True, False),
    "weight_decay": (0, math.inf, True, False),
    "warmup_epochs": (0, math.inf, True, False),
    "step_size": (1, math.inf, True, False),
    "gamma": (0, math.inf, False, False),
    "plateau_patience": (0, math.inf, True, False),
    "patience": (0, math.inf, True, False),
    "dropout": (0, 1, True, False),
    "mixup": (0, math.inf, True, False),
    "cutmix": (0, math.inf, True, False),
    "label_smoothing": (0, 1, True, False),
    "ema": (0, 1, True, False),
    "val_fraction": (0, 1, False, False),
}


# Named sets of defaults: --recipe NAME starts from one, and any flag overrides it.
# "improved" (kernels/improved; a starting point, not a tuned optimum): Nesterov
# momentum, warm-up then cosine decay, L2, label smoothing, flip TTA and more
# epochs; the target is >= 97% within an hour on T4 x2 (status: README.md's results).
RECIPES: dict[str, dict[str, Any]] = {
    "baseline": {},
    "improved": {
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
    },
}


class ConfigError(OneLineError, ValueError):
    """A setting of the wrong kind, not among its choices or outside its range; the
    message names the flag and what it must be."""


# What a value of each field type must be, and how the message says it.
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "float": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "str": (lambda v: isinstance(v, str), "text"),
    "bool": (lambda v: isinstance(v, bool), "True or False"),
}


def _range_text(low: float, high: float, low_in: bool, high_in: bool) -> str:
    if high == math.inf:
        return f"at least {low:g}" if low_in else f"above {low:g}"
    left, right = ("[" if low_in else "("), ("]" if high_in else ")")
    return f"in {left}{low:g}, {high:g}{right}"


def _f(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved in run.json and every checkpoint."""

    data: str = _f("competition/public", "the competition's public folder (grader prepare)")
    out: str = _f("runs/baseline", "folder for checkpoints, curves, submission.csv, run.json")
    recipe: str = _f(
        "baseline",
        "the defaults to start from: baseline (the course's) or improved (momentum, "
        "cosine schedule, weight decay, label smoothing, TTA, 10 epochs); other flags "
        "override it",
        choices=tuple(RECIPES),
    )
    model: str = _f("resnet50", "torchvision model name, or timm/NAME for a timm model")
    weights: str = _f("IMAGENET1K_V1", "torchvision weights of the model, or 'none'")
    weights_file: str | None = _f(
        None, "local copy of the weights file, for machines without internet"
    )
    epochs: int = _f(3, "passes over the training split")
    batch_size: int = _f(128, "GLOBAL images per optimizer step, split across processes")
    grad_accum: int = _f(1, "split each batch into this many sequential micro-batches (memory)")
    optimizer: str = _f("sgd", "sgd, adam or adamw", choices=("sgd", "adam", "adamw"))
    lr: float = _f(1e-3, "peak learning rate")
    momentum: float = _f(0.0, "SGD momentum (torch's default 0: plain SGD)")
    nesterov: bool = _f(False, "Nesterov momentum (SGD with --momentum > 0)")
    weight_decay: float = _f(0.0, "L2 penalty (torch's default 0; decoupled for adamw)")
    sched: str = _f(
        "none",
        "lr decay: none, step, exponential, plateau (on validation loss) or cosine",
        choices=("none", "step", "exponential", "plateau", "cosine"),
    )
    warmup_epochs: float = _f(0.0, "linear lr warm-up from 0, in epochs (fractions allowed)")
    step_size: int = _f(1, "epochs between lr drops (--sched step)")
    gamma: float = _f(
        0.1, "lr factor: per --step-size epochs (step), per epoch (exponential), per plateau"
    )
    plateau_patience: int = _f(1, "epochs without a better validation loss before a drop")
    patience: int = _f(
        0,
        "early stopping: stop after this many epochs without a better "
        "validation loss and keep the best weights (0: off)",
    )
    dropout: float = _f(0.0, "dropout probability before the last layer")
    bn_head: bool = _f(False, "batch-normalise the features before the last layer")
    augment: str = _f(
        "lecture",
        "lecture (crop + flip), none (resize only), randaugment or trivialaugment "
        "(each on top of the lecture's)",
        choices=("lecture", "none", "randaugment", "trivialaugment"),
    )
    mixup: float = _f(0.0, "mixup alpha (0: off; timm's Mixup)")
    cutmix: float = _f(0.0, "cutmix alpha (0: off; timm's Mixup)")
    label_smoothing: float = _f(0.0, "label smoothing of the cross-entropy target")
    ema: float = _f(
        0.0,
        "decay of an exponential moving average of the weights, used for "
        "evaluation and prediction (0: off; e.g. 0.999)",
    )
    tta: bool = _f(
        False, "test-time augmentation: average the predictions of each image and its mirror"
    )
    image_size: int = _f(224, "side in pixels the 32x32 images are resized to")
    train_limit: int | None = _f(None, "use only this many training images (stratified)")
    val_fraction: float = _f(0.1, "share of the training images held out for validation")
    seed: int = _f(42, "seeds the split, the model's head, shuffling and augmentation")
    mixed_precision: str = _f(
        "auto",
        "auto (fp16 below compute capability 8.0, e.g. T4; bf16 from 8.0; none on CPU), "
        "fp16, bf16 or no",
        choices=("auto", "fp16", "bf16", "no"),
    )
    deterministic: bool = _f(False, "deterministic GPU kernels (slower)")
    cpu: bool = _f(False, "train on the CPU even when a GPU is present")
    resume: bool = _f(False, "continue from the last checkpoint in --out")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, flag = getattr(self, f.name), "--" + f.name.replace("_", "-")
            kind = str(f.type)  # "int", "str | None", ...
            if value is None and kind.endswith("| None"):
                continue
            fits, noun = KINDS[kind.split(" |")[0]]
            if not fits(value):
                raise ConfigError(f"{flag} {value!r}: must be {noun}.")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"{flag} {value}: must be one of {', '.join(choices)}.")
            if kind == "float":
                object.__setattr__(self, f.name, float(value))  # 1 and 1.0 record alike
        for name, (low, high, low_in, high_in) in RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            above = value >= low if low_in else value > low
            below = value <= high if high_in else value < high
            if not (above and below) or value != value:  # NaN fails too
                flag = "--" + name.replace("_", "-")
                raise ConfigError(
                    f"{flag} {value}: must be {_range_text(low, high, low_in, high_in)}."
                )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_recipe(cls, recipe: str = "baseline", **overrides: Any) -> TrainConfig:
        """The recipe's settings (RECIPES), then `overrides`."""
        return cls(**{**RECIPES[recipe], "recipe": recipe, **overrides})


def check_settings(cfg: TrainConfig) -> None:
    """Refuse settings that each fit their field but cannot train or cannot work together,
    naming the flags, every problem at once (TrainingError). A run's first check; each
    value's own kind and range is TrainConfig's (RANGES)."""
    problems = [
        f"{flag} {value}: must be at least 1."
        for flag, value in (
            ("--batch-size", cfg.batch_size),
            ("--grad-accum", cfg.grad_accum),
            ("--epochs", cfg.epochs),
            ("--image-size", cfg.image_size),
        )
        if value < 1
    ]
    if cfg.train_limit is not None and cfg.train_limit < 2:
        problems.append(
            f"--train-limit {cfg.train_limit}: must be at least 2 (one image to train on, "
            "one to validate with)."
        )
    if cfg.nesterov and (cfg.optimizer != "sgd" or cfg.momentum <= 0):
        problems.append("--nesterov needs --optimizer sgd and --momentum above 0.")
    if cfg.model.startswith("timm/") and cfg.weights_file:
        problems.append(
            "--weights-file works with torchvision models only (timm/ models take their "
            "weights from the Hugging Face cache)."
        )
    if cfg.model.startswith("timm/") and cfg.bn_head:
        problems.append("--bn-head works with torchvision models only.")
    if problems:
        raise TrainingError(" ".join(problems))


def get_parser() -> argparse.ArgumentParser:
    """The `baseline.train` parser, one flag per config field (kebab-case)."""
    parser = argparse.ArgumentParser(
        prog="python -m baseline.train",
        description="Train the course baseline (torchvision ResNet50, ImageNet weights, SGD "
        "lr 1e-3, global batch 128, 3 epochs) on the competition bundle, then write "
        "submission.csv, learning curves and run.json. Multi-GPU: accelerate launch "
        "--multi_gpu --num_processes 2 -m baseline.train ... With --recipe improved the "
        "defaults are the improved recipe's (baseline.config.RECIPES).",
    )
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata['help']} (default: {f.default})"
        if f.type == "bool":
            parser.add_argument(flag, action="store_true", default=f.default, help=help_text)
            off = "--no-" + f.name.replace("_", "-")  # e.g. --no-tta under --recipe improved
            parser.add_argument(off, dest=f.name, action="store_false", help=f"turn {flag} off")
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type).split(" |")[0]]
            parser.add_argument(
                flag,
                type=kind,
                default=f.default,
                help=help_text,
                choices=f.metadata.get("choices"),
                metavar=f.name.upper() if "choices" not in f.metadata else None,
            )
    return parser


def flag_text(name: str, value: Any) -> str:
    """A setting as the flag that gives it: "--lr 0.01", "--tta", "--no-tta"."""
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {value}"


def parse_config(argv: list[str] | None = None, saved: dict[str, Any] | None = None) -> TrainConfig:
    """Parse command-line flags into a TrainConfig; a value out of range is one `Error:`
    line and exit 2. `saved` (a checkpoint's settings, for --resume) gives the defaults
    instead of the recipe, so a resumed run needs no flag repeated."""
    parser = get_parser()
    chosen = parser.parse_known_args(argv)[0].recipe  # its values become the defaults
    parser.set_defaults(**RECIPES[chosen])
    if saved:
        names = {f.name for f in dataclasses.fields(TrainConfig)} - {"out", "resume"}
        parser.set_defaults(**{k: v for k, v in saved.items() if k in names})
    try:
        return TrainConfig(**vars(parser.parse_args(argv)))
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
