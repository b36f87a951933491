"""Files a training run writes: metrics.csv, curves, confusion matrix, submission, run.json."""

from __future__ import annotations

import csv
import io
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from baseline.errors import TrainingError
from grader.bundle.answers import AnswerKey
from grader.bundle.files import Bundle, resolve_public_dir
from grader.bundle.submission import SubmissionChecker
from grader.core.fileio import file_digest, write_text_atomically

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


def plot_learning_curves(path: Path, history: list[dict[str, float]]) -> None:
    """Loss and accuracy per epoch, train vs validation: the lecture's main diagnostic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((loss_ax, "loss", "Loss"), (acc_ax, "acc", "Accuracy")):
        ax.plot(epochs, [row[f"train_{key}"] for row in history], "o-", label="train")
        ax.plot(epochs, [row[f"val_{key}"] for row in history], "s-", label="validation")
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_confusion(folder: Path, confusion: np.ndarray, classes: tuple[str, ...]) -> None:
    """The validation confusion matrix as CSV (rows true, columns predicted) and PNG."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *classes])
    writer.writerows([name, *map(int, row)] for name, row in zip(classes, confusion, strict=True))
    write_text(folder / "confusion_matrix.csv", buffer.getvalue())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
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
    fig.savefig(folder / "confusion_matrix.png", dpi=120)
    plt.close(fig)


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


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide a run's numbers."""
    import accelerate
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "accelerate": accelerate.__version__,
        "numpy": np.__version__,
        "cuda": torch.version.cuda or "none",
        "cudnn": str(torch.backends.cudnn.version()) if torch.cuda.is_available() else "none",
    }


def git_commit() -> str | None:
    """The kit's git commit (with '+dirty' when it has local changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def kit_record() -> dict[str, str]:
    """Which kit ran: its version and sha256 (the notebooks' check, baseline.notebook), so a
    TA can tell from a notebook's output what trained it (grader.provenance)."""
    from baseline.kit import loaded_kit
    from grader import __version__

    digest, where = loaded_kit()
    return {"version": __version__, "sha256": digest, "from": where}


def input_digests(data: Path) -> dict[str, str]:
    """sha256 of the public test files the run predicted: a TA compares them with the
    bundle's manifest to tell whether the run read this competition's test images."""
    public = resolve_public_dir(data)
    return {name: file_digest(public / name) for name in ("test_images.npy", "test.csv")}


def write_run_json(path: Path, record: dict[str, Any]) -> None:
    write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
