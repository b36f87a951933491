"""Shared fixtures: one tiny CIFAR-10 written in every source layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cifar_fixtures import (
    TinyCifar,
    make_tiny_cifar,
    tiny_competition,
    write_imagefolder,
    write_imagefolder_zip,
    write_official_archive,
    write_official_folder,
)
from tests.scoring_fixtures import competition  # noqa: F401 (a fixture)


@pytest.fixture(scope="session")
def tiny() -> TinyCifar:
    """60 train images (6 per class) and 50 test images (5 per class)."""
    return make_tiny_cifar()


@pytest.fixture(scope="session")
def sources(tiny: TinyCifar, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny data set as each kind of source `grader prepare` reads."""
    root = tmp_path_factory.mktemp("sources")
    return {
        "imagefolder-folder": write_imagefolder(tiny, root / "tree"),
        "imagefolder-zip": write_imagefolder_zip(tiny, root / "images.zip", prefix="cifar10/"),
        "cifar-python-folder": write_official_folder(tiny, root / "official"),
        "cifar-python-archive": write_official_archive(tiny, root / "cifar-10-python.tar.gz"),
    }


@pytest.fixture(scope="session")
def training_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle to train on: 300 training images (30 per class) and 50 test images."""
    return tiny_competition(tmp_path_factory.mktemp("training"), 30, data_seed=4, split_seed=9)
