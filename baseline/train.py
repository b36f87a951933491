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

The baseline (docs/baseline.md): torchvision resnet50 with IMAGENET1K_V1 weights and
a new 10-way fc, SGD lr 1e-3 (no momentum, no weight decay), global batch 128,
3 epochs, RandomResizedCrop 224 + flip + ImageNet normalisation, seed 42.
Its accuracy on T4 x2: the results table in README.md (what is measured, and what not).

Writes to --out: metrics.csv, lr.csv and learning_curves.png (every epoch),
a checkpoint (every epoch), model_summary.txt, submission.csv,
confusion_matrix.csv/.png (validation), run.json.

How it reads: `run` is set-up (`set_up`), fit (baseline.engine.fit) and
predict-and-write (`predict_and_write`). The code that decides the numbers
(split, transforms, model, loss, optimizer, schedule, loop, evaluation,
submission) is baseline/lesson.py, the code the notebooks show; `run` takes
another set of those functions as `lesson` (a notebook passes its globals()).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator

from baseline import lesson as default_lesson
from baseline.built import (
    CHECK_IMAGES,
    Built,
    check_transforms,
    describe_model,
    describe_optimizer,
)
from baseline.checkpoint import (
    TrainState,
    checkpoint_dir,
    epochs_in_checkpoint,
    fail_point,
    load_checkpoint,
    remove_run,
    saved_config,
)
from baseline.config import TrainConfig, check_settings, parse_config
from baseline.data import check_split, load_competition
from baseline.devices import make_accelerator, seed_everything
from baseline.ema import make_ema
from baseline.engine import Pieces, Training, evaluated, fit, guard_memory, make_loaders
from baseline.errors import TrainingError
from baseline.model import check_model, load_pretrained, resolve_weights, summary
from baseline.outputs import (
    EDITED_CODE,
    check_submission,
    write_confusion,
    write_run_json,
    write_text,
)
from baseline.record import banner, run_record
from grader.bundle.files import Bundle

# ----------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------


def check_batch_split(cfg: TrainConfig, processes: int) -> None:
    """Refuse a global batch that does not split among the run's `processes` (known once
    Accelerate has started) and --grad-accum, naming the flags. After check_settings."""
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
    per_process = cfg.batch_size // share
    if (cfg.mixup or cfg.cutmix) and per_process % 2:
        raise TrainingError(f"--mixup/--cutmix need an even batch per process, not {per_process}.")


def prepare_out(cfg: TrainConfig, replace: bool = False) -> Path:
    """Refuse to overwrite another run (unless `replace`: set_up removes it once every
    check has passed); with --resume, require its checkpoint."""
    out = Path(cfg.out)
    has_checkpoint = checkpoint_dir(out) is not None
    if cfg.resume and not has_checkpoint:
        raise TrainingError(
            f"--resume: {out} holds no checkpoint of a finished epoch to continue from. Run "
            "without --resume to start."
        )
    if not cfg.resume and not replace and (has_checkpoint or (out / "run.json").is_file()):
        raise TrainingError(
            f"--out {out}: holds an earlier run. Pass --resume to continue it, or choose "
            "another --out."
        )
    return out


@dataclass
class Setup:
    """A run ready to fit: the data, the prepared training, where it writes."""

    training: Training
    bundle: Bundle
    out: Path
    sizes: dict[str, int]  # images in the train / val / test splits
    started: float  # time.perf_counter() at the start
    edited: list[str]  # the lesson's functions this run's code changed (a notebook's edits)
    built: Built  # the model, optimizer and transforms as built and called


def build_network(cfg: TrainConfig, pieces: Pieces, acc: Accelerator) -> torch.nn.Module:
    """The lesson's model with the pretrained weights (downloaded once per machine: the
    main process first), channels_last."""
    weights = resolve_weights(cfg.model, cfg.weights)
    with acc.main_process_first():
        state = None
        if weights is not None and not cfg.model.startswith("timm/"):
            weights_file = Path(cfg.weights_file) if cfg.weights_file else None
            state = load_pretrained(weights, weights_file, acc.is_local_main_process)
        torch.manual_seed(cfg.seed)  # the new head's initialisation depends on the seed only
        model = pieces.build_model(cfg, state)
    check_model(model, cfg.model)
    return model.to(memory_format=torch.channels_last)


