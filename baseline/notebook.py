"""The notebooks' plumbing: packages, the kit on Kaggle, where data and outputs are, launch.

The same notebook runs on Kaggle and locally:

* packages: `check_packages` prints the versions the kernel runs on and compares
  them with the kit's minimums (pyproject.toml, written into the notebook by
  kernels/build.py); a package below its minimum is upgraded with pip when the
  kernel has internet, and otherwise the notebook stops with one line;
* the kit (this package and `grader`): on Kaggle, the dataset the TA publishes
  with `python -m kernels.publish` (cifar10_kit.zip, imported straight from the
  zip or from the folder Kaggle unpacks it into); locally, the checked-out or
  installed package. `check_kit` refuses a kit other than the one the notebook
  was built with (its sha256);
* data: `$CIFAR10_KIT_DATA`, else the competition's files under /kaggle/input
  (the folder holding classes.txt), else ./competition/public;
* outputs: `$CIFAR10_KIT_OUT`, else /kaggle/working/run on Kaggle, else
  ./runs/notebook;
* `$CIFAR10_KIT_SMOKE=1` shrinks the run to a CPU-sized smoke test (resnet18,
  random init, 32 px, 500 images, 1 epoch, batch 64), which is how the tests
  execute the notebooks;
* hardware: `preflight` (baseline/preflight.py) says how Run will train on this
  machine, and stops on a GPU the installed torch cannot use;
* `launch` (baseline/launch.py) trains in fresh processes, one per GPU, with the
  notebook's functions.

Nothing here imports torch at import time: the first cell must be able to
upgrade it before it is loaded.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Container, Mapping
from dataclasses import replace
from pathlib import Path

from baseline.config import TrainConfig
from baseline.errors import NotebookStop
from baseline.kit import loaded_kit
from baseline.launch import launch
from baseline.preflight import preflight, version_tuple

# What the notebook's cells import from here (the set-up cell, the plumbing cell).
__all__ = [
    "NotebookStop",
    "check_kit",
    "check_packages",
    "find_data",
    "launch",
    "output_dir",
    "preflight",
    "smoke_if_asked",
    "version_tuple",
]

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


# ----------------------------------------------------------------------------
# Packages
# ----------------------------------------------------------------------------


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def has_internet(host: str = "pypi.org", timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def pip_install(requirement: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)


def check_packages(
    minimum: Mapping[str, str],
    version_of: Callable[[str], str | None] = installed_version,
    online: Callable[[], bool] = has_internet,
    install: Callable[[str], None] = pip_install,
    loaded: Container[str] = sys.modules,
) -> None:
    """Print the versions this kernel runs on; upgrade a package below `minimum` with pip
    when the kernel has internet (saying so), else stop with one line saying what to do."""
    found = {name: version_of(name) for name in minimum}
    print("Packages: " + ", ".join(f"{name} {found[name] or 'missing'}" for name in minimum))
    old = [
        name
        for name, least in minimum.items()
        if found[name] is None or version_tuple(found[name]) < version_tuple(least)
    ]
    if not old:
        return
    shown = ", ".join(
        f"{name} {found[name] or '(missing)'} (needs >= {minimum[name]})" for name in old
    )
    if not online():
        raise NotebookStop(
            f"{shown}: too old for this notebook, and the kernel has no internet to upgrade. "
            "Turn it on (Settings > Internet on) and run the notebook again."
        )
    for name in old:
        print(f"Upgrading {name} to >= {minimum[name]} with pip (the kernel has internet)...")
        install(f"{name}>={minimum[name]}")
    if any(name in loaded for name in old):
        raise NotebookStop(
            "upgraded " + ", ".join(old) + ", which this kernel had already loaded: restart "
            "it (Run > Restart & clear cell outputs) and run the notebook again."
        )


# ----------------------------------------------------------------------------
# The kit
# ----------------------------------------------------------------------------


def check_kit(expected: str) -> None:
    """Refuse to run with a kit other than the one this notebook was built with."""
    digest, where = loaded_kit()
    if digest != expected:
        raise NotebookStop(
            f"the kit in {where} (sha256 {digest[:12]}) is not the one this notebook was built "
            f"with ({expected[:12]}). On Kaggle, attach the kit dataset the TA published with "
            "this notebook; locally, rebuild the notebooks with `python -m kernels.build`."
        )
    from grader import __version__

    print(f"Kit: cifar10-kit {__version__} (sha256 {digest[:12]}) from {where}")


# ----------------------------------------------------------------------------
# Data, outputs, smoke mode
# ----------------------------------------------------------------------------


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
    raise NotebookStop(
        f"no competition data found: looked in $CIFAR10_KIT_DATA, {kaggle_input}/*/ and "
        f"{local}/. On Kaggle, add the competition's data to the notebook (Add Input); "
        "locally, run `grader prepare` or set CIFAR10_KIT_DATA."
    )


def output_dir(kaggle_working: Path = KAGGLE_WORKING) -> Path:
    """Where the run writes (the submission is also copied to /kaggle/working on Kaggle)."""
    if os.environ.get("CIFAR10_KIT_OUT"):
        return Path(os.environ["CIFAR10_KIT_OUT"])
    return kaggle_working / "run" if kaggle_working.is_dir() else Path("runs/notebook")


def smoke_if_asked(cfg: TrainConfig) -> TrainConfig:
    """With CIFAR10_KIT_SMOKE=1, the tests' CPU smoke settings (SMOKE) replace the run's."""
    if os.environ.get("CIFAR10_KIT_SMOKE") == "1":
        print(
            "CIFAR10_KIT_SMOKE=1: a CPU smoke run: "
            + ", ".join(f"{k}={v}" for k, v in SMOKE.items())
        )
        return replace(cfg, **SMOKE)
    return cfg
