"""What a run built, checked before training and described in the banner and run.json.

The settings say what a run should build; a notebook's edited cells may build
something else (a `build_optimizer` that returns Adam while `optimizer="sgd"`).
So a run describes the objects themselves:

* the model: its class, parameter counts (total, trainable) and its head (the
  top-level block that holds the last nn.Linear);
* the optimizer: its class, and each param group's lr, momentum, betas and
  weight decay, as built (before the lr schedule sets the lr at each step);
* the transforms: `train_transform` and `eval_transform` are called once on a
  small batch of training images before anything is trained. Their output is
  checked (shape (B, 3, S, S), float, finite, roughly normalised) and the
  functions each one called directly are recorded by name, so the banner
  lists the transforms that ran, not the ones the settings name.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from baseline.errors import TrainingError

CHECK_IMAGES = 16  # training images the transforms are checked on
MEAN_LIMIT = 3.0  # |mean| allowed of a transform's output (ImageNet-normalised CIFAR: ~0.2)
STD_RANGE = (0.05, 10.0)  # its standard deviation (normalised: ~1; pixels left 0-255: ~60)
# Where a called function comes from -> how the banner names it ("" : its bare name).
NAMED_MODULES = {
    "baseline.transforms": "",
    "torchvision.": "torchvision ",
    "torch.nn.functional": "F.",
}
CALL_METHODS = ("__call__", "_wrapped_call_impl", "_call_impl", "forward")


# ----------------------------------------------------------------------------
# The transforms: checked on one batch, and what they called
# ----------------------------------------------------------------------------


def _callee_name(frame: Any, own_globals: dict | None) -> str | None:
    """How the banner names the function running in `frame`, or None to leave it out."""
    code = frame.f_code
    if code.co_name.startswith("<") or code.co_name == "__init__":
        return None  # comprehensions, lambdas; building a transform object is not applying it
    this = frame.f_locals.get("self") if code.co_argcount else None
    if this is not None and code.co_name in CALL_METHODS:  # a transform object, applied
        inner = getattr(this, "transforms", None)  # Compose: name what it holds
        if isinstance(inner, list | tuple):
            return f"{type(this).__name__}({', '.join(type(t).__name__ for t in inner)})"
        return type(this).__name__
    if own_globals is not None and frame.f_globals is own_globals:
        return code.co_name  # a function of the lesson's code (a notebook cell's, or lesson.py's)
    module = frame.f_globals.get("__name__", "")
    for prefix, shown in NAMED_MODULES.items():
        if module == prefix or (prefix.endswith(".") and module.startswith(prefix)):
            return shown + code.co_name
    return None


def calls_of(function: Callable, *args: Any) -> tuple[Any, list[str]]:
    """`function(*args)`, and the names of the functions it called directly (the kit's
    transforms, torchvision's, the lesson's own helpers), in the order first called."""
    target = getattr(inspect.unwrap(function), "__code__", None)
    own_globals = getattr(inspect.unwrap(function), "__globals__", None)
    names: list[str] = []
    outer: list[Any] = []  # the frame of the call of `function`

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        if not outer:
            if frame.f_code is target:
                outer.append(frame)
        elif frame.f_back is outer[0]:
            name = _callee_name(frame, own_globals)
            if name is not None and name not in names:
                names.append(name)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = function(*args)
    finally:
        sys.setprofile(previous)
    return result, names


def check_transform_output(name: str, out: Any, batch: int, size: int) -> None:
    """Refuse, in one line naming `name` and what it returned, a transform's output that is
    not a finite, roughly normalised float batch (batch, 3, size, size)."""
    where = f"(cell Transforms; checked on {batch} training images before training)"
    must = f"it must return (B, 3, {size}, {size}) float, here B = {batch} images {where}."
    if not isinstance(out, torch.Tensor):
        raise TrainingError(f"{name} returned {type(out).__name__}; {must}")
    dtype = str(out.dtype).removeprefix("torch.")
    if tuple(out.shape) != (batch, 3, size, size) or not out.is_floating_point():
        raise TrainingError(f"{name} returned shape {tuple(out.shape)} {dtype}; {must}")
    values = out.detach().float()
    bad = int((~torch.isfinite(values)).sum())
    if bad:
        raise TrainingError(
            f"{name} returned {bad:,} NaN or infinite values out of {values.numel():,}; the "
            f"model needs finite numbers {where}."
        )
    mean, std = values.mean().item(), values.std().item()
    if abs(mean) > MEAN_LIMIT or not STD_RANGE[0] <= std <= STD_RANGE[1]:
        raise TrainingError(
            f"{name} returned values of mean {mean:.3g} and standard deviation {std:.3g}; "
            f"normalised images have a mean near 0 and a deviation near 1 (allowed: mean "
            f"within +-{MEAN_LIMIT:g}, deviation {STD_RANGE[0]:g} to {STD_RANGE[1]:g}): scale "
            f"the pixels to [0, 1] (to_float) and normalize them {where}."
        )


def check_transforms(pieces: Any, images: np.ndarray, cfg: Any, device: torch.device) -> dict:
    """Call the lesson's train_transform and eval_transform on `images` (uint8 (B, 32, 32, 3),
    as the engine's batches are) on `device`, check what they return, and return the names
    of the functions each one called."""
    batch = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    generator = torch.Generator().manual_seed(cfg.seed)
    out, train_calls = calls_of(pieces.train_transform, batch, generator, cfg)
    check_transform_output("train_transform", out, len(batch), cfg.image_size)
    out, eval_calls = calls_of(pieces.eval_transform, batch, cfg)
    check_transform_output("eval_transform", out, len(batch), cfg.image_size)
    return {"train_transform": train_calls, "eval_transform": eval_calls}


# ----------------------------------------------------------------------------
# The model and the optimizer, as built
# ----------------------------------------------------------------------------


def short(module: nn.Module) -> str:
    """A module in one line: Linear(2048 -> 10), Sequential(Dropout(p=0.2), Linear(...))."""
    if isinstance(module, nn.Linear):
        return f"Linear({module.in_features} -> {module.out_features})"
    children = list(module.children())
    if children:
        return f"{type(module).__name__}({', '.join(short(child) for child in children)})"
    return f"{type(module).__name__}({module.extra_repr()})"


def describe_model(net: nn.Module) -> dict[str, Any]:
    """The model's class, parameter counts and head (the top-level block holding its last
    nn.Linear: resnet's fc, efficientnet's classifier)."""
    linear = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    head = linear[-1].split(".")[0] if linear else None
    return {
        "class": type(net).__name__,
        "module": type(net).__module__,
        "parameters": sum(p.numel() for p in net.parameters()),
        "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "head": f"{head}: {short(net.get_submodule(head))}" if head else None,
    }


def describe_optimizer(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's class and, per param group, its hyperparameters as built."""
    groups = []
    for group in optimizer.param_groups:
        row: dict[str, Any] = {"parameters": sum(p.numel() for p in group["params"])}
        for key in ("lr", "momentum", "nesterov", "betas", "weight_decay"):
            if key in group:
                value = group[key]
                row[key] = [float(v) for v in value] if key == "betas" else _number(value)
        groups.append(row)
    return {
        "class": type(optimizer).__name__,
        "module": type(optimizer).__module__,
        "param_groups": groups,
    }


