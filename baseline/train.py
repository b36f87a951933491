"""Train the course baseline with Hugging Face Accelerate, then write a submission.

Runbook (from the kit's root, after `grader prepare`):

    # one GPU, or the CPU
    python -m baseline.train --data competition/public --out runs/baseline
    # Kaggle's GPU T4 x2: both GPUs, same optimisation (the batch of 128 is global)
    accelerate launch --multi_gpu --num_processes 2 -m baseline.train --out runs/baseline
    # two CPU processes over gloo (what the tests run), or torchrun on GPUs
    torchrun --nproc_per_node 2 -m baseline.train --cpu ...
    # after a kill: continue from the last finished epoch
    python -m baseline.train --out runs/baseline --resume
    # a smoke run in about a minute on a laptop CPU
    python -m baseline.train --model resnet18 --weights none --image-size 32 \\
        --train-limit 2000 --epochs 2 --out runs/smoke

The baseline (DESIGN.md): torchvision resnet50 with IMAGENET1K_V1 weights and
a new 10-way fc, SGD lr 1e-3 (no momentum, no weight decay), global batch 128,
3 epochs, RandomResizedCrop 224 + flip + ImageNet normalisation, seed 42.
Expected accuracy on T4 x2: not measured yet.

Writes to --out: metrics.csv and learning_curves.png (every epoch), the
checkpoint/ (every epoch), model_summary.txt, submission.csv,
confusion_matrix.csv/.png (validation), run.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator, PartialState
from accelerate.utils import DataLoaderConfiguration
from tqdm.auto import tqdm

from baseline.config import TrainConfig, parse_config
from baseline.data import EpochShuffle, ImageRows, load_data, make_loader
from baseline.errors import TrainingError
from baseline.model import build_model, load_pretrained, resolve_weights, summary
from baseline.outputs import (
    git_commit,
    library_versions,
    plot_learning_curves,
    write_confusion,
    write_metrics_csv,
    write_run_json,
    write_submission,
    write_text,
)
from baseline.recipe import (
    Criterion,
    EarlyStopping,
    LrSchedule,
    augmentation_policy,
    build_optimizer,
    check_recipe,
)
from baseline.transforms import CROP_RATIO, CROP_SCALE, DeviceTransforms
from grader.metrics import score
from grader.progress import bars

CHECKPOINT = "checkpoint"  # out/checkpoint.NNNN folders, one complete per epoch saved
POINTER = "checkpoint.current"  # names the checkpoint folder to resume from
VERSION = re.compile(rf"{CHECKPOINT}\.\d{{4,}}")  # checkpoint.0001, ...
FAIL_AT = "CIFAR10_KIT_FAIL_AT"  # crash tests: see fail_point
BEST = "best_model.pt"  # early stopping keeps the best epoch's weights here
NAN_CHECK_EVERY = 25  # steps between host syncs that check the loss is finite


# ----------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------


def precision_for(capability: tuple[int, int] | None) -> tuple[str, str]:
    """(mixed precision, why) for a device of this CUDA compute capability (None: the CPU).

    bf16 from capability 8.0 (A100, H100, ...); below it fp16 with a gradient scaler,
    because PyTorch sends bf16 convolutions to cuDNN only from 8.0, so on a T4 (7.5)
    bf16 would run emulated, without tensor cores; fp32 on the CPU.
    """
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


def _loader_config() -> DataLoaderConfiguration:
    """A GLOBAL batch (split_batches), and batches copied to the device without blocking
    (from the pinned memory the loaders use) where this Accelerate has the option."""
    import inspect

    options = {"split_batches": True}
    if "non_blocking" in inspect.signature(DataLoaderConfiguration).parameters:
        options["non_blocking"] = True
    return DataLoaderConfiguration(**options)


def make_accelerator(cfg: TrainConfig) -> Accelerator:
    """Accelerate with a GLOBAL batch (split_batches) and the chosen precision, decided
    per process from the capability of the GPU this process was given."""
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
        dataloader_config=_loader_config(),
    )


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch once; choose deterministic or fast GPU kernels."""
    import random

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


