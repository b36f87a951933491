"""Read a run's learning curves the way the lecture does, and suggest the next change.

Run:
    python -m baseline.diagnose runs/baseline

Rules (errors are 1 - accuracy, from metrics.csv; thresholds for CIFAR-10,
where a fine-tuned ResNet reaches a few percent of training error). The
training error is measured on a fixed subset of the training split without
augmentation, at each epoch's end (`train_eval_acc`), as the validation error
is: accuracy on augmented crops (`train_acc`, down to 8% of a 32 px image)
would call healthy runs under-fitted. Runs of older kits without that column
fall back to `train_acc`.

* underfitting: the training error is still above 30% at the last epoch (both
  errors high, the model has not learnt the training set);
* overfitting: the validation error exceeds the training error by more than 10
  points, or the validation loss has risen 10% above its minimum while the
  training loss kept falling;
* good fit: neither;
* lr too high: a loss that is not finite, a training loss that rises by more
  than 10% from one epoch to the next or ends (after 3+ epochs) above where it
  started, or a validation loss that changes
  direction twice in the last 4 epochs by more than 5%;
* lr too low: the training loss still fell more than 5% in the last epoch and
  the validation loss with it (the run stopped while still learning fast).

The advice names the settings as the reader sets them: the command line's flags
(`--epochs`), or in a notebook the settings cell's names (`epochs=`). Momentum
is suggested only to a run whose optimizer, as built (run.json's "built"), is
SGD without it; never to an Adam run.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

HIGH_TRAIN_ERROR = 0.30
OVERFIT_GAP = 0.10
RISE = 0.10
JUMP = 0.10
WIGGLE = 0.05
STILL_FALLING = 0.05


@dataclass
class Diagnosis:
    """The verdict ("overfitting", "underfitting" or "good fit"), the lr's, and advice."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    lr: str = "looks fine"  # or "too high" / "too low"
    lr_reasons: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)


def diagnose(
    history: list[dict[str, float]],
    optimizer: Mapping[str, Any] | None = None,
    names: Literal["flags", "notebook"] = "flags",
) -> Diagnosis:
    """Apply the lecture's rules to per-epoch metrics (train/val loss and accuracy).

    `optimizer` is the run's optimizer as built (run.json's built.optimizer, from
    `read_optimizer`; None when unknown): momentum is advised only to SGD without it.
    `names`: the advice names settings as flags (`--lr`) or as a notebook's (`lr=`).
    """
    last = history[-1]
    train_acc = last.get("train_eval_acc", last["train_acc"])
    train_error, val_error = 1 - train_acc, 1 - last["val_acc"]
    train_loss = [row["train_loss"] for row in history]
    val_loss = [row["val_loss"] for row in history]
    result = _fit(train_error, val_error, train_loss, val_loss)
    _learning_rate(result, train_loss, val_loss)
    advice = _advice(result, _plain_sgd(optimizer), names)
    result.advice = [_named(text, names) for text in advice]
    return result


def _fit(
    train_error: float, val_error: float, train_loss: list[float], val_loss: list[float]
) -> Diagnosis:
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    rose = val_loss[-1] > val_loss[best] * (1 + RISE) and train_loss[-1] < train_loss[best]
    gap = val_error - train_error
    if train_error > HIGH_TRAIN_ERROR:
        return Diagnosis(
            "underfitting",
            [
                f"the training error is still {train_error:.1%} (above {HIGH_TRAIN_ERROR:.0%}), "
                f"and the validation error {val_error:.1%}: the model has not learnt the "
                "training set yet"
            ],
        )
    if gap > OVERFIT_GAP or rose:
        reasons = []
        if gap > OVERFIT_GAP:
            reasons.append(
                f"the validation error ({val_error:.1%}) is {gap * 100:.1f} points "
                f"above the training error ({train_error:.1%})"
            )
        if rose:
            reasons.append(
                f"the validation loss rose from {val_loss[best]:.3f} (epoch "
                f"{best + 1}) to {val_loss[-1]:.3f} while the training loss fell"
            )
        return Diagnosis("overfitting", reasons)
    return Diagnosis(
        "good fit",
        [
            f"training error {train_error:.1%} and validation error {val_error:.1%} are both low "
            f"and {abs(gap) * 100:.1f} points apart"
        ],
    )