def _number(value: Any) -> Any:
    """A hyperparameter as JSON holds it (some optimizers keep the lr as a tensor)."""
    if isinstance(value, torch.Tensor):
        return value.item()
    return value


@dataclass(frozen=True)
class Built:
    """What the run built, for the banner and run.json."""

    model: dict[str, Any]
    optimizer: dict[str, Any]
    transforms: dict[str, list[str]]  # train_transform / eval_transform -> functions called
    cpu_augmentation: str | None  # the per-image CPU policy's class, or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "optimizer": self.optimizer,
            "transforms": self.transforms,
            "cpu_augmentation": self.cpu_augmentation,
        }

    def model_text(self) -> str:
        m = self.model
        return (
            f"{m['class']} ({m['module']}): {m['parameters']:,} parameters, "
            f"{m['trainable']:,} trainable; head {m['head']}"
        )

    def optimizer_text(self) -> str:
        groups = self.optimizer["param_groups"]
        texts = [_group_text(group) for group in groups]
        if len(texts) == 1:
            return f"{self.optimizer['class']} {texts[0]}"
        numbered = "; ".join(
            f"group {i} {text} ({group['parameters']:,} parameters)"
            for i, (text, group) in enumerate(zip(texts, groups, strict=True), start=1)
        )
        return f"{self.optimizer['class']} {numbered}"

    def transform_text(self, name: str) -> str:
        called = self.transforms.get(name) or ["(no function it called was recognised)"]
        return f"{name}: {', '.join(called)}"


def _group_text(group: dict[str, Any]) -> str:
    parts = [f"lr {group['lr']:g}"]
    if "momentum" in group:
        nesterov = ", nesterov" if group.get("nesterov") else ""
        parts.append(f"momentum {group['momentum']:g}{nesterov}")
    if "betas" in group:
        parts.append(f"betas ({group['betas'][0]:g}, {group['betas'][1]:g})")
    if "weight_decay" in group:
        parts.append(f"weight decay {group['weight_decay']:g}")
    return ", ".join(parts)