def check_batch(cfg: TrainConfig, processes: int) -> None:
    """Refuse batch settings that cannot train, naming the flag."""
    for flag, value in (
        ("--batch-size", cfg.batch_size),
        ("--grad-accum", cfg.grad_accum),
        ("--epochs", cfg.epochs),
        ("--image-size", cfg.image_size),
    ):
        if value < 1:
            raise TrainingError(f"{flag} {value}: must be at least 1.")
    if cfg.train_limit is not None and cfg.train_limit < 2:
        raise TrainingError(
            f"--train-limit {cfg.train_limit}: must be at least 2 (one image "
            "to train on, one to validate with)."
        )
    share = processes * cfg.grad_accum
    if cfg.batch_size % share == 0 and cfg.batch_size // share < 2:
        raise TrainingError(
            f"--batch-size {cfg.batch_size}: {cfg.batch_size // share} image per process and "
            f"micro-batch ({processes} process(es) x --grad-accum {cfg.grad_accum}); batch "
            "normalisation needs at least 2. Raise --batch-size or lower --grad-accum."
        )
    if cfg.batch_size % share:
        raise TrainingError(
            f"--batch-size {cfg.batch_size}: must be divisible by processes x --grad-accum "
            f"({processes} x {cfg.grad_accum} = {share}), since the batch is global."
        )


def prepare_out(cfg: TrainConfig) -> Path:
    """Refuse to overwrite another run; with --resume, require its checkpoint."""
    out = Path(cfg.out)
    has_checkpoint = checkpoint_dir(out) is not None
    if cfg.resume and not has_checkpoint:
        raise TrainingError(
            f"--resume: {out} holds no checkpoint of a finished epoch to continue from. Run "
            "without --resume to start."
        )
    if not cfg.resume and (has_checkpoint or (out / "run.json").is_file()):
        raise TrainingError(
            f"--out {out}: holds an earlier run. Pass --resume to continue it, or choose "
            "another --out."
        )
    return out


# ----------------------------------------------------------------------------
# Training and evaluation
# ----------------------------------------------------------------------------


@dataclass
class Loop:
    """What one epoch needs, prepared by Accelerate."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    transforms: DeviceTransforms
    cfg: TrainConfig
    shuffle: EpochShuffle  # the training sampler, kept from before Accelerate wraps it
    schedule: LrSchedule | None = None
    criterion: Criterion | None = None
    ema: torch.nn.Module | None = None  # timm ModelEmaV3 of the unwrapped model
    lr_trace: list[float] = field(default_factory=list)  # the lr of every optimizer step

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights that are evaluated: the moving average with --ema."""
        return self.ema.module if self.ema is not None else self.model


def train_one_epoch(loop: Loop, loader, epoch: int) -> dict[str, float]:
    """One pass over the training split; returns mean loss, accuracy and images/s."""
    acc, model, cfg = loop.accelerator, loop.model, loop.cfg
    model.train()
    # Accelerate re-sets the sampler's epoch from its own counter when iteration starts
    # (0 after a resume): set both, so a resumed run shuffles as an uninterrupted one.
    loader.set_epoch(epoch)
    loop.shuffle.set_epoch(epoch)
    # Dropout, mixup and the per-image policies draw from the global generators: seed
    # them per (epoch, process) so that a resumed run draws what an uninterrupted one did.
    torch.manual_seed(derived_seed(cfg.seed, epoch, acc.process_index, 1))
    np.random.seed(derived_seed(cfg.seed, epoch, acc.process_index, 2))  # noqa: NPY002
    criterion = loop.criterion or Criterion(cfg, 10)
    sums = torch.zeros(3, device=acc.device)  # loss x n, correct, n
    first_bad = torch.full((), -1, device=acc.device)
    start = time.perf_counter()
    bar = tqdm(
        loader,
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        leave=False,
        disable=not acc.is_local_main_process or not bars(),
    )
    for step, (images, labels, _) in enumerate(bar):
        if step == len(loader) // 2 and acc.is_main_process:
            fail_point("epoch:middle", epoch + 1)
        generator = torch.Generator().manual_seed(
            derived_seed(cfg.seed, epoch, step, acc.process_index)
        )
        if cfg.augment == "none":
            x = loop.transforms.eval(images)
        else:
            x = loop.transforms.train(images, generator)
        x, targets = criterion.mix(x, labels)
        with acc.accumulate(model):
            logits = model(x)
            loss = criterion(logits, targets)
            acc.backward(loss)
            if loop.schedule is not None:
                loop.schedule.apply(loop.optimizer, len(loop.lr_trace))
            loop.optimizer.step()
            loop.optimizer.zero_grad(set_to_none=True)
        if acc.sync_gradients:
            loop.lr_trace.append(loop.optimizer.param_groups[0]["lr"])
            if loop.ema is not None:
                loop.ema.update(acc.unwrap_model(model), step=len(loop.lr_trace))
        detached = loss.detach().float()
        first_bad = torch.where(
            (first_bad < 0) & ~torch.isfinite(detached),
            torch.full_like(first_bad, step),  # a fill on the device, not a host copy
            first_bad,
        )
        sums += torch.stack(
            [
                detached * len(labels),
                (logits.argmax(1) == labels).sum(),
                detached.new_full((), float(len(labels))),
            ]
        )
        if step % NAN_CHECK_EVERY == 0 or step == len(loader) - 1:
            _stop_if_diverged(first_bad, epoch, loop)
            bar.set_postfix(loss=f"{sums[0].item() / max(sums[2].item(), 1):.3f}")
    sums = acc.reduce(sums, reduction="sum")
    seconds = time.perf_counter() - start
    return {
        "train_loss": (sums[0] / sums[2]).item(),
        "train_acc": (sums[1] / sums[2]).item(),
        "seconds": seconds,
        "images_per_s": sums[2].item() / seconds,
    }


