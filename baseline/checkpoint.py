"""What survives a kill: the resumable state, checkpoints, the best epoch's weights.

A checkpoint becomes current in one atomic step. Each save writes Accelerate's
state and progress.json into checkpoint.partial/, renames it checkpoint.NNNN/
(the epoch) once complete, then replaces the pointer file checkpoint.current
with one os.replace. A crash at any point leaves the previous pointer and its
folder intact; folders no pointer names are leftovers, removed by the next
save or resume, and only folders with the kit's own names are ever removed.

`fail_point` makes the process exit at a named stage when CIFAR10_KIT_FAIL_AT
names it: the crash tests use it to stop a run inside a save, an epoch or the
final prediction.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from baseline.config import TrainConfig, flag_text
from baseline.errors import TrainingError
from baseline.outputs import OUTPUT_FILES
from baseline.schedules import EarlyStopping, Plateau
from grader.core.fileio import write_atomically, write_text_atomically

CHECKPOINT = "checkpoint"  # out/checkpoint.NNNN folders, one complete per epoch saved
POINTER = "checkpoint.current"  # names the checkpoint folder to resume from
VERSION = re.compile(rf"{CHECKPOINT}\.\d{{4,}}")  # checkpoint.0001, ...
FAIL_AT = "CIFAR10_KIT_FAIL_AT"  # crash tests: see fail_point
BEST = "best_model.pt"  # early stopping keeps the best epoch's weights here
# Settings a resumed run may change; any other must equal the checkpoint's.
CHANGEABLE = {"resume", "epochs", "out", "data", "weights_file", "recipe"}


@dataclass
class TrainState:
    """Everything a resumed run needs besides what Accelerate saves (weights, optimizer,
    gradient scaler, RNG): written to progress.json with every checkpoint."""

    stopper: EarlyStopping  # --patience: epochs since the best validation loss
    history: list[dict[str, float]] = field(default_factory=list)  # a row per finished epoch
    lr_trace: list[float] = field(default_factory=list)  # the lr of every optimizer step
    plateau: Plateau = field(default_factory=Plateau)  # --sched plateau's lr factor

    @classmethod
    def fresh(cls, cfg: TrainConfig) -> TrainState:
        return cls(EarlyStopping(cfg.patience))

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "lr_trace": self.lr_trace,
            "plateau": asdict(self.plateau),
            "early_stopping": asdict(self.stopper),
            "epochs_done": self.epochs_done,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any], cfg: TrainConfig) -> TrainState:
        return cls(
            EarlyStopping(**{**saved.get("early_stopping", {}), "patience": cfg.patience}),
            list(saved["history"]),
            list(saved.get("lr_trace", [])),
            Plateau(**saved.get("plateau", {})),
        )


def fail_point(stage: str, epoch: int | None = None) -> None:
    """Exit at once, as a crash would, where CIFAR10_KIT_FAIL_AT names this stage
    ("save:state", "save:renamed", "save:pointer", "epoch:middle", "predict"), optionally
    for one epoch ("save:renamed:2"). For the crash tests; unset, it does nothing."""
    wanted = os.environ.get(FAIL_AT)
    if wanted and wanted in (stage, f"{stage}:{epoch}"):
        print(f"{FAIL_AT}: stopping at {stage}", file=sys.stderr, flush=True)
        os._exit(3)


def _versions(out: Path) -> list[Path]:
    """The kit's complete checkpoint folders checkpoint.NNNN, oldest first."""
    found = [p for p in out.glob(f"{CHECKPOINT}.*") if VERSION.fullmatch(p.name)]
    return sorted(p for p in found if (p / "progress.json").is_file())


