"""Files a training run writes (metrics.csv, curves, confusion matrix, submission, run.json;
what run.json holds is baseline.record's),
and the pictures a notebook shows: sample images with their labels, what train_transform
makes of them, per-class accuracy.

Figures are drawn with matplotlib's object API (matplotlib.figure.Figure), never pyplot:
that needs no backend switch, so a notebook kernel that calls these keeps its own, and
pictures are written atomically (the PNG's bytes, then a rename)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from baseline.errors import TrainingError
from grader.bundle.answers import AnswerKey
from grader.bundle.files import Bundle
from grader.bundle.submission import SubmissionChecker
from grader.core.fileio import write_bytes_atomically, write_text_atomically

EDITED_CODE = "edited_code.py"  # a notebook's edited lesson functions, as they ran
# The files a run writes in --out besides its checkpoints (baseline.checkpoint).
OUTPUT_FILES = (
    EDITED_CODE,
    "metrics.csv",
    "lr.csv",
    "learning_curves.png",
    "model_summary.txt",
    "submission.csv",
    ".submission.csv.tmp",
    "confusion_matrix.csv",
    "confusion_matrix.png",
    "run.json",
)
METRIC_COLUMNS = (
    "epoch",
    "train_loss",  # on the augmented batches, during the epoch
    "train_acc",
    "train_eval_loss",  # on a fixed training subset without augmentation, at the epoch's end
    "train_eval_acc",
    "val_loss",
    "val_acc",
    "val_macro_f1",
    "lr",
    "seconds",
    "images_per_s",
)


def write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a kill never leaves half a file."""
    write_text_atomically(path, text)


def write_metrics_csv(path: Path, history: list[dict[str, float]]) -> None:
    """One row per finished epoch, the columns of METRIC_COLUMNS."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: row.get(k, "") for k in METRIC_COLUMNS} for row in history)
    write_text(path, buffer.getvalue())


def png(fig: Any, dpi: int = 120) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def plot_learning_curves(path: Path, history: list[dict[str, float]]) -> None:
    """Loss and accuracy per epoch, train vs validation: the lecture's main diagnostic."""
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, key, title in ((loss_ax, "loss", "Loss"), (acc_ax, "acc", "Accuracy")):
        ax.plot(epochs, [row[f"train_{key}"] for row in history], "o-", label="train")
        ax.plot(epochs, [row[f"val_{key}"] for row in history], "s-", label="validation")
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    write_bytes_atomically(path, png(fig))


def write_confusion(folder: Path, confusion: np.ndarray, classes: tuple[str, ...]) -> None:
    """The validation confusion matrix as CSV (rows true, columns predicted) and PNG."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *classes])
    writer.writerows([name, *map(int, row)] for name, row in zip(classes, confusion, strict=True))
    write_text(folder / "confusion_matrix.csv", buffer.getvalue())

    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    image = ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title="Validation confusion matrix")
    threshold = confusion.max() / 2 if confusion.size else 0
    for (i, j), n in np.ndenumerate(confusion):
        ax.text(
            j,
            i,
            str(n),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if n > threshold else "black",
        )
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    write_bytes_atomically(folder / "confusion_matrix.png", png(fig))


def per_class_accuracy(folder: Path):
    """A table (pandas DataFrame) of the validation accuracy of each class, from the run's
    confusion_matrix.csv: images, correct, accuracy, and the class it is most often
    mistaken for (with how many times)."""
    import pandas as pd

    table = pd.read_csv(folder / "confusion_matrix.csv", index_col=0)
    counts = table.to_numpy()
    correct = np.diag(counts)
    wrong = counts - np.diag(correct)  # off-diagonal: mistakes only
    mistaken = [
        f"{table.columns[row.argmax()]} ({row.max()})" if row.max() > 0 else "" for row in wrong
    ]
    images = counts.sum(axis=1)
    return pd.DataFrame(
        {
            "images": images,
            "correct": correct,
            "accuracy": np.divide(correct, images, out=np.zeros(len(images)), where=images > 0),
            "most often mistaken for": mistaken,
        },
        index=pd.Index(table.index, name="class"),
    )


def sample_grid(
    images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], per_class: int = 4
) -> bytes:
    """PNG of the first `per_class` training images of each class (uint8 (N, 32, 32, 3)
    and their label numbers): one column per class, its name on top."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(len(classes) * 1.1, per_class * 1.1 + 0.4))
    axes = fig.subplots(per_class, len(classes), squeeze=False)
    for column, name in enumerate(classes):
        rows = np.flatnonzero(np.asarray(labels) == column)[:per_class]
        axes[0, column].set_title(name, fontsize=9)
        for row in range(per_class):
            ax = axes[row, column]
            ax.set_axis_off()
            if row < len(rows):
                ax.imshow(images[rows[row]], interpolation="nearest")
    fig.tight_layout(pad=0.3)
    return png(fig, dpi=100)


def transformed_grid(images: np.ndarray, transformed: Any, titles: list[str]) -> bytes:
    """PNG of images (uint8 (B, 32, 32, 3)) above what a transform made of them (a float
    tensor (B, 3, S, S), each image stretched to [0, 1] for display, since normalised
    values are not colours)."""
    from matplotlib.figure import Figure

    shown = transformed.detach().float().cpu()
    low = shown.amin(dim=(1, 2, 3), keepdim=True)
    high = shown.amax(dim=(1, 2, 3), keepdim=True)
    shown = ((shown - low) / (high - low).clamp_min(1e-12)).permute(0, 2, 3, 1).numpy()
    fig = Figure(figsize=(len(images) * 1.4, 3.0))
    axes = fig.subplots(2, len(images), squeeze=False)
    for i, title in enumerate(titles):
        axes[0, i].imshow(images[i], interpolation="nearest")
        axes[0, i].set_title(title, fontsize=9)
        axes[1, i].imshow(shown[i])
        for ax in axes[:, i]:
            ax.set_axis_off()
    fig.tight_layout(pad=0.3)
    return png(fig, dpi=100)


def check_submission(staged: Path, bundle: Bundle, final: Path) -> None:
    """Refuse the file that write_submission (code a student may change) wrote at `staged`
    for `final` when the grader would refuse it, in one line, removing it; the trained
    weights stay in the checkpoint, so a fixed write_submission needs no new training."""
    again = (
        "Fix write_submission, then run again with --resume (resume=True in a notebook): "
        "the checkpoint holds the trained weights, so only the prediction is redone."
    )
    if not staged.is_file():
        raise TrainingError(f"write_submission wrote no file for {final}. {again}")
    checker = SubmissionChecker(AnswerKey(bundle.test_ids, bundle.classes))
    checked = checker.check_file(staged, name=final.name)
    if not checked.valid:
        staged.unlink()
        raise TrainingError(
            f"write_submission wrote a file for {final} that the grader refuses: "
            f"{' '.join(checked.problems)} {again}"
        )


def write_run_json(path: Path, record: dict[str, Any]) -> None:
    write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
