"""How well the lookup detector separates honest files from lookups, on the evidence set.

Run:
    python benchmarks/bench_lookup.py [--fixture benchmarks/data/honest_predictions.npz]

The evidence (benchmarks/lookup_evidence.py): real honest files of models trained
at CPU scale, strong honest files from an error model calibrated on them, and
lookups of three kinds. The class is every honest file; each lookup is scored
as one more file of that class (the detector leaves each file out of the
difficulty it is judged against). Prints, per file, the two z-scores and the
decision of the kit's rule, then:

* false flags: honest files the kit's rule flags (goal: none);
* detection: lookups the kit's rule flags (goal: at least 90%);
* at a 1% false-flag rate: the detection rate when the threshold on one
  score, the weaker of the two ratios (wrong on the easiest / expected, and
  expected / wrong on the hardest), is set at the honest files' 99th
  percentile;
* detection per kind of lookup.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.lookup_evidence import FIXTURE, build
from grader.stats.lookup import decide, statistics

KINDS = [
    ("true labels with 1-10% random errors", lambda n: "random errors" in n),
    (
        "a real file with 50-90% of its errors replaced by true labels",
        lambda n: n.startswith("real ") and "replaced" in n,
    ),
    (
        "an error-model file with 50-90% of its errors replaced by true labels",
        lambda n: n.startswith("error model") and "replaced" in n,
    ),
    ("true labels with 3-5% errors where a real file errs", lambda n: "errors where" in n),
]


def ratio_score(stats) -> np.ndarray:
    """The weaker of the two ratios the rule uses, as one number (higher: more like a
    lookup): wrong on the easiest / expected, and expected / wrong on the hardest."""
    easy = np.asarray(stats["wrong_easy"]) / np.maximum(stats["expected_wrong"], 1e-9)
    missed = np.asarray(stats["n_hard"]) - np.asarray(stats["right_hard"])
    hard = (np.asarray(stats["n_hard"]) - np.asarray(stats["expected_right"])) / np.maximum(
        missed, 0.5
    )
    return np.minimum(easy, hard)


def judge(labels: np.ndarray, honest: np.ndarray, files: list[np.ndarray]) -> list[dict]:
    """Each of `files` judged as one more file of the honest class."""
    base = honest == labels
    out = []
    for predicted in files:
        stats = statistics(np.vstack([base, (predicted == labels)[None]]))
        p_value, flagged = decide(stats)
        out.append({k: v[-1] for k, v in stats.items()} | {"p": p_value[-1], "flag": flagged[-1]})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    args = parser.parse_args()
    evidence = build(args.fixture)
    labels = evidence.labels
    honest = np.stack(list(evidence.honest.values()))
    stats = statistics(honest == labels)
    _, honest_flags = decide(stats)
    print(
        f"error model sigma {evidence.sigma:.2f}; {len(honest)} honest files, "
        f"{len(evidence.lookups)} lookups"
    )
    print(f"{'file':<78} {'acc':>6} {'z_hard':>7} {'z_easy':>7} flag")
    honest_score = ratio_score(stats)
    for i, name in enumerate(evidence.honest):
        print(
            f"{name[:78]:<78} {stats['accuracy'][i]:6.3f} {stats['z_hard'][i]:7.1f} "
            f"{stats['z_easy'][i]:7.1f} {'FLAG' if honest_flags[i] else ''}"
        )
    judged = judge(labels, honest, list(evidence.lookups.values()))
    for name, row in zip(evidence.lookups, judged, strict=True):
        print(
            f"{name[:78]:<78} {row['accuracy']:6.3f} {row['z_hard']:7.1f} "
            f"{row['z_easy']:7.1f} {'FLAG' if row['flag'] else ''}"
        )
    caught = sum(bool(r["flag"]) for r in judged)
    threshold = float(np.quantile(honest_score, 0.99))
    at_one = sum(float(ratio_score(r)) > threshold for r in judged)
    print(f"false flags (kit's rule): {int(honest_flags.sum())} of {len(honest)} honest files")
    print(f"detection (kit's rule): {caught} of {len(judged)} lookups ({caught / len(judged):.0%})")
    print(
        f"detection at a 1% false-flag rate (threshold {threshold:.1f}): {at_one} of "
        f"{len(judged)} ({at_one / len(judged):.0%})"
    )
    for kind, match in KINDS:
        rows = [r for n, r in zip(evidence.lookups, judged, strict=True) if match(n)]
        hits = sum(bool(r["flag"]) for r in rows)
        print(f"  {kind}: {hits} of {len(rows)}")
    missed = [n for n, r in zip(evidence.lookups, judged, strict=True) if not r["flag"]]
    if missed:
        print("missed:")
        print("\n".join(f"  {n}" for n in missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
