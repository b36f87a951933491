"""The pictures and tables a notebook shows: sample images, what train_transform makes of
them, per-class accuracy; drawn without touching the kernel's matplotlib backend."""

from __future__ import annotations

import struct

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from baseline.outputs import (
    per_class_accuracy,
    plot_learning_curves,
    sample_grid,
    transformed_grid,
    write_confusion,
)

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == PNG
    return struct.unpack(">II", data[16:24])


def test_per_class_accuracy_reads_the_confusion_matrix(tmp_path):
    # rows true, columns predicted: cat 3 of 4 right (1 taken for dog), dog 1 of 3 (2 for
    # cat), frog 2 of 2 (never mistaken).
    confusion = np.array([[3, 1, 0], [2, 1, 0], [0, 0, 2]])
    write_confusion(tmp_path, confusion, ("cat", "dog", "frog"))
    table = per_class_accuracy(tmp_path)
    expected = pd.DataFrame(
        {
            "images": [4, 3, 2],
            "correct": [3, 1, 2],
            "accuracy": [0.75, 1 / 3, 1.0],
            "most often mistaken for": ["dog (1)", "cat (2)", ""],
        },
        index=pd.Index(["cat", "dog", "frog"], name="class"),
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


@pytest.mark.slow
def test_pictures_are_pngs_and_leave_the_backend_alone(tmp_path):
    before = matplotlib.get_backend()
    matplotlib.use("pdf")  # any backend a kernel may have: the kit's pictures keep it
    try:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
        labels = np.repeat(np.arange(10), 3)
        classes = tuple(f"class{i}" for i in range(10))
        grid = sample_grid(images, labels, classes, per_class=3)  # 10 columns x 3 rows
        assert png_size(grid) == (1100, 370)  # (10 x 1.1 in, 3 x 1.1 + 0.4 in) at 100 dpi
        shown = transformed_grid(images[:4], torch.randn(4, 3, 64, 64), ["a", "b", "c", "d"])
        assert png_size(shown) == (560, 300)
        history = [{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "train_acc": 0.2,
                    "val_acc": 0.1}]  # fmt: skip
        plot_learning_curves(tmp_path / "curves.png", history)
        assert png_size((tmp_path / "curves.png").read_bytes()) == (1200, 480)
        assert matplotlib.get_backend() == "pdf"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # no temporary
    finally:
        matplotlib.use(before)
