"""Train real honest models at CPU scale and keep their test predictions as a fixture.

Run (about 40 minutes on the 2-core course machine):
    python benchmarks/make_lookup_evidence.py --source PATH/cifar10-images.zip

Builds a competition from the real CIFAR-10 images (`grader prepare`, fixed
seed), trains each configuration of `CONFIGS` with `python -m baseline.train
--cpu` (several architectures, training-set sizes, epochs, seeds and recipes,
from scratch: no weights can be downloaded here), and writes
`benchmarks/data/honest_predictions.npz`:

* `labels` (10,000,): the true class of each test id, in id order;
* `predictions` (files, 10,000): each run's predicted class per test id;
* `names` (files,): the configuration of each run, as its command-line flags.

The lookup detector's evidence (`bench_lookup.py`) and tests read this file;
nothing in CI trains.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "benchmarks" / "data" / "honest_predictions.npz"

# (model, training images, epochs, extra flags): accuracies from about 25% to 70%.
CONFIGS = [
    ("resnet18", 3000, 2, "--lr 0.05 --momentum 0.9 --seed 1"),
    ("resnet18", 5000, 3, "--lr 0.05 --momentum 0.9 --seed 2"),
    ("resnet18", 10000, 3, "--lr 0.05 --momentum 0.9 --seed 3"),
    ("resnet18", 20000, 3, "--lr 0.05 --momentum 0.9 --seed 4 --sched cosine"),
    ("resnet18", 30000, 2, "--lr 0.05 --momentum 0.9 --seed 5 --sched cosine"),
    ("resnet18", 45000, 3, "--lr 0.05 --momentum 0.9 --seed 6 --sched cosine"),
    ("resnet18", 10000, 3, "--optimizer adam --lr 0.001 --seed 7"),
    ("resnet18", 20000, 2, "--optimizer adamw --lr 0.002 --weight-decay 0.05 --seed 8"),
    ("resnet18", 10000, 3, "--lr 0.05 --momentum 0.9 --augment none --seed 9"),
    ("resnet34", 8000, 2, "--lr 0.05 --momentum 0.9 --seed 10"),
    ("vgg11_bn", 10000, 2, "--lr 0.02 --momentum 0.9 --seed 12"),
    ("vgg11_bn", 20000, 3, "--lr 0.02 --momentum 0.9 --seed 13 --sched cosine"),
    ("mobilenet_v2", 10000, 3, "--lr 0.05 --momentum 0.9 --seed 14"),
    ("mobilenet_v2", 20000, 3, "--lr 0.05 --momentum 0.9 --seed 15 --sched cosine"),
    ("shufflenet_v2_x1_0", 15000, 3, "--lr 0.1 --momentum 0.9 --seed 16"),
    ("timm/resnet10t", 10000, 3, "--lr 0.05 --momentum 0.9 --seed 17"),
    ("timm/resnet10t", 30000, 3, "--lr 0.05 --momentum 0.9 --seed 18 --sched cosine"),
    ("resnet18", 2000, 1, "--lr 0.01 --momentum 0.9 --seed 19"),
    ("resnet18", 5000, 2, "--optimizer adam --lr 0.003 --dropout 0.3 --seed 20"),
    ("resnet18", 20000, 2, "--lr 0.1 --momentum 0.9 --label-smoothing 0.1 --seed 21"),
    ("vgg11_bn", 4000, 2, "--lr 0.02 --momentum 0.9 --seed 22"),
    ("timm/resnet10t", 20000, 2, "--lr 0.05 --momentum 0.9 --mixup 0.2 --seed 24"),
]


def run(command: list[str], log: Path) -> None:
    with log.open("w") as f:
        done = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}; see {log}")


def read_predictions(path: Path, index: dict[str, int], n: int) -> np.ndarray:
    predicted = np.full(n, -1, np.int8)
    with path.open() as f:
        for row in csv.DictReader(f):
            predicted[int(row["id"])] = index[row["label"]]
    return predicted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="CIFAR-10 archive, folder or zip")
    parser.add_argument("--work", default="evidence", help="scratch folder (default: evidence)")
    parser.add_argument("--out", default=str(FIXTURE), help=f"fixture (default: {FIXTURE})")
    args = parser.parse_args()
    work = Path(args.work)
    competition = work / "competition"
    python = [sys.executable, "-m"]
    if not competition.exists():
        work.mkdir(parents=True, exist_ok=True)
        prepare = ["grader", "prepare", "--source", args.source, "--out", str(competition)]
        run([*python, *prepare, "--seed", "1"], work / "prepare.log")
    classes = (competition / "public" / "classes.txt").read_text().split()
    index = {name: i for i, name in enumerate(classes)}
    with (competition / "private" / "solution.csv").open() as f:
        rows = list(csv.DictReader(f))
    labels = np.full(len(rows), -1, np.int8)
    for row in rows:
        labels[int(row["id"])] = index[row["label"]]
    predictions, names = [], []
    for k, (model, limit, epochs, extra) in enumerate(CONFIGS):
        flags = f"--model {model} --train-limit {limit} --epochs {epochs} {extra}"
        out = work / "runs" / f"{k:02d}"
        if not (out / "submission.csv").exists():
            start = time.perf_counter()
            command = [*python, "baseline.train", "--data", str(competition / "public")]
            command += ["--out", str(out), "--weights", "none", "--image-size", "32", "--cpu"]
            command += flags.split()
            out.mkdir(parents=True, exist_ok=True)
            run(command, out.parent / f"{k:02d}.log")
            print(f"{k:02d} {flags}: {time.perf_counter() - start:.0f} s", flush=True)
        predicted = read_predictions(out / "submission.csv", index, len(labels))
        print(f"{k:02d} accuracy {(predicted == labels).mean():.3f}  {flags}", flush=True)
        predictions.append(predicted)
        names.append(flags)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, labels=labels, predictions=np.stack(predictions), names=np.array(names)
    )
    print(f"Wrote {args.out}: {len(names)} honest files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
