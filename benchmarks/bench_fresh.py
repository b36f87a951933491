"""The fresh-image check against the lookup detector, on 30 real models' predictions.

Run (20-35 s on the 2-core course machine, as other work shares it):
    python benchmarks/bench_fresh.py [--fixture benchmarks/data/cifar101_predictions.npz]

The evidence: the predictions the CIFAR-10.1 authors published for 30 CIFAR-10
models (github.com/modestyachts/CIFAR-10.1, MIT licence for the repository's
code; its datasets/ folder's images and labels are excepted: "part of the Tiny
Images dataset and can be used the same way"), on the original test set and on
the 2,000 images of CIFAR-10.1 v6; benchmarks/make_cifar101_fixture.py made the
fixture. The original test labels are the 30 models' majority vote (the
repository does not hold them).

A competition as `grader prepare --fresh` builds it: 10,000 original test images,
30% of them Public (stratified by class, seed 0), and the 2,000 fresh images, all
Private. The class is the 30 honest models; each lookup is judged as one more file
of that class, by both checks on the same predictions:

* the fresh-image check (grader.stats.fresh): original Private accuracy against
  fresh accuracy, the class's line;
* the lookup detector (grader.stats.lookup): which of all 12,000 test images are
  right and wrong, as `grader score` runs it.

Lookups, each with the model's own predictions on the fresh images (whose labels
the student could not look up):

* partial: a model with 10-90% of its original errors replaced by the true labels
  (every model, each fraction);
* mimic: the true labels, with wrong answers copied from a model on a random 2%,
  3% or 5% of the original images where that model is wrong;
* naive: the true labels with 1%, 2%, 3% or 5% random wrong answers.

Then small classes: 200 random classes of 10 and of 15 of the models, the
reference slope refitted without them, and one partial lookup (50% of a
class member's errors fixed) added to each.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.bundle.split import stratified_mask
from grader.stats.fresh import (
    MIN_SPREAD,
    REFERENCE_SLOPE,
    line_test,
    pdf,
    probit,
    theil_sen,
    z_threshold,
)
from grader.stats.lookup import decide, statistics

FIXTURE = Path(__file__).resolve().parent / "data" / "cifar101_predictions.npz"
FIXES = (0.1, 0.3, 0.5, 0.7, 0.9)
MIMIC_ERRORS = (0.02, 0.03, 0.05)
NAIVE_ERRORS = (0.01, 0.02, 0.03, 0.05)
NAMED = (
    "alexnet_tf_ben fix 50%",
    "alexnet_tf_ben fix 90%",
    "cudaconvnet fix 30%",
    "resnet_basic_32 fix 50%",
    "resnet_basic_32 fix 90%",
    "vgg16_keras fix 50%",
)


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for name in ("original", "fresh", "original_labels", "fresh_labels"):
        arrays[name] = arrays[name].astype(np.int64)
    return arrays


def lookups(
    data: dict[str, np.ndarray], rng: np.random.Generator
) -> list[tuple[str, str, int, np.ndarray]]:
    """(kind, name, model whose fresh predictions it submits, original predictions)."""
    labels, original = data["original_labels"], data["original"]
    found = []
    for m, name in enumerate(data["names"]):
        wrong = np.flatnonzero(original[m] != labels)
        for fix in FIXES:
            predicted = original[m].copy()
            fixed = rng.choice(wrong, round(fix * len(wrong)), replace=False)
            predicted[fixed] = labels[fixed]
            found.append(("partial", f"{name} fix {fix:.0%}", m, predicted))
        for error in MIMIC_ERRORS:
            if len(wrong) >= error * len(labels):
                predicted = labels.copy()
                copied = rng.choice(wrong, round(error * len(labels)), replace=False)
                predicted[copied] = original[m][copied]
                found.append(("mimic", f"{name}'s errors on {error:.0%}", m, predicted))
        for error in NAIVE_ERRORS:
            predicted = labels.copy()
            changed = rng.choice(len(labels), round(error * len(labels)), replace=False)
            predicted[changed] = (labels[changed] + rng.integers(1, 10, len(changed))) % 10
            found.append(("naive", f"{error:.0%} random errors, {name} on fresh", m, predicted))
    return found


def fresh_z(honest_right, honest_fresh, private: int, fresh: int, extra=None, slope=None):
    """z-scores of the class (plus one extra file: (original right, fresh right))."""
    o, f = honest_right, honest_fresh
    if extra is not None:
        o, f = np.append(o, extra[0]), np.append(f, extra[1])
    kwargs = {} if slope is None else {"reference_slope": slope}
    return line_test(o, private, f, fresh, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    args = parser.parse_args()
    start = time.perf_counter()
    data = load(args.fixture)
    names, labels, fresh_labels = data["names"], data["original_labels"], data["fresh_labels"]
    counts = np.bincount(labels, minlength=10)
    print(
        f"original labels: the 30 models' vote; its class counts {counts.min()}-{counts.max()} "
        f"(CIFAR-10 has 1,000 each), so at least {int(np.maximum(counts - 1000, 0).sum())} "
        "vote labels are wrong"
    )
    rng = np.random.default_rng(0)
    private = ~stratified_mask(labels, 0.3, np.random.default_rng(0))
    n_private, n_fresh = int(private.sum()), len(fresh_labels)
    right = (data["original"] == labels)[:, private].sum(axis=1)
    fresh_right = (data["fresh"] == fresh_labels).sum(axis=1)

    # -- the honest class ------------------------------------------------------------
    line, expected, z = fresh_z(right, fresh_right, n_private, n_fresh)
    threshold = z_threshold(len(names))
    x, y = probit(right / n_private), probit(fresh_right / n_fresh)
    class_slope, _ = theil_sen(x, y)
    fitted = line.intercept + line.slope * x
    binomial = expected * (1 - expected) / n_fresh / pdf(fitted) ** 2 + line.slope**2 * (
        right / n_private * (1 - right / n_private) / n_private / pdf(x) ** 2
    )
    excess = np.var(y - fitted) - np.mean(binomial)
    print(
        f"line of the 30 models (original Private {n_private:,} images -> {n_fresh:,} fresh): "
        f"probit(fresh) = {line.intercept:.3f} + {line.slope:.3f} probit(original), the "
        f"class's Theil-Sen slope {class_slope:.3f} weighed with REFERENCE_SLOPE "
        f"{REFERENCE_SLOPE}; scatter about it "
        f"{100 * (fresh_right / n_fresh - expected).std():.2f} points of accuracy (sd), "
        f"{np.sqrt(max(excess, 0)):.3f} probit beyond binomial noise (MIN_SPREAD {MIN_SPREAD}); "
        f"spread used {line.spread:.3f}; flagged from z {threshold:.2f}"
    )
    print(f"{'model':<36} {'orig':>6} {'fresh':>6} {'expect':>6} {'z':>6}")
    for i, name in enumerate(names):
        print(
            f"{name:<36} {right[i] / n_private:6.1%} {fresh_right[i] / n_fresh:6.1%} "
            f"{expected[i]:6.1%} {z[i]:6.2f} {'FLAG' if z[i] >= threshold else ''}"
        )
    # The lookup detector sees every test row, original and fresh.
    honest_correct = np.hstack([data["original"] == labels, data["fresh"] == fresh_labels])
    _, lookup_honest = decide(statistics(honest_correct))
    print(
        "false flags among the 30 honest models: fresh-image check "
        f"{int((z >= threshold).sum())}, lookup detector {int(lookup_honest.sum())}"
    )

    # -- lookups -----------------------------------------------------------------------
    results = []
    for kind, name, m, predicted in lookups(data, rng):
        extra = ((predicted == labels)[private].sum(), fresh_right[m])
        _, _, z_all = fresh_z(right, fresh_right, n_private, n_fresh, extra)
        flag = z_all[-1] >= z_threshold(len(z_all))
        correct = np.concatenate([predicted == labels, data["fresh"][m] == fresh_labels])
        _, flagged = decide(statistics(np.vstack([honest_correct, correct[None]])))
        gain = (predicted == labels)[private].mean() - right[m] / n_private
        results.append((kind, name, gain, z_all[-1], flag, bool(flagged[-1])))
    print(f"\n{'lookup kind':<44} {'files':>5} {'fresh':>6} {'lookup':>6} {'either':>6}")
    for kind, label in (
        ("partial", "partial: a model with 10-90% of errors fixed"),
        ("mimic", "mimic: true labels, a model's errors on 2-5%"),
        ("naive", "naive: true labels, 1-5% random errors"),
    ):
        rows = [r for r in results if r[0] == kind]
        fresh, lookup = sum(r[4] for r in rows), sum(r[5] for r in rows)
        either = sum(r[4] or r[5] for r in rows)
        print(f"{label:<44} {len(rows):5d} {fresh:6d} {lookup:6d} {either:6d}")
    print("partial lookups by the share of errors fixed (flagged of 30):")
    for fix in FIXES:
        rows = [r for r in results if r[0] == "partial" and r[1].endswith(f"fix {fix:.0%}")]
        print(
            f"  fix {fix:.0%}: fresh check {sum(r[4] for r in rows):2d}, lookup detector "
            f"{sum(r[5] for r in rows):2d}; original accuracy gained "
            f"{100 * min(r[2] for r in rows):.1f}-{100 * max(r[2] for r in rows):.1f} points"
        )
    partial = [r for r in results if r[0] == "partial"]
    caught = [r[2] for r in partial if r[4]]
    missed = sorted((r for r in partial if not r[4]), key=lambda r: -r[2])
    print(
        f"every partial lookup gaining more than {100 * max(r[2] for r in missed):.2f} points is "
        f"flagged by the fresh check; smallest gain flagged {100 * min(caught):.2f} points"
    )
    print("the partial lookups issue 25 named (gain in points, z, flagged):")
    for name in NAMED:
        r = next(r for r in partial if r[1] == name)
        print(
            f"  {name:<44} +{100 * r[2]:.2f}  z {r[3]:5.2f}  fresh check "
            f"{'yes' if r[4] else 'no '}, lookup detector {'yes' if r[5] else 'no'}"
        )
    print("partial lookups that fix 30% or more and are missed (gain in points, z):")
    for r in missed:
        if not r[1].endswith(("fix 10%",)):
            print(f"  {r[1]:<44} +{100 * r[2]:.2f}  z {r[3]:.2f}")

    # -- small classes ----------------------------------------------------------------
    for size in (10, 15):
        false_flags = detected = 0
        for _ in range(200):
            members = rng.choice(len(names), size, replace=False)
            others = np.setdiff1d(np.arange(len(names)), members)
            reference, _ = theil_sen(x[others], y[others])
            suspect, honest = members[0], members[1:]  # the suspect's file is its lookup
            wrong = np.flatnonzero(data["original"][suspect] != labels)
            predicted = data["original"][suspect].copy()
            fixed = rng.choice(wrong, len(wrong) // 2, replace=False)
            predicted[fixed] = labels[fixed]
            extra = ((predicted == labels)[private].sum(), fresh_right[suspect])
            _, _, zs = fresh_z(
                right[honest], fresh_right[honest], n_private, n_fresh, extra, reference
            )
            false_flags += int((zs[:-1] >= z_threshold(size)).sum())
            detected += int(zs[-1] >= z_threshold(size))
        print(
            f"200 classes of {size} models (reference slope refitted on the other "
            f"{30 - size}; one member's file is its lookup with 50% of its errors fixed): "
            f"{false_flags} false flags among {200 * (size - 1)} honest files; {detected} of "
            "200 lookups flagged"
        )
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
