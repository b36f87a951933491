"""Benchmark `grader score`: 200 participants x 10,000-row CSVs.

Run:
    python benchmarks/bench_score.py [--participants 200] [--repeat 3]

Writes a synthetic solution (10,000 ids, 30% Public, stratified) and one
submission per participant (accuracies spread over 10-95%, a few files with
class indices, CRLF and shuffled rows), then times, in this one process:

* the kit: `grader score --baseline student000` in-process through
  grader.pipeline.score_submissions, the function the command calls:
  discover + validate + score (public, private, all) + rank + bootstrap
  intervals (1,000 resamples) for every file + McNemar tests and tied groups
  + flags + the board, the review folder and the history;
* a plain loop as a TA would write it: per file, pandas.read_csv, a merge on
  id, then scikit-learn's accuracy_score and f1_score(average="macro") on the
  Public and Private rows (no validation, no outputs).

Prints the median wall time of each, the ratio, and checks that both agree on
every score.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grader.bundle import CIFAR10_CLASSES
from grader.pipeline import ScoreOptions, score_submissions

N_TEST = 10_000


def make_folder(root: Path, participants: int, seed: int = 0) -> Path:
    """Write competition/private/solution.csv and `participants` submissions under `root`."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), N_TEST // 10)[rng.permutation(N_TEST)]
    public = np.zeros(N_TEST, bool)
    for c in range(10):
        public[rng.choice(np.flatnonzero(labels == c), 300, replace=False)] = True
    names = np.asarray(CIFAR10_CLASSES)
    rows = [
        f"{i},{names[y]},{'Public' if p else 'Private'}"
        for i, (y, p) in enumerate(zip(labels, public, strict=True))
    ]
    private = root / "competition" / "private"
    private.mkdir(parents=True, mode=0o700)
    (private / "solution.csv").write_text("id,label,Usage\n" + "\n".join(rows) + "\n")
    folder = root / "submissions"
    folder.mkdir()
    for k in range(participants):
        accuracy = 0.1 + 0.85 * k / max(participants - 1, 1)
        guess = np.where(rng.random(N_TEST) < accuracy, labels, rng.integers(0, 10, N_TEST))
        order = rng.permutation(N_TEST)
        as_index, newline = k % 7 == 0, "\r\n" if k % 5 == 0 else "\n"
        text = newline.join([f"{i},{guess[i] if as_index else names[guess[i]]}" for i in order])
        (folder / f"student{k:03d}.csv").write_text(f"id,label{newline}{text}{newline}")
    return folder


def run_kit(folder: Path, solution: Path, out: Path) -> dict[str, float]:
    options = ScoreOptions(
        folder=folder,
        solution=solution,
        out=out / "board",
        review=out / "review",
        history=out / "history.sqlite",
        baseline="student000",
    )
    run = score_submissions(options)
    return {e.participant: e.metrics["public"].accuracy for e in run.entries}


def run_pandas(folder: Path, solution: Path) -> dict[str, float]:
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    truth = pd.read_csv(solution)
    result = {}
    for path in sorted(folder.glob("*.csv")):
        submission = pd.read_csv(path)
        merged = truth.merge(submission, on="id", suffixes=("_true", "_pred"))
        if pd.api.types.is_integer_dtype(merged["label_pred"]):
            merged["label_pred"] = np.asarray(CIFAR10_CLASSES)[merged["label_pred"]]
        scores = {}
        for usage in ("Public", "Private"):
            part = merged[merged["Usage"] == usage]
            scores[usage] = (
                accuracy_score(part["label_true"], part["label_pred"]),
                f1_score(part["label_true"], part["label_pred"], average="macro", zero_division=0),
            )
        result[path.stem] = scores["Public"][0]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--participants", type=int, default=200, help="number of submission files (default: 200)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs to take the median of (default: 3)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        folder = make_folder(root, args.participants)
        solution = root / "competition" / "private" / "solution.csv"
        import pandas  # noqa: F401  (import costs are not part of either loop)
        import sklearn.metrics  # noqa: F401

        kit_times, pandas_times = [], []
        for i in range(args.repeat):
            start = time.perf_counter()
            kit = run_kit(folder, solution, root / f"out{i}")
            kit_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            plain = run_pandas(folder, solution)
            pandas_times.append(time.perf_counter() - start)
    worst = max(abs(kit[name] - plain[name]) for name in plain)
    if worst > 1e-12:
        print(f"Error: the two loops disagree by {worst}", file=sys.stderr)
        return 1
    kit_s, pandas_s = statistics.median(kit_times), statistics.median(pandas_times)
    print(f"grader score, {args.participants} files x {N_TEST:,} rows, median of {args.repeat}:")
    print(
        f"  kit: grader score --baseline student000      {kit_s:6.2f} s  "
        f"({pandas_s / kit_s:.2f}x the plain loop's speed)"
    )
    print(f"  plain pandas + scikit-learn loop (scores)   {pandas_s:6.2f} s")
    print(f"  scores agree to within                      {worst:.0e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
