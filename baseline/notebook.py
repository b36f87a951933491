"""Helpers for the Kaggle notebooks: where the data is, where outputs go, smoke mode.

The same notebook runs on Kaggle and locally:

* data: `$CIFAR10_KIT_DATA`, else the competition's files under /kaggle/input
  (the folder holding classes.txt), else ./competition/public;
* outputs: `$CIFAR10_KIT_OUT`, else /kaggle/working/run on Kaggle, else
  ./runs/notebook;
* `$CIFAR10_KIT_SMOKE=1` shrinks the run to a CPU-sized smoke test (resnet18,
  random init, 32 px, 500 images, 1 epoch), which is how the tests execute it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from baseline.config import TrainConfig
from baseline.errors import TrainingError

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
SMOKE = {
    "model": "resnet18",
    "weights": "none",
    "image_size": 32,
    "train_limit": 500,
    "epochs": 1,
    "batch_size": 64,
}


def find_data(kaggle_input: Path = KAGGLE_INPUT) -> Path:
    """The competition's public folder (the one holding classes.txt)."""
    if os.environ.get("CIFAR10_KIT_DATA"):
        return Path(os.environ["CIFAR10_KIT_DATA"])
    found = sorted(kaggle_input.glob("*/classes.txt")) + sorted(
        kaggle_input.glob("*/*/classes.txt")
    )
    if found:
        return found[0].parent
    local = Path("competition/public")
    if (local / "classes.txt").is_file():
        return local
    raise TrainingError(
        f"no competition data found: looked in $CIFAR10_KIT_DATA, {kaggle_input}/*/ and "
        f"{local}/. On Kaggle, add the competition's data to the notebook (Add Input); "
        "locally, run `grader prepare` or set CIFAR10_KIT_DATA."
    )


def output_dir(kaggle_working: Path = KAGGLE_WORKING) -> Path:
    """Where the run writes (the submission is also copied next to it on Kaggle)."""
    if os.environ.get("CIFAR10_KIT_OUT"):
        return Path(os.environ["CIFAR10_KIT_OUT"])
    return kaggle_working / "run" if kaggle_working.is_dir() else Path("runs/notebook")


def notebook_config(**overrides) -> TrainConfig:
    """The baseline config with the notebook's paths, in smoke mode when asked."""
    cfg = replace(TrainConfig(), data=str(find_data()), out=str(output_dir()), **overrides)
    if os.environ.get("CIFAR10_KIT_SMOKE") == "1":
        cfg = replace(cfg, **SMOKE)
    return cfg
