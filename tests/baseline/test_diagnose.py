"""Learning-curve diagnosis on synthetic curves, one for each case of the lecture."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from baseline.diagnose import diagnose, read_optimizer
from baseline.outputs import write_metrics_csv
from tests.helpers import ROOT


def curves(train_loss, val_loss, train_acc, val_acc):
    return [
        {
            "epoch": i + 1,
            "train_loss": tl,
            "val_loss": vl,
            "train_acc": ta,
            "val_acc": va,
            "val_macro_f1": va,
            "lr": 0.1,
            "seconds": 1.0,
            "images_per_s": 1.0,
        }
        for i, (tl, vl, ta, va) in enumerate(
            zip(train_loss, val_loss, train_acc, val_acc, strict=True)
        )
    ]


GOOD = curves(
    [1.2, 0.6, 0.33, 0.32],
    [1.1, 0.62, 0.41, 0.405],
    [0.60, 0.80, 0.88, 0.90],
    [0.62, 0.79, 0.85, 0.86],
)
UNDER = curves(
    [2.2, 2.0, 1.9, 1.85],
    [2.2, 2.0, 1.92, 1.88],
    [0.20, 0.28, 0.31, 0.33],
    [0.20, 0.27, 0.30, 0.31],
)
OVER_GAP = curves(
    [1.0, 0.4, 0.1, 0.05],
    [1.0, 0.8, 0.78, 0.79],
    [0.65, 0.88, 0.97, 0.99],
    [0.64, 0.72, 0.74, 0.74],
)
OVER_RISING = curves(
    [1.0, 0.5, 0.3, 0.2], [0.9, 0.6, 0.66, 0.75], [0.65, 0.83, 0.90, 0.93], [0.68, 0.82, 0.84, 0.84]
)
OSCILLATING = curves(
    [1.0, 0.7, 0.6, 0.55, 0.5],
    [0.9, 0.6, 0.9, 0.55, 0.58],
    [0.65, 0.76, 0.8, 0.82, 0.84],
    [0.68, 0.79, 0.70, 0.80, 0.79],
)
DIVERGED = curves([2.0, float("nan")], [2.1, float("nan")], [0.2, 0.1], [0.2, 0.1])
STILL_FALLING = curves([1.5, 1.0, 0.7], [1.4, 1.0, 0.72], [0.5, 0.66, 0.76], [0.52, 0.66, 0.74])


@pytest.mark.parametrize(
    ("history", "verdict", "lr"),
    [
        (GOOD, "good fit", "looks fine"),
        (UNDER, "underfitting", "looks fine"),
        (OVER_GAP, "overfitting", "looks fine"),
        (OVER_RISING, "overfitting", "looks fine"),
        (OSCILLATING, "good fit", "too high"),
        (DIVERGED, "underfitting", "too high"),
        (STILL_FALLING, "good fit", "too low"),
    ],
    ids=["good", "under", "over-gap", "over-rising", "oscillating", "diverged", "still-falling"],
)
def test_each_case_of_the_lecture(history, verdict, lr):
    result = diagnose(history)
    assert (result.verdict, result.lr) == (verdict, lr)
    assert result.advice


def test_reasons_quote_the_numbers():
    assert diagnose(OVER_GAP).reasons == [
        "the validation error (26.0%) is 25.0 points above the training error (1.0%)"
    ]
    assert diagnose(OVER_RISING).reasons == [
        "the validation loss rose from 0.600 (epoch 2) to 0.750 while the training loss fell"
    ]
    assert diagnose(UNDER).reasons == [
        "the training error is still 67.0% (above 30%), and the validation error 69.0%: the "
        "model has not learnt the training set yet"
    ]
    assert diagnose(STILL_FALLING).lr_reasons == [
        "the training loss still fell 30% in the last epoch (and the validation loss 28%): "
        "it was still learning fast when the run ended"
    ]
    assert diagnose(OSCILLATING).advice[0] == "lower --lr (e.g. by 3-10x) or add --warmup-epochs 1"


SGD = {"class": "SGD", "param_groups": [{"lr": 0.001, "momentum": 0.0, "weight_decay": 0.0}]}
SGD_MOMENTUM = {"class": "SGD", "param_groups": [{"lr": 0.01, "momentum": 0.9}]}
ADAM = {"class": "Adam", "param_groups": [{"lr": 0.001, "betas": [0.9, 0.999]}]}
CASES = [GOOD, UNDER, OVER_GAP, OVER_RISING, OSCILLATING, DIVERGED, STILL_FALLING]


def test_momentum_is_advised_only_to_sgd_without_it():
    assert diagnose(UNDER, SGD).advice[0] == (
        "train longer (--epochs) or with a larger lr (--lr) or --momentum 0.9"
    )
    for optimizer in (ADAM, SGD_MOMENTUM, None):  # None: unknown (no run.json)
        assert diagnose(UNDER, optimizer).advice[0] == (
            "train longer (--epochs) or with a larger lr (--lr)"
        )
        for case in CASES:
            assert not [line for line in diagnose(case, optimizer).advice if "momentum" in line]


def test_in_a_notebook_the_advice_names_the_settings_cells_names():
    assert diagnose(UNDER, SGD, names="notebook").advice == [
        "train longer (epochs=) or with a larger lr (lr=) or momentum=0.9",
        "a larger model or higher resolution; less regularisation (weight_decay=, dropout=, "
        "mixup=)",
    ]
    assert diagnose(OVER_GAP, ADAM, names="notebook").advice == [
        'regularise: weight_decay=5e-4, dropout=0.2, augment="randaugment", '
        "label_smoothing=0.1, mixup=0.2",
        "stop earlier: patience=2 keeps the best epoch's weights",
        "more training data: a smaller val_fraction=",  # the notebook has no train_limit
    ]
    assert diagnose(OSCILLATING, names="notebook").advice[0] == (
        "lower lr= (e.g. by 3-10x) or add warmup_epochs=1"
    )
    assert diagnose(OVER_GAP).advice == [
        "regularise: --weight-decay 5e-4, --dropout 0.2, --augment randaugment, "
        "--label-smoothing 0.1, --mixup 0.2",
        "stop earlier: --patience 2 keeps the best epoch's weights",
        "more training data: a smaller --val-fraction or no --train-limit",
    ]
    for case in CASES:  # no flag in a notebook's advice, no notebook name in the CLI's
        assert not [line for line in diagnose(case, names="notebook").advice if "--" in line]
        assert not [line for line in diagnose(case).advice if "=" in line]


def test_the_command_reads_a_run_folder(tmp_path):
    write_metrics_csv(tmp_path / "metrics.csv", OVER_GAP)
    result = subprocess.run(
        [sys.executable, "-m", "baseline.diagnose", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines()[:4] == [
        "After 4 epoch(s): overfitting.",
        "  - the validation error (26.0%) is 25.0 points above the training error (1.0%)",
        "Learning rate: looks fine.",
        "Next:",
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "baseline.diagnose", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr == (
        f"Error: {tmp_path / 'x'}: no such file. Pass a run folder written by python -m "
        "baseline.train (it holds metrics.csv).\n"
    )


def test_fit_is_judged_on_training_images_without_augmentation():
    # On augmented crops the run looks under-fitted (train acc 55%); on the same kind of
    # images as validation, it has learnt the training set (train_eval_acc 90%).
    history = [
        {"train_loss": 1.6, "train_acc": 0.40, "val_loss": 0.9, "val_acc": 0.70,
         "train_eval_acc": 0.75},
        {"train_loss": 1.3, "train_acc": 0.55, "val_loss": 0.8, "val_acc": 0.84,
         "train_eval_acc": 0.90},
    ]  # fmt: skip
    result = diagnose(history)
    assert result.verdict == "good fit"
    assert result.reasons == [
        "training error 10.0% and validation error 16.0% are both low and 6.0 points apart"
    ]
    older = [{k: v for k, v in row.items() if k != "train_eval_acc"} for row in history]
    assert diagnose(older).verdict == "underfitting"  # older runs: train_acc as before


def test_the_command_reads_the_optimizer_a_run_built(tmp_path):
    write_metrics_csv(tmp_path / "metrics.csv", UNDER)
    assert read_optimizer(tmp_path) is None  # the run has not finished: no run.json yet

    def advice() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "baseline.diagnose", str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        return done.stdout.split("Next:\n")[1].splitlines()

    (tmp_path / "run.json").write_text(json.dumps({"built": {"optimizer": SGD}}))
    assert advice()[0] == "  - train longer (--epochs) or with a larger lr (--lr) or --momentum 0.9"
    (tmp_path / "run.json").write_text(json.dumps({"built": {"optimizer": ADAM}}))
    assert read_optimizer(tmp_path / "metrics.csv") == ADAM
    assert advice()[0] == "  - train longer (--epochs) or with a larger lr (--lr)"