def _stop_if_diverged(first_bad: torch.Tensor, epoch: int, loop: Loop) -> None:
    step = int(loop.accelerator.reduce(first_bad.clone(), reduction="max").item())
    if step >= 0:
        lr = loop.optimizer.param_groups[0]["lr"]
        raise TrainingError(
            f"the loss became NaN or infinite at epoch {epoch + 1}, step {step + 1} (lr {lr:g}). "
            "Lower --lr (e.g. by 10x), or try --mixed-precision no."
        )


@torch.inference_mode()
def predict(loop: Loop, loader, desc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-example (rows, predictions, labels, losses) over a loader, gathered across processes.

    Accelerate pads the last batch so every process gets the same number of
    images; gather_for_metrics drops the padding, so each row appears once.
    """
    acc, model = loop.accelerator, loop.eval_model
    model.eval()
    parts: list[tuple[torch.Tensor, ...]] = []
    for images, labels, rows in tqdm(
        loader, desc=desc, leave=False, disable=not acc.is_local_main_process or not bars()
    ):
        x = loop.transforms.eval(images)
        with acc.autocast():
            probs = model(x).float().softmax(dim=1)
            if loop.cfg.tta:  # average with the mirror image's prediction
                probs = (probs + model(x.flip(-1)).float().softmax(dim=1)) / 2
        safe = labels.clamp(min=0)  # test labels are unknown (-1)
        losses = F.nll_loss(probs.clamp_min(1e-12).log(), safe, reduction="none")
        parts.append(acc.gather_for_metrics((rows, probs.argmax(1), labels, losses)))
    return tuple(torch.cat([p[i] for p in parts]).cpu().numpy() for i in range(4))


def evaluate(loop: Loop, loader, n_classes: int) -> tuple[dict[str, float], np.ndarray]:
    """Validation loss, accuracy and macro-F1; also the confusion matrix."""
    _, predicted, labels, losses = predict(loop, loader, "validation")
    metrics = score(labels, predicted, n_classes)
    return (
        {
            "val_loss": float(losses.mean()),
            "val_acc": metrics.accuracy,
            "val_macro_f1": metrics.macro_f1,
        },
        metrics.confusion,
    )


# ----------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------


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


def save_checkpoint(acc: Accelerator, out: Path, cfg: TrainConfig, progress: dict) -> None:
    """Save model, optimizer and progress after an epoch; it becomes the checkpoint in one
    atomic step.

    The state is written into checkpoint.partial, which becomes checkpoint.NNNN (the
    epoch) once complete; then the pointer file checkpoint.current is replaced by one
    os.replace. A crash at any point leaves the previous pointer and its folder intact;
    folders no pointer names are leftovers, removed by the next save.
    """
    epoch = len(progress["history"])
    staging = out / f"{CHECKPOINT}.partial"
    if acc.is_main_process and staging.exists():
        shutil.rmtree(staging)
    acc.wait_for_everyone()
    acc.save_state(str(staging))
    acc.wait_for_everyone()
    if acc.is_main_process:
        fail_point("save:state", epoch)
        (staging / "progress.json").write_text(
            json.dumps({**progress, "epochs_done": epoch, "config": cfg.to_dict()}, indent=2)
        )
        version = out / f"{CHECKPOINT}.{epoch:04d}"
        current = checkpoint_dir(out)
        if version.exists() and version != current:
            shutil.rmtree(version)  # a leftover of a crash at this epoch
        staging.rename(version)
        fail_point("save:renamed", epoch)
        swap = out / f"{POINTER}.tmp"
        with swap.open("w", encoding="ascii") as f:
            f.write(version.name + "\n")
            f.flush()
            os.fsync(f.fileno())  # the pointer never names a folder it has not written
        swap.replace(out / POINTER)
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


def load_checkpoint(acc: Accelerator, out: Path, cfg: TrainConfig) -> dict:
    """Restore the last checkpoint and return its progress; refuse other settings."""
    where = checkpoint_dir(out)
    progress = json.loads((where / "progress.json").read_text())
    saved = progress["config"]
    changeable = {"resume", "epochs", "out", "data", "weights_file"}
    differ = [k for k, v in cfg.to_dict().items() if k not in changeable and saved.get(k) != v]
    if differ:
        raise TrainingError(
            f"--resume: the checkpoint in {out} was made with other settings ("
            + ", ".join(f"--{k.replace('_', '-')} {saved.get(k)}" for k in differ)
            + "). Resume with the same settings, or start a new --out."
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
    return progress


def make_ema(model: torch.nn.Module, decay: float) -> torch.nn.Module:
    """timm's ModelEmaV3 with warm-up: at optimizer step t the average keeps
    min(decay, 1 - t ** -2/3) of itself (0 at the first step, 0.37 at the second, 0.98
    after one baseline epoch of 351 steps), so it follows the model early instead of
    holding the initial weights for thousands of steps."""
    from timm.utils import ModelEmaV3

    return ModelEmaV3(model, decay=decay, use_warmup=True)


def sync_ema(loop: Loop) -> None:
    """Give every process rank 0's moving average.

    The average is kept outside DDP, and each process's BatchNorm statistics
    follow its own images: without this, processes would evaluate (and resume)
    with different weights.
    """
    if loop.ema is None or loop.accelerator.num_processes == 1:
        return
    import torch.distributed as dist

    for tensor in loop.ema.module.state_dict().values():
        dist.broadcast(tensor, src=0)


def save_best(loop: Loop, out: Path) -> None:
    """Keep the weights of the best epoch so far (the evaluated ones, EMA included)."""
    acc = loop.accelerator
    if acc.is_main_process:
        state = acc.unwrap_model(loop.eval_model).state_dict()
        torch.save(state, out / f".{BEST}.tmp")
        (out / f".{BEST}.tmp").replace(out / BEST)
    acc.wait_for_everyone()


def restore_best(loop: Loop, out: Path) -> None:
    state = torch.load(out / BEST, map_location="cpu", weights_only=True)
    loop.accelerator.unwrap_model(loop.eval_model).load_state_dict(state)


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------


def banner(cfg: TrainConfig, acc: Accelerator, sizes: dict[str, int], steps: int) -> str:
    """The start-of-run summary: every setting that decides the numbers."""
    if acc.device.type == "cuda":
        device = f"{acc.num_processes} x cuda ({torch.cuda.get_device_name(acc.device)})"
    else:
        device = f"{acc.num_processes} x cpu"
    per_process = cfg.batch_size // acc.num_processes
    micro = f", in {cfg.grad_accum} micro-batches" if cfg.grad_accum > 1 else ""
    rows = {
        "model": (
            f"{cfg.model}, timm's {'pretrained' if cfg.weights != 'none' else 'no'} weights"
            if cfg.model.startswith("timm/")
            else f"torchvision {cfg.model}, weights {cfg.weights}"
        )
        + ", new 10-way last layer",
        "data": f"{cfg.data}: {sizes['train']:,} train / {sizes['val']:,} validation "
        f"(stratified, seed {cfg.seed}) / {sizes['test']:,} test",
        "devices": f"{device}, {acc.distributed_type.value}, mixed precision "
        f"{acc.mixed_precision} ({precision_reason(cfg, acc)})",
        "batch": f"{cfg.batch_size} global per optimizer step = {per_process} per process x "
        f"{acc.num_processes} process(es){micro}",
        "steps": f"{steps:,} per epoch x {cfg.epochs} epochs = {steps * cfg.epochs:,} "
        "optimizer steps (an epoch's last incomplete batch is dropped)",
        "optimizer": _optimizer_text(cfg),
        "schedule": _schedule_text(cfg),
        "regularise": f"weight decay {cfg.weight_decay:g}, dropout {cfg.dropout:g}, "
        f"batch-norm head {'on' if cfg.bn_head else 'off'}, label smoothing "
        f"{cfg.label_smoothing:g}, mixup {cfg.mixup:g}, cutmix {cfg.cutmix:g}, EMA "
        f"{cfg.ema or 'off'}, early stopping "
        f"{f'patience {cfg.patience}' if cfg.patience else 'off'}, flip TTA "
        f"{'on' if cfg.tta else 'off'}",
        "train": _augment_text(cfg),
        "eval": f"Resize({cfg.image_size}) bilinear antialias + Normalize",
        "seed": f"{cfg.seed}, deterministic kernels {'on' if cfg.deterministic else 'off'}",
    }
    return "\n".join([f"Baseline run -> {cfg.out}", *(f"  {k:<10} {v}" for k, v in rows.items())])


def _optimizer_text(cfg: TrainConfig) -> str:
    if cfg.optimizer == "sgd":
        nesterov = ", nesterov" if cfg.nesterov else ""
        return f"SGD lr {cfg.lr:g}, momentum {cfg.momentum:g}{nesterov}"
    return f"{'Adam' if cfg.optimizer == 'adam' else 'AdamW'} lr {cfg.lr:g}"


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


def _augment_text(cfg: TrainConfig) -> str:
    if cfg.augment == "none":
        return f"Resize({cfg.image_size}) + Normalize only (no augmentation)"
    extra = f"{cfg.augment} on the 32x32 image (CPU), then " if cfg.augment != "lecture" else ""
    return (
        f"{extra}RandomResizedCrop({cfg.image_size}, scale={CROP_SCALE}, ratio=(3/4, 4/3))"
        " of the 32x32 image, bilinear antialias, flip p=0.5, ImageNet Normalize, on the "
        "device"
    )


def run(cfg: TrainConfig, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train, evaluate every epoch, checkpoint, and write the submission and records.

    `on_epoch` gets each epoch's metrics row after its checkpoint is saved (the
    tuner reports it to Optuna there and may stop the run by raising).
    """
    started = time.perf_counter()
    acc = make_accelerator(cfg)
    check_batch(cfg, acc.num_processes)
    check_recipe(cfg, cfg.batch_size // acc.num_processes // cfg.grad_accum)
    out = prepare_out(cfg)
    seed_everything(cfg.seed, cfg.deterministic)  # before the split and the model
    bundle, splits = load_data(cfg.data, cfg.val_fraction, cfg.train_limit, cfg.seed)
    weights = resolve_weights(cfg.model, cfg.weights)
    with acc.main_process_first():
        state = None
        if weights is not None and not cfg.model.startswith("timm/"):
            weights_file = Path(cfg.weights_file) if cfg.weights_file else None
            state = load_pretrained(weights, weights_file, acc.is_local_main_process)
        torch.manual_seed(cfg.seed)  # the new head's initialisation depends on the seed only
        model = build_model(
            cfg.model, weights, state, len(bundle.classes), cfg.dropout, cfg.bn_head
        )
    model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, model.parameters())
    train_loader, val_loader, test_loader, train_eval_loader = _loaders(cfg, bundle, splits, acc)
    shuffle = train_loader.sampler
    model, optimizer, train_loader, val_loader, test_loader, train_eval_loader = acc.prepare(
        model, optimizer, train_loader, val_loader, test_loader, train_eval_loader
    )
    steps = len(train_loader) // cfg.grad_accum
    if steps == 0:
        raise TrainingError(f"--grad-accum {cfg.grad_accum}: more micro-batches than an epoch has.")
    loop = Loop(
        acc,
        model,
        optimizer,
        DeviceTransforms(cfg.image_size, acc.device),
        cfg,
        shuffle,
        LrSchedule(cfg, steps),
        Criterion(cfg, len(bundle.classes)),
    )
    if cfg.ema:
        loop.ema = make_ema(acc.unwrap_model(model), cfg.ema)
        acc.register_for_checkpointing(loop.ema)
    stopper = EarlyStopping(cfg.patience)
    progress = load_checkpoint(acc, out, cfg) if cfg.resume else {"history": []}
    history = progress["history"]
    loop.lr_trace = progress.get("lr_trace", [])
    loop.schedule.plateau.update(progress.get("plateau", {}))
    stopper.__dict__.update(progress.get("early_stopping", {}))
    sizes = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        acc.print(banner(cfg, acc, sizes, steps))
        if history:
            acc.print(f"Resuming after epoch {len(history)} from {checkpoint_dir(out)}")
        write_text(out / "model_summary.txt", summary(acc.unwrap_model(model), cfg.model, weights))
    for epoch in range(len(history), cfg.epochs):
        if stopper.should_stop:
            break
        row = {
            "epoch": epoch + 1,
            **_guard_memory(lambda e=epoch: train_one_epoch(loop, train_loader, e), cfg, acc),
        }
        sync_ema(loop)
        val, _ = _guard_memory(
            lambda: evaluate(loop, val_loader, len(bundle.classes)), cfg, acc, "evaluating"
        )
        seen, _ = _guard_memory(
            lambda: evaluate(loop, train_eval_loader, len(bundle.classes)), cfg, acc, "evaluating"
        )
        row.update(train_eval_loss=seen["val_loss"], train_eval_acc=seen["val_acc"])
        row.update(val, lr=loop.lr_trace[-1])
        history.append(row)
        loop.schedule.end_epoch(row["val_loss"])
        if stopper.update(epoch + 1, row["val_loss"]) and cfg.patience:
            save_best(loop, out)
        if acc.is_main_process:
            _report_epoch(out, history, loop.lr_trace, cfg)
        save_checkpoint(
            acc,
            out,
            cfg,
            {
                "history": history,
                "lr_trace": loop.lr_trace,
                "plateau": loop.schedule.plateau,
                "early_stopping": vars(stopper),
            },
        )
        if on_epoch is not None:
            on_epoch(row)
        if stopper.should_stop:
            acc.print(
                f"Early stopping: no better validation loss for {cfg.patience} epochs; "
                f"keeping the weights of epoch {stopper.best_epoch}."
            )
    if cfg.patience and (out / BEST).is_file():
        restore_best(loop, out)
    final_val, confusion = _guard_memory(
        lambda: evaluate(loop, val_loader, len(bundle.classes)), cfg, acc, "evaluating"
    )
    predict_start = time.perf_counter()
    rows, predicted, _, _ = _guard_memory(
        lambda: predict(loop, test_loader, "test"), cfg, acc, "predicting the test set"
    )
    if acc.is_main_process:
        fail_point("predict")
    record = {}
    if acc.is_main_process:
        write_submission(
            out / "submission.csv",
            bundle.test_ids[rows],
            predicted,
            bundle.classes,
            bundle.test_ids,
        )
        write_confusion(out, confusion, bundle.classes)
        record = _run_record(cfg, acc, history, sizes, steps, started, predict_start)
        record["validation"] = final_val  # of the weights that made the submission
        record["early_stopping"] = vars(stopper) if cfg.patience else None
        write_run_json(out / "run.json", record)
        acc.print(
            f"Wrote {out}/submission.csv ({len(rows):,} rows), metrics.csv, "
            "learning_curves.png, confusion_matrix.png and run.json."
        )
    acc.wait_for_everyone()
    acc.end_training()
    return record


def _loaders(cfg: TrainConfig, bundle, splits, acc: Accelerator):
    """Train (shuffled, with the per-image policy), validation and test loaders."""
    pin = acc.device.type == "cuda"
    micro = cfg.batch_size // cfg.grad_accum
    policy = augmentation_policy(cfg.augment)
    train = make_loader(
        ImageRows(bundle.train_images, bundle.train_labels, splits.train, policy),
        micro,
        cfg.seed,
        pin,
        cfg.batch_size,
    )
    if len(train) == 0:
        raise TrainingError(
            f"--batch-size {cfg.batch_size}: larger than the {len(splits.train)} training "
            "images; lower it or raise --train-limit."
        )
    val = make_loader(
        ImageRows(bundle.train_images, bundle.train_labels, splits.val), micro, None, pin
    )
    test = make_loader(ImageRows(bundle.test_images, None, splits.test), micro, None, pin)
    # A fixed subset of the training split, the size of the validation split, seen as
    # evaluation sees images (no augmentation): what diagnose judges fitting on.
    count = max(1, min(len(splits.val), len(splits.train)))
    subset = np.asarray(splits.train)[
        np.unique(np.linspace(0, len(splits.train) - 1, count).round().astype(int))
    ]
    train_eval = make_loader(
        ImageRows(bundle.train_images, bundle.train_labels, subset), micro, None, pin
    )
    return train, val, test, train_eval


def _report_epoch(out: Path, history: list[dict], lr_trace: list[float], cfg) -> None:
    """Per-epoch files and line (main process)."""
    row = history[-1]
    write_metrics_csv(out / "metrics.csv", history)
    write_text(
        out / "lr.csv", "step,lr\n" + "".join(f"{i + 1},{lr!r}\n" for i, lr in enumerate(lr_trace))
    )
    plot_learning_curves(out / "learning_curves.png", history)
    print(
        f"epoch {row['epoch']}/{cfg.epochs}: train loss {row['train_loss']:.4f} acc "
        f"{row['train_acc']:.4f} | val loss {row['val_loss']:.4f} acc "
        f"{row['val_acc']:.4f} macro-F1 {row['val_macro_f1']:.4f} | lr {row['lr']:.3g} | "
        f"{row['images_per_s']:.0f} img/s",
        flush=True,
    )


def _guard_memory(step, cfg: TrainConfig, acc: Accelerator, doing: str = "training"):
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


def _run_record(cfg, acc, history, sizes, steps, started, predict_start) -> dict:
    last = history[-1] if history else {}
    return {
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "settled": {
            "batch": f"{cfg.batch_size} global per optimizer step, "
            f"{cfg.batch_size // acc.num_processes} per process",
            "crop": f"RandomResizedCrop({cfg.image_size}, scale={CROP_SCALE}, "
            f"ratio={tuple(round(r, 4) for r in CROP_RATIO)}) of the 32x32 image",
            "mixed_precision": acc.mixed_precision,
            "mixed_precision_why": precision_reason(cfg, acc),
        },
        "hardware": {
            "processes": acc.num_processes,
            "device": acc.device.type,
            "device_name": torch.cuda.get_device_name(acc.device)
            if acc.device.type == "cuda"
            else platform_cpu(),
            "distributed": acc.distributed_type.value,
        },
        "data": sizes,
        "steps_per_epoch": steps,
        "versions": library_versions(),
        "git_commit": git_commit(),
        "timings_s": {
            "total": round(time.perf_counter() - started, 3),
            "epochs": [round(row["seconds"], 3) for row in history],
            "predict_test": round(time.perf_counter() - predict_start, 3),
        },
        "validation": {k: last.get(k) for k in ("val_loss", "val_acc", "val_macro_f1")},
        "history": history,
    }


def platform_cpu() -> str:
    import platform

    return platform.processor() or platform.machine()


def interrupted_text(out: Path) -> str:
    """What an interrupted run can do next: resume only from a finished epoch."""
    where = checkpoint_dir(out)
    if where is not None:
        try:
            epochs = int(json.loads((where / "progress.json").read_text()).get("epochs_done", 0))
        except (OSError, ValueError, TypeError):
            epochs = 0
        if epochs:
            return (
                f"Interrupted. Continue later with --resume: {where} holds "
                f"{epochs} finished epoch(s)."
            )
    return (
        "Interrupted before the first epoch ended: there is no checkpoint to resume "
        "from; run the command again without --resume."
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse flags, run, and print expected failures as one line."""
    cfg = parse_config(argv)
    try:
        run(cfg)
    except TrainingError as exc:
        if os.environ.get("RANK", "0") == "0":  # every process raises it; say it once
            print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":  # every process gets the Ctrl-C; say it once
            print(interrupted_text(Path(cfg.out)), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
