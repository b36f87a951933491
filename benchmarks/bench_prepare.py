"""Benchmark `grader prepare` on the full CIFAR-10 (60,000 images).

Run:
    python benchmarks/bench_prepare.py [SOURCE] [--repeat 3]

SOURCE defaults to ../shared/data/cifar10-images.zip (the course's ImageFolder
zip of real CIFAR-10). Prints the median time of each phase over the repeats,
images/s, and the ratio of the total to the issue's budget of 20 s on a
2-core machine (below 1.0 is within budget).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from grader.bundle.prepare import _manifest, _write_bundle, derived_mask_seed, split_dataset
from grader.bundle.sources import load_source
from grader.core.fileio import build_folder_atomically

BUDGET_S = 20.0
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-images.zip"


def run_once(source: str, scratch: Path) -> dict[str, float]:
    """Time the three phases of prepare: read the source, split, write the bundle."""
    times = {}
    start = time.perf_counter()
    raw = load_source(source, progress=False)
    times["read+decode"] = time.perf_counter() - start
    start = time.perf_counter()
    split = split_dataset(raw, seed=1, public_fraction=0.3)
    manifest = _manifest(raw, split, 1, derived_mask_seed(1), "--seed", 0.3)
    times["shuffle+split"] = time.perf_counter() - start
    start = time.perf_counter()
    out = scratch / f"bundle-{time.monotonic_ns()}"
    build_folder_atomically(
        out, lambda folder: _write_bundle(folder, split, manifest), lambda: None
    )
    times["write"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    times["images"] = len(raw.train_labels) + len(raw.test_labels)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        default=str(DEFAULT_SOURCE),
        help=f"CIFAR-10 source (default: {DEFAULT_SOURCE})",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs to take the median of (default: 3)"
    )
    args = parser.parse_args()
    if not Path(args.source).exists():
        print(f"Error: {args.source}: not found; pass a CIFAR-10 source.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        runs = [run_once(args.source, Path(scratch)) for _ in range(args.repeat)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(
        f"grader prepare on {args.source} ({int(median['images']):,} images), "
        f"median of {args.repeat}:"
    )
    for key in ("read+decode", "shuffle+split", "write", "total"):
        print(f"  {key:<14} {median[key]:6.2f} s")
    print(f"  throughput     {median['images'] / median['total']:,.0f} images/s")
    print(f"  total / budget {median['total'] / BUDGET_S:.2f}  (budget {BUDGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