def set_up(cfg: TrainConfig, pieces: Pieces, replace: bool = False) -> Setup:
    """Check the settings, load and split the data, build and prepare the model, the
    optimizer and the loaders, and restore a checkpoint with --resume. With `replace`,
    the files of an earlier run in --out are removed, once all of that has worked."""
    started = time.perf_counter()
    check_settings(cfg)  # the settings alone: before anything starts
    acc = make_accelerator(cfg)
    check_batch_split(cfg, acc.num_processes)
    out = prepare_out(cfg, replace)
    seed_everything(cfg.seed, cfg.deterministic)  # before the split and the model
    bundle = load_competition(cfg.data)
    train_rows, val_rows = pieces.split_data(bundle.train_labels, cfg)
    check_split(train_rows, val_rows, cfg.val_fraction)
    # The transforms first: a mistake there stops the run before the model is downloaded.
    sample = bundle.train_images[np.sort(train_rows[:CHECK_IMAGES])]
    transforms = check_transforms(pieces, sample, cfg, acc.device)
    model = build_network(cfg, pieces, acc)
    described = ""
    if acc.is_main_process:  # on the CPU, before prepare(): one image, no gradients
        weights = resolve_weights(cfg.model, cfg.weights)
        described = summary(model, cfg.model, weights, cfg.image_size)
    optimizer = pieces.build_optimizer(model, cfg)
    policy = pieces.cpu_augmentation(cfg)
    built = Built(
        describe_model(model),
        describe_optimizer(optimizer),
        transforms,
        None if policy is None else type(policy).__name__,
    )
    loaders, shuffle = make_loaders(cfg, bundle, train_rows, val_rows, policy, acc)
    model, optimizer, *prepared = acc.prepare(
        model, optimizer, loaders.train, loaders.val, loaders.test, loaders.train_eval
    )
    loaders = type(loaders)(*prepared)
    if len(loaders.train) // cfg.grad_accum == 0:
        raise TrainingError(f"--grad-accum {cfg.grad_accum}: more micro-batches than an epoch has.")
    ema = None
    if cfg.ema:
        ema = make_ema(acc.unwrap_model(model), cfg.ema)
        acc.register_for_checkpointing(ema)  # before load_state, which restores it
    state = load_checkpoint(acc, out, cfg) if cfg.resume else TrainState.fresh(cfg)
    training = Training(acc, cfg, model, optimizer, loaders, shuffle, state, ema)
    sizes = {"train": len(train_rows), "val": len(val_rows), "test": len(bundle.test_ids)}
    if acc.is_main_process:
        if replace and not cfg.resume:
            remove_run(out)  # only the files a run writes; nothing else in --out
        out.mkdir(parents=True, exist_ok=True)
        acc.print(banner(cfg, acc, sizes, training.steps_per_epoch, built, sorted(pieces.edited)))
        if pieces.edited:  # the code that trained, for whoever reads or re-runs the run
            write_text(out / EDITED_CODE, "\n\n\n".join(pieces.edited.values()) + "\n")
        if state.history:
            acc.print(f"Resuming after epoch {state.epochs_done} from {checkpoint_dir(out)}")
        layers = f"\nThe layers, in full:\n{acc.unwrap_model(model)}\n"
        write_text(out / "model_summary.txt", described + layers)
    return Setup(training, bundle, out, sizes, started, sorted(pieces.edited), built)


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------


def run(
    cfg: TrainConfig,
    lesson: Any = None,
    on_epoch: Callable[[dict], None] | None = None,
    replace: bool = False,
) -> dict:
    """Train, evaluate every epoch, checkpoint, and write the submission and records.

    `lesson` gives the functions that decide the numbers (baseline/lesson.py, the
    default; a notebook passes its globals(), so its edited cells are what trains).
    `on_epoch` gets each epoch's metrics row after its checkpoint is saved (the tuner
    reports it to Optuna there and may stop the run by raising). `replace`: an earlier
    run in --out is replaced rather than refused (the notebook's Run cell, run again).
    """
    if isinstance(lesson, Pieces):  # baseline.worker passes them ready
        pieces = lesson
    else:
        pieces = Pieces.of(default_lesson if lesson is None else lesson)
    setup = set_up(cfg, pieces, replace)
    fit(setup.training, pieces, setup.out, on_epoch)
    return predict_and_write(setup, pieces)


def predict_and_write(setup: Setup, pieces: Pieces) -> dict:
    """Evaluate the final weights, predict the test set, write submission.csv (checked by
    the grader's validator), the confusion matrix and run.json."""
    t, out, bundle = setup.training, setup.out, setup.bundle
    acc, cfg = t.accelerator, t.cfg
    result = guard_memory(lambda: pieces.evaluate(t, t.loaders.val), cfg, acc, "evaluating")
    final_val, confusion = evaluated(result), result[1]
    predict_start = time.perf_counter()
    rows, predicted, _, _ = guard_memory(
        lambda: pieces.predict(t, t.loaders.test), cfg, acc, "predicting the test set"
    )
    record = {}
    if acc.is_main_process:
        fail_point("predict")
        staged, final = out / ".submission.csv.tmp", out / "submission.csv"
        pieces.write_submission(staged, bundle.test_ids[rows], predicted, bundle.classes)
        check_submission(staged, bundle, final)  # every test id once, known labels
        staged.replace(final)
        write_confusion(out, confusion, bundle.classes)
        record = run_record(
            t, setup.built, setup.sizes, setup.edited, final_val, setup.started, predict_start
        )
        write_run_json(out / "run.json", record)
        acc.print(
            f"Wrote {out}/submission.csv ({len(rows):,} rows), metrics.csv, "
            "learning_curves.png, confusion_matrix.png and run.json."
        )
    acc.wait_for_everyone()
    acc.end_training()
    return record


def interrupted_text(out: Path) -> str:
    """What an interrupted run can do next: resume only from a finished epoch."""
    epochs = epochs_in_checkpoint(out)
    if epochs:
        return (
            f"Interrupted. Continue later with --resume: {checkpoint_dir(out)} holds "
            f"{epochs} finished epoch(s)."
        )
    return (
        "Interrupted before the first epoch ended: there is no checkpoint to resume "
        "from; run the command again without --resume."
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse flags, run, and print expected failures as one line."""
    cfg = parse_config(argv)
    if cfg.resume:  # the checkpoint's settings are the defaults: no flag need be repeated
        cfg = parse_config(argv, saved_config(Path(cfg.out)))
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
