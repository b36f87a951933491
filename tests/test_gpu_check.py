"""benchmarks/gpu_check.py stays runnable: its --dry-run (tiny model, CPU) in CI."""

from __future__ import annotations

import json

import pytest

from benchmarks.gpu_check import main


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
