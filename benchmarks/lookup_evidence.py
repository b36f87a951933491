"""The lookup detector's evidence: honest files and lookups, built from the fixture.

`benchmarks/data/honest_predictions.npz` (made by make_lookup_evidence.py) holds
the test predictions of real models trained at CPU scale (about 25% to 70%
accuracy). From it:

* **strong honest files** (80% to 98%), from an error model calibrated on the
  real files: each test image gets a hardness, the share of real files wrong
  on it plus Gaussian noise of spread `sigma`; a file of accuracy A is wrong
  on the (1 - A) x 10,000 hardest images, with the class real files most
  often give there. `sigma` is chosen so that the simulated files share as
  many errors with the consensus-hardest images as the real files do. Models
  pretrained on ImageNet may err differently from this; the evidence says
  nothing about them beyond it.
* **lookups**: the true labels with 1-10% of the rows changed at random; an
  honest file with part of its errors replaced by the true labels; the true
  labels with errors on a random part of another student's wrong images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parent / "data" / "honest_predictions.npz"
STRONG = (0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98)
SIGMAS = np.linspace(0.0, 0.5, 26)


@dataclass
class Evidence:
    labels: np.ndarray
    honest: dict[str, np.ndarray]  # name -> predicted classes
    lookups: dict[str, np.ndarray]
    sigma: float


def load(path: Path = FIXTURE) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with np.load(path) as data:
        return (
            data["labels"].astype(np.int64),
            data["predictions"].astype(np.int64),
            list(data["names"]),
        )


def _wrong_class(labels: np.ndarray, predictions: np.ndarray, rng) -> np.ndarray:
    """Per image, the wrong class real files give most often (a random one if none)."""
    counts = np.zeros((len(labels), 10), np.int64)
    for p in predictions:
        np.add.at(counts, (np.arange(len(labels)), p), 1)
    counts[np.arange(len(labels)), labels] = -1
    random = (labels + rng.integers(1, 10, len(labels))) % 10
    return np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), random)


def _consensus_overlap(errors: np.ndarray, hardness: np.ndarray) -> float:
    """Share of a file's errors that lie among the len(errors) hardest images."""
    k = int(errors.sum())
    top = np.argsort(-hardness, kind="stable")[:k]
    return float(errors[top].sum() / max(k, 1))


def strong_file(labels, hardness, wrong_class, accuracy, sigma, rng) -> np.ndarray:
    noisy = hardness + sigma * rng.standard_normal(len(labels))
    errors = np.argsort(-noisy, kind="stable")[: round((1 - accuracy) * len(labels))]
    predicted = labels.copy()
    predicted[errors] = wrong_class[errors]
    return predicted


def calibrate(labels: np.ndarray, predictions: np.ndarray, seed: int = 0) -> float:
    """The sigma whose simulated files match the real files' overlap with the consensus-
    hardest images (each real file against the hardness of the others)."""
    rng = np.random.default_rng(seed)
    wrong = predictions != labels
    real, simulated = [], {s: [] for s in SIGMAS}
    for i in range(len(predictions)):
        others = np.delete(wrong, i, axis=0).mean(axis=0)
        real.append(_consensus_overlap(wrong[i], others))
        for s in SIGMAS:
            noisy = others + s * rng.standard_normal(len(labels))
            k = int(wrong[i].sum())
            fake = np.zeros(len(labels), bool)
            fake[np.argsort(-noisy, kind="stable")[:k]] = True
            simulated[s].append(_consensus_overlap(fake, others))
    target = float(np.median(real))
    return float(min(SIGMAS, key=lambda s: abs(np.median(simulated[s]) - target)))


def build(path: Path = FIXTURE, seed: int = 0) -> Evidence:
    """Every honest file and every lookup of the evidence set."""
    labels, predictions, names = load(path)
    rng = np.random.default_rng(seed)
    sigma = calibrate(labels, predictions, seed)
    hardness = (predictions != labels).mean(axis=0)
    wrong_class = _wrong_class(labels, predictions, rng)
    honest = {f"real {name}": p for name, p in zip(names, predictions, strict=True)}
    for accuracy in STRONG:
        for copy in range(2):
            honest[f"error model {accuracy:.0%} #{copy}"] = strong_file(
                labels, hardness, wrong_class, accuracy, sigma, rng
            )
    lookups = {}
    for rate in (0.01, 0.02, 0.03, 0.05, 0.07, 0.10):
        for copy in range(3):
            predicted = labels.copy()
            rows = rng.choice(len(labels), round(rate * len(labels)), replace=False)
            predicted[rows] = (labels[rows] + rng.integers(1, 10, len(rows))) % 10
            lookups[f"true labels, {rate:.0%} random errors #{copy}"] = predicted
    strong = [name for name in honest if name.startswith("error model")]
    bases = [names[0], names[len(names) // 2], names[-1]]
    for base in [f"real {b}" for b in bases] + strong[::4]:
        for fixed in (0.5, 0.75, 0.9):
            predicted = honest[base].copy()
            wrong = np.flatnonzero(predicted != labels)
            rows = rng.choice(wrong, round(fixed * len(wrong)), replace=False)
            predicted[rows] = labels[rows]
            lookups[f"{base}, {fixed:.0%} of its errors replaced by true labels"] = predicted
    for base in [f"real {b}" for b in bases]:
        for rate in (0.03, 0.05):
            wrong = np.flatnonzero(honest[base] != labels)
            rows = rng.choice(wrong, min(len(wrong), round(rate * len(labels))), replace=False)
            predicted = labels.copy()
            predicted[rows] = honest[base][rows]
            lookups[f"true labels, {rate:.0%} errors where {base} errs"] = predicted
    return Evidence(labels, honest, lookups, sigma)