def checkpoint_dir(out: Path) -> Path | None:
    """The complete checkpoint `out` holds: the folder named in out/checkpoint.current;
    if that file is missing or damaged, the latest complete checkpoint.NNNN; for runs of
    older kits, out/checkpoint; None when there is none."""
    try:
        named = out / (out / POINTER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        named = None
    if named is not None and VERSION.fullmatch(named.name) and (named / "progress.json").is_file():
        return named
    versions = _versions(out)
    if versions:
        return versions[-1]
    legacy = out / CHECKPOINT
    return legacy if (legacy / "progress.json").is_file() else None


def save_checkpoint(acc: Accelerator, out: Path, cfg: TrainConfig, state: TrainState) -> None:
    """Save model, optimizer and progress after an epoch; it becomes the checkpoint in one
    atomic step (the module docstring says how)."""
    epoch = state.epochs_done
    staging = out / f"{CHECKPOINT}.partial"
    if acc.is_main_process and staging.exists():
        shutil.rmtree(staging)
    acc.wait_for_everyone()
    acc.save_state(str(staging))
    acc.wait_for_everyone()
    if acc.is_main_process:
        fail_point("save:state", epoch)
        progress = {**state.to_dict(), "config": cfg.to_dict()}
        (staging / "progress.json").write_text(json.dumps(progress, indent=2))
        version = out / f"{CHECKPOINT}.{epoch:04d}"
        if version.exists() and version != checkpoint_dir(out):
            shutil.rmtree(version)  # a leftover of a crash at this epoch
        staging.rename(version)
        fail_point("save:renamed", epoch)
        # fsync: after a power cut the pointer still names a folder, never nothing.
        write_text_atomically(out / POINTER, version.name + "\n", fsync=True)
        fail_point("save:pointer", epoch)
        remove_leftovers(out)
    acc.wait_for_everyone()


def remove_leftovers(out: Path) -> None:
    """Delete the kit's checkpoint folders other than the current one (crash leftovers):
    checkpoint.partial, other checkpoint.NNNN, and an older kit's checkpoint and
    checkpoint.old. Nothing else in --out is touched, and nothing without a current one."""
    keep = checkpoint_dir(out)
    if keep is None:
        return
    names = {f"{CHECKPOINT}.partial", CHECKPOINT, f"{CHECKPOINT}.old"}
    for old in out.iterdir():
        kit_made = old.name in names or VERSION.fullmatch(old.name)
        if kit_made and old.is_dir() and not old.is_symlink() and old != keep:
            shutil.rmtree(old, ignore_errors=True)


def remove_run(out: Path) -> None:
    """Remove the files a run writes in `out` (its outputs, checkpoints and best weights),
    and nothing else: a run started over in the same folder."""
    if not out.is_dir():
        return
    # A write that a kill interrupted leaves a temporary file: .<name>.<random>.tmp
    # (grader.core.fileio's), .<name>.tmp or <name>.tmp (older kits').
    names = {*OUTPUT_FILES, BEST, f".{BEST}.tmp", POINTER, f"{POINTER}.tmp"}
    temporary = [f".{BEST}.*.tmp", f".{POINTER}.*.tmp"]
    folders = {f"{CHECKPOINT}.partial", CHECKPOINT, f"{CHECKPOINT}.old"}
    for path in out.iterdir():
        if path.is_symlink():
            continue
        if path.is_file() and (path.name in names or any(map(path.match, temporary))):
            path.unlink()
        elif path.is_dir() and (path.name in folders or VERSION.fullmatch(path.name)):
            shutil.rmtree(path)


def load_checkpoint(acc: Accelerator, out: Path, cfg: TrainConfig) -> TrainState:
    """Restore the last checkpoint and return its state; refuse other settings."""
    where = checkpoint_dir(out)
    progress = json.loads((where / "progress.json").read_text())
    saved = progress["config"]
    differ = [k for k, v in cfg.to_dict().items() if k not in CHANGEABLE and saved.get(k) != v]
    if differ:
        raise TrainingError(
            f"--resume: the checkpoint in {out} was made with other settings ("
            + ", ".join(flag_text(k, saved.get(k)) for k in differ)
            + "). Resume with the same settings (leave the flags out: --resume takes the "
            "checkpoint's), or start a new --out."
        )
    if cfg.sched == "cosine" and saved.get("epochs") != cfg.epochs:
        raise TrainingError(
            f"--resume --epochs {cfg.epochs}: the cosine schedule of this run was planned for "
            f"{saved.get('epochs')} epochs and would jump. Resume with --epochs "
            f"{saved.get('epochs')}, or start a new --out."
        )
    acc.load_state(str(where))
    acc.wait_for_everyone()
    if acc.is_main_process:
        remove_leftovers(out)
    return TrainState.from_dict(progress, cfg)


def _progress(out: Path) -> dict[str, Any]:
    """progress.json of `out`'s checkpoint ({} when there is none or it cannot be read)."""
    where = checkpoint_dir(out)
    if where is None:
        return {}
    try:
        progress = json.loads((where / "progress.json").read_text())
    except (OSError, ValueError):
        return {}
    return progress if isinstance(progress, dict) else {}


def epochs_in_checkpoint(out: Path) -> int:
    """How many finished epochs `out`'s checkpoint holds (0 when there is none)."""
    try:
        return int(_progress(out).get("epochs_done", 0))
    except (ValueError, TypeError):
        return 0


def saved_config(out: Path) -> dict[str, Any] | None:
    """The settings `out`'s checkpoint was made with, or None."""
    config = _progress(out).get("config")
    return config if isinstance(config, dict) else None


# ----------------------------------------------------------------------------
# The best epoch's weights (early stopping)
# ----------------------------------------------------------------------------


def save_best(acc: Accelerator, model: torch.nn.Module, out: Path) -> None:
    """Keep the weights of the best epoch so far (the evaluated ones, EMA included)."""
    if acc.is_main_process:
        state = acc.unwrap_model(model).state_dict()
        write_atomically(out / BEST, lambda f: torch.save(state, f))
    acc.wait_for_everyone()


def restore_best(acc: Accelerator, model: torch.nn.Module, out: Path) -> None:
    state = torch.load(out / BEST, map_location="cpu", weights_only=True)
    acc.unwrap_model(model).load_state_dict(state)
