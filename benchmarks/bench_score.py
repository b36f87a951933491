"""Benchmark `grader score` against the loop a competent TA would write.

Run:
    python benchmarks/bench_score.py [--participants 200] [--repeat 3] [--final]
    python benchmarks/bench_score.py --participants 5000 --final --repeat 1

Writes a synthetic competition (10,000 test ids, 30% Public, stratified) and
one submission per participant (accuracies spread over 10-95%, a few files
with class indices, CRLF and shuffled rows), then times, in one run on the
same files:

* the user's command: `grader score SUBMISSIONS --baseline student000` in a
  subprocess with every default (validation, scores, intervals for every
  file, tests, tied groups, flags, the board, the review folder, the
  history; `--final` adds the shake-up), plus `--timings`, which only prints
  the seconds of each stage; its peak memory (maximum resident set size);
* the fair loop: per file `pandas.read_csv`, labels mapped to integers, one
  `np.bincount` confusion matrix per split, accuracy and macro-F1 from it
  (no validation, no outputs).

Checks that both agree on every Public and Private score, and prints the
medians, the ratio (kit time / fair-loop time: below 1 is faster), the
command's time per stage (from its last run; "start-up" is the rest: the
interpreter and imports), and the ratio of its core (read and validate,
score, rank, write board) to the fair loop.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grader.bundle.files import CIFAR10_CLASSES
from grader.core.constants import METRICS

ROOT = Path(__file__).resolve().parents[1]
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


CORE = ("read and validate", "score", "rank", "write board")


def run_command(
    folder: Path, solution: Path, out: Path, final: bool
) -> tuple[dict[str, tuple], dict[str, float], int]:
    """`grader score` as the user types it. Returns participant -> (public, private)
    accuracy and macro-F1 as written to scores.csv (--final) or only the public ones; the
    seconds per stage it printed; its peak resident memory in bytes."""
    command = [sys.executable, "-m", "grader", "score", str(folder), "--solution", str(solution)]
    command += ["--out", str(out / "board"), "--review", str(out / "review")]
    command += ["--history", str(out / "history.sqlite"), "--baseline", "student000"]
    command += ["--timings"] + (["--final"] if final else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out.mkdir()
    with (out / "stdout").open("w") as stdout, (out / "stderr").open("w") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    log = (out / "stderr").read_text()
    if child.returncode != 0:
        raise SystemExit(f"grader score failed ({child.returncode}): {log[-2000:]}")
    with (out / "board" / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    splits = ("public", "private") if final else ("public",)
    scores = {
        r["participant"]: tuple(float(r[f"{s}_{m}"]) for s in splits for m in METRICS) for r in rows
    }
    line = re.search(r"^Time per stage: (.*)$", log, re.MULTILINE)
    stages = {
        name: float(seconds)
        for name, seconds in (part.rsplit(" ", 2)[:2] for part in line.group(1).split(", "))
    }
    return scores, stages, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def run_fair(folder: Path, solution: Path, final: bool) -> dict[str, tuple]:
    """The loop a TA writes in twenty lines: pandas, integer labels, np.bincount."""
    import pandas as pd

    truth = pd.read_csv(solution)
    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    labels = truth["label"].map(index).to_numpy()
    public = (truth["Usage"] == "Public").to_numpy()
    row_of = np.empty(truth["id"].max() + 1, dtype=np.int64)
    row_of[truth["id"].to_numpy()] = np.arange(len(truth))
    masks = (public, ~public) if final else (public,)
    result = {}
    for path in sorted(folder.glob("*.csv")):
        submission = pd.read_csv(path)
        column = submission["label"]
        if not pd.api.types.is_integer_dtype(column):
            column = column.str.strip().str.lower().map(index)
        predicted = np.empty(len(truth), dtype=np.int64)
        predicted[row_of[submission["id"].to_numpy()]] = column.to_numpy()
        scores = []
        for mask in masks:
            confusion = np.bincount(labels[mask] * 10 + predicted[mask], minlength=100).reshape(
                10, 10
            )
            tp = np.diag(confusion)
            denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
            f1 = np.divide(2 * tp, denominator, out=np.zeros(10), where=denominator > 0)
            scores += [tp.sum() / mask.sum(), f1.mean()]
        result[path.stem] = tuple(scores)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--participants", type=int, default=200, help="number of submission files (default: 200)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs to take the median of (default: 3)"
    )
    parser.add_argument(
        "--final", action="store_true", help="score the final board (default: public board)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        folder = make_folder(root, args.participants)
        solution = root / "competition" / "private" / "solution.csv"
        import pandas  # noqa: F401  (the fair loop's import is not timed; the command's is)

        kit_times, fair_times, peaks = [], [], []
        for i in range(args.repeat):
            start = time.perf_counter()
            kit, stages, peak = run_command(folder, solution, root / f"out{i}", args.final)
            kit_times.append(time.perf_counter() - start)
            peaks.append(peak)
            start = time.perf_counter()
            fair = run_fair(folder, solution, args.final)
            fair_times.append(time.perf_counter() - start)
    worst = max(abs(a - b) for name in fair for a, b in zip(kit[name], fair[name], strict=True))
    if worst > 1e-12:
        print(f"Error: the two loops disagree by {worst}", file=sys.stderr)
        return 1
    kit_s, fair_s = statistics.median(kit_times), statistics.median(fair_times)
    board = "--final" if args.final else "public board"
    print(
        f"grader score, {args.participants} files x {N_TEST:,} rows, {board}, median of "
        f"{args.repeat}:"
    )
    print(f"  grader score --baseline student000 (subprocess)  {kit_s:6.2f} s")
    print(f"  fair loop (pandas, integer labels, np.bincount)   {fair_s:6.2f} s")
    print(f"  ratio kit / fair loop                             {kit_s / fair_s:6.2f}")
    print(f"  scores agree to within                            {worst:.0e}")
    print(f"  peak memory of grader score (largest of runs)     {max(peaks) / 2**30:6.2f} GiB")
    print("grader score's stages (its last run):")
    stages = {"start-up": kit_times[-1] - sum(stages.values()), **stages}
    for name, seconds in stages.items():
        print(f"  {name:<48}{seconds:6.2f} s")
    core = sum(stages[name] for name in CORE)
    print(f"  core ({', '.join(CORE)}) / fair loop: {core / fair_times[-1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
