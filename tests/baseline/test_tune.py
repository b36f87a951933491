"""The Optuna tuner: a real study in SQLite shared by two workers, pruning, the space file."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from baseline.errors import TrainingError
from baseline.tune import DEFAULT_SPACE, load_space, pruning_callback, suggest
from tests.baseline.test_baseline import TINY
from tests.cifar_fixtures import tiny_competition
from tests.helpers import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return tiny_competition(tmp_path_factory.mktemp("tune"), 20, data_seed=2, split_seed=3)


def tune(out: Path, data: Path, space: Path, trials: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "baseline.tune",
            "--data",
            str(data),
            "--out",
            str(out),
            "--space",
            str(space),
            "--trials",
            str(trials),
            "--startup-trials",
            "10",
            *TINY,
        ],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=600,
    )


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(bundle, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps(
            {
                "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
                "optimizer": {"type": "categorical", "choices": ["sgd", "adamw"]},
                "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            }
        )
    )
    out = tmp_path / "study"
    first = tune(out, bundle, space, 2)
    assert first.returncode == 0, first.stderr[-3000:]
    second = tune(out, bundle, space, 1)  # a second worker joins the same study
    assert second.returncode == 0, second.stderr[-3000:]
    study = optuna.load_study(study_name="cifar10", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert sorted(p.name for p in (out / "cifar10").glob("trial_*")) == [
        "trial_000",
        "trial_001",
        "trial_002",
    ]
    with (out / "cifar10" / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["number"] for row in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"number", "state", "val_acc", "dropout", "lr", "optimizer", "seconds"}
    for t, row in zip(study.trials, rows, strict=True):
        # The objective is the trial's own last validation accuracy.
        with (out / "cifar10" / f"trial_{t.number:03d}" / "metrics.csv").open() as f:
            assert float(list(csv.DictReader(f))[-1]["val_acc"]) == t.value == float(row["val_acc"])
        assert 0.001 <= t.params["lr"] <= 0.1
    for name in ("optimization_history.png", "param_importances.png"):
        assert (out / "cifar10" / name).read_bytes()[:4] == b"\x89PNG"
    assert "trial 2: complete, validation accuracy " in second.stdout


def test_a_weak_trial_is_pruned_after_the_epoch_that_shows_it():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5)
    )
    trial = study.ask()
    report = pruning_callback(trial)
    report({"epoch": 1, "val_acc": 0.6})  # good enough: goes on
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2"):
        report({"epoch": 2, "val_acc": 0.3})
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.6, 2: 0.3}


def test_the_default_space_covers_the_lecture():
    space = load_space(DEFAULT_SPACE)
    assert set(space) == {
        "lr",
        "weight_decay",
        "batch_size",
        "optimizer",
        "momentum",
        "sched",
        "dropout",
        "augment",
    }
    assert space["lr"]["log"] is True
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = suggest(study.ask(), space)
    assert 1e-4 <= params["lr"] <= 0.1 and params["batch_size"] in (64, 128, 256)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"learning_rate": {"type": "float", "low": 0.1, "high": 1}}',
            "'learning_rate' is not a setting of baseline.train (settings: ",
        ),
        (
            '{"lr": {"type": "float", "low": 0.1}}',
            '\'lr\' needs {"type": "float"|"int", "low", "high"[, "log"]} or {"type": '
            '"categorical", "choices": [...]}.',
        ),
        ("{lr: 1}", "not JSON ("),
    ],
)
def test_a_bad_space_file_names_the_file_and_key(content, message, tmp_path):
    path = tmp_path / "space.json"
    path.write_text(content)
    with pytest.raises(TrainingError) as info:
        load_space(path)
    assert str(info.value).startswith(f"--space {path}: {message}")