def _learning_rate(result: Diagnosis, train_loss: list[float], val_loss: list[float]) -> None:
    if not all(math.isfinite(v) for v in train_loss + val_loss):
        result.lr, result.lr_reasons = "too high", ["a loss became NaN or infinite (diverged)"]
        return
    jumps = [i for i in range(1, len(train_loss)) if train_loss[i] > train_loss[i - 1] * (1 + JUMP)]
    if len(train_loss) >= 3 and train_loss[-1] > train_loss[0]:
        result.lr = "too high"
        result.lr_reasons.append(
            f"the training loss ended above where it started "
            f"({train_loss[0]:.3f} -> {train_loss[-1]:.3f})"
        )
    if jumps:
        result.lr = "too high"
        result.lr_reasons.append(
            f"the training loss rose at epoch {jumps[0] + 1} "
            f"({train_loss[jumps[0] - 1]:.3f} -> {train_loss[jumps[0]]:.3f})"
        )
    recent = val_loss[-4:]
    steps = [b - a for a, b in itertools.pairwise(recent) if abs(b - a) > WIGGLE * a]
    turns = sum(1 for a, b in itertools.pairwise(steps) if a * b < 0)
    if turns >= 2:
        result.lr = "too high"
        result.lr_reasons.append(
            "the validation loss oscillates (up and down by more than "
            f"{WIGGLE:.0%} over the last {len(recent)} epochs)"
        )
    if result.lr == "too high" or len(train_loss) < 2:
        return
    train_drop = 1 - train_loss[-1] / train_loss[-2]
    val_drop = 1 - val_loss[-1] / val_loss[-2]
    if train_drop > STILL_FALLING and val_drop > 0:
        result.lr = "too low"
        result.lr_reasons.append(
            f"the training loss still fell {train_drop:.0%} in the last "
            f"epoch (and the validation loss {val_drop:.0%}): it was still "
            "learning fast when the run ended"
        )


def _plain_sgd(optimizer: Mapping[str, Any] | None) -> bool:
    """Whether the run's optimizer, as built, is SGD without momentum."""
    if optimizer is None or optimizer.get("class") != "SGD":
        return False
    return all(not group.get("momentum") for group in optimizer.get("param_groups", []))


def _advice(result: Diagnosis, plain_sgd: bool, names: str) -> list[str]:
    """The next changes to try, with settings as {name} or {name value} (see _named)."""
    faster = "with a larger lr ({lr})" + (" or {momentum 0.9}" if plain_sgd else "")
    advice = {
        "underfitting": [
            f"train longer ({{epochs}}) or {faster}",
            "a larger model or higher resolution; less regularisation "
            "({weight_decay}, {dropout}, {mixup})",
        ],
        "overfitting": [
            'regularise: {weight_decay 5e-4}, {dropout 0.2}, {augment "randaugment"}, '
            "{label_smoothing 0.1}, {mixup 0.2}",
            "stop earlier: {patience 2} keeps the best epoch's weights",
            "more training data: a smaller {val_fraction}"
            # train_limit is a flag for quick runs; the notebooks' settings cell has none
            + (" or no {train_limit}" if names == "flags" else ""),
        ],
        "good fit": [
            'try a schedule ({sched "cosine"}, {warmup_epochs 1}) and more epochs, then '
            "compare on the validation split"
        ],
    }[result.verdict]
    if result.lr == "too high":
        advice.insert(0, "lower {lr} (e.g. by 3-10x) or add {warmup_epochs 1}")
    elif result.lr == "too low":
        advice.insert(
            0,
            'raise {lr} (e.g. x3) or train more epochs; {sched "cosine"} then decays it at the end',
        )
    return advice


def _named(text: str, names: str) -> str:
    """Spell each {name} / {name value} of `text` as a flag (`--name value`) or as a
    notebook's setting (`name=value`; a bare name as `name=`)."""

    def spell(match: re.Match) -> str:
        name, value = match.group(1), match.group(2)
        if names == "notebook":
            return f"{name}={value or ''}"
        flag = "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value.strip(chr(34))}"

    return re.sub(r"\{(\w+)(?: ([^}]+))?\}", spell, text)


def read_history(run: Path) -> list[dict[str, float]]:
    """metrics.csv of a run folder, as floats."""
    path = run / "metrics.csv" if run.is_dir() else run
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file. Pass a run folder written by "
            "python -m baseline.train (it holds metrics.csv)."
        )
    with path.open(newline="") as f:
        rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    if not rows:
        raise FileNotFoundError(f"{path}: no finished epoch yet.")
    return rows


def read_optimizer(run: Path) -> dict[str, Any] | None:
    """The run's optimizer as built (run.json's built.optimizer), or None when the run
    has not finished or an older kit wrote it."""
    path = (run if run.is_dir() else run.parent) / "run.json"
    try:
        return json.loads(path.read_text())["built"]["optimizer"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def report(diagnosis: Diagnosis, epochs: int) -> str:
    lines = [f"After {epochs} epoch(s): {diagnosis.verdict}."]
    lines += [f"  - {reason}" for reason in diagnosis.reasons]
    lines.append(f"Learning rate: {diagnosis.lr}.")
    lines += [f"  - {reason}" for reason in diagnosis.lr_reasons]
    lines.append("Next:")
    lines += [f"  - {step}" for step in diagnosis.advice]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baseline.diagnose",
        description="Say whether a run over- or under-fits and whether its lr looks right, "
        "from its metrics.csv, with the lecture's rules.",
    )
    parser.add_argument(
        "run",
        type=Path,
        metavar="RUN_DIR",
        help="a folder written by baseline.train, or its metrics.csv (default: none)",
    )
    args = parser.parse_args(argv)
    try:
        history = read_history(args.run)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(report(diagnose(history, read_optimizer(args.run)), len(history)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
