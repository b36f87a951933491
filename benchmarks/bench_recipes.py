"""Baseline recipe vs improved recipe on real CIFAR-10, at equal budget, several seeds.

Run (about 10 minutes on 2 CPU cores):
    python benchmarks/bench_recipes.py [--source ../shared/data/cifar10-images.zip]
        [--seeds 0 1 2] [--epochs 4] [--train-limit 10000]

Both recipes train the same small model at CPU scale (torchvision resnet18
from random init, 32 px, the same images, epochs and batch size) with their
own optimisation settings: the course baseline's (plain SGD, lr 1e-3, no
schedule) and `baseline.config.RECIPES["improved"]` (Nesterov momentum, lr 0.01, warm-up
+ cosine, weight decay 5e-4, label smoothing 0.1, flip TTA). Accuracy is
measured on the full 10,000-image test set with the hidden labels. Prints
mean +- standard deviation over the seeds, and each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

from baseline.config import RECIPES, TrainConfig
from baseline.train import run
from grader.bundle.answers import load_solution
from grader.bundle.prepare import prepare
from grader.score.scoring import score_folder

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-images.zip"


def test_accuracy(submission: Path, solution: Path) -> float:
    """Accuracy of a submission on the whole test set (hidden labels)."""
    folder = submission.parent / "as_submissions"
    folder.mkdir()
    (folder / "run.csv").write_bytes(submission.read_bytes())
    (entry,) = score_folder(folder, load_solution(solution))
    return entry.metrics["all"].accuracy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        default=str(DEFAULT_SOURCE),
        help="CIFAR-10 source (default: the course's zip in ../shared/data)",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)"
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (default: 4)")
    parser.add_argument(
        "--train-limit", type=int, default=10_000, help="training images per run (default: 10000)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        prepare(args.source, root / "competition", seed=1, progress=False)
        small = TrainConfig(
            data=str(root / "competition" / "public"),
            model="resnet18",
            weights="none",
            image_size=32,
            train_limit=args.train_limit,
            epochs=args.epochs,
            batch_size=128,
            cpu=True,
        )
        recipes = {
            "baseline": small,
            "improved": replace(small, **{**RECIPES["improved"], "epochs": args.epochs}),
        }
        results: dict[str, list[float]] = {name: [] for name in recipes}
        for seed in args.seeds:
            for name, cfg in recipes.items():
                out = root / f"{name}-{seed}"
                record = run(replace(cfg, seed=seed, out=str(out)))
                accuracy = test_accuracy(
                    out / "submission.csv", root / "competition" / "private" / "solution.csv"
                )
                results[name].append(accuracy)
                print(
                    f"{name:<9} seed {seed}: test accuracy {accuracy:.4f} (validation "
                    f"{record['validation']['val_acc']:.4f}, "
                    f"{record['timings_s']['total']:.0f} s)",
                    flush=True,
                )
    print(
        f"\nresnet18 from scratch, 32 px, {args.train_limit:,} training images, "
        f"{args.epochs} epochs, batch 128, seeds {args.seeds}; test accuracy on 10,000 images:"
    )
    for name, values in results.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {name:<9} {statistics.mean(values):.4f} +- {spread:.4f}")
    gain = statistics.mean(results["improved"]) - statistics.mean(results["baseline"])
    print(f"  improvement {gain * 100:+.1f} points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
