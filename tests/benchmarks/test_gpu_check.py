"""benchmarks/gpu_check.py stays runnable: its --dry-run (tiny model, CPU) in CI."""

from __future__ import annotations

import json

import pytest

from benchmarks.gpu_check import main

pytestmark = pytest.mark.slow  # both train a tiny model on the CPU: 40-50 s each


def test_the_gpu_check_dry_run_prints_every_field(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main(["--dry-run", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert (printed["mode"], printed["device"], printed["precision"]) == ("dry-run", "cpu", "no")
    assert printed["precision_why"] == "fp32 on the CPU"
    assert set(printed["images_per_s"]) == {
        "kit",
        "ceiling",
        "naive_same_precision",
        "naive_fp32",
    }
    assert all(v > 0 for v in printed["images_per_s"].values())
    ratio = printed["images_per_s"]["kit"] / printed["images_per_s"]["ceiling"]
    assert abs(printed["kit_over_ceiling"] - ratio) < 0.01
    assert printed["baseline_epoch_s_estimated"] > 0
    # The two-process path runs too: two CPU processes over gloo in the dry run.
    pair = printed["two_processes"]
    assert pair["on"] == "2 CPU processes (gloo)" and pair["images_per_s"] > 0
    assert (
        abs(pair["over_one_process"] - pair["images_per_s"] / printed["images_per_s"]["kit"]) < 0.01
    )
    estimated = printed["baseline_epoch_s_estimated"]
    assert estimated == pytest.approx(45_000 / pair["images_per_s"], rel=0.01)


def test_the_published_gpu_check_runs_from_the_kit_dataset_alone(tmp_path):
    """As the Kaggle script kernel runs: the script away from the checkout, the kit imported
    from the dataset's cifar10_kit.zip."""
    import os
    import subprocess
    import sys

    from kernels.publish import main as publish

    assert publish(["--owner", "ta", "--competition", "cifar", "--out", str(tmp_path / "k")]) == 0
    dataset = tmp_path / "input" / "cifar10-kit"
    dataset.mkdir(parents=True)
    (tmp_path / "k" / "kit" / "cifar10_kit.zip").rename(dataset / "cifar10_kit.zip")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(CIFAR10_KIT_KAGGLE_INPUT=str(tmp_path / "input"), OMP_NUM_THREADS="1")
    script = tmp_path / "k" / "gpu-check" / "gpu_check.py"
    out = tmp_path / "gpu_check.json"
    done = subprocess.run(
        [sys.executable, str(script), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["kit"]["from"] == str(dataset / "cifar10_kit.zip")
    assert result["two_processes"]["images_per_s"] > 0  # the workers found the kit too
