"""Hyperparameter search with Optuna over a search-space file.

Run:
    python -m baseline.tune --data competition/public --out runs/tune --trials 20 \\
        --epochs 5 --space baseline/search_space.json [any baseline.train flag]

Every trial is a real `baseline.train` run in OUT/STUDY/trial_NNN/ with the settings
Optuna samples from the space; the objective is the validation accuracy of its
last (or, with --patience, best) epoch. After each epoch the validation
accuracy is reported to Optuna and a median pruner stops trials that are
behind the median of earlier trials at the same epoch: the lecture's early
stopping, applied to the search.

The study lives in SQLite (OUT/study.db) unless --storage names another
database. Several workers share one study through one storage URL, e.g. one
per GPU:

    CUDA_VISIBLE_DEVICES=0 python -m baseline.tune --out runs/tune --trials 10 &
    CUDA_VISIBLE_DEVICES=1 python -m baseline.tune --out runs/tune --trials 10 &

(the same --out and --storage; each trial gets a fresh folder). A trial uses
one process; run workers side by side rather than one trial on two GPUs.

Writes OUT/STUDY/trials.csv (one row per trial: number, state, value,
parameters, seconds), OUT/STUDY/optimization_history.png and
OUT/STUDY/param_importances.png. Workers sample independently (Optuna's
sampler is unseeded unless --sampler-seed is given).

The search-space file is JSON: TrainConfig field -> {"type": "float", "low",
"high", "log"} | {"type": "int", "low", "high", "log"} | {"type":
"categorical", "choices": [...]}.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

from baseline.config import ConfigError, TrainConfig, get_parser
from baseline.errors import TrainingError

DEFAULT_SPACE = Path(__file__).with_name("search_space.json")
KINDS = {"float": ("low", "high"), "int": ("low", "high"), "categorical": ("choices",)}


def load_space(path: Path) -> dict[str, dict]:
    """Read and check a search-space file; errors name the file and the key."""
    try:
        space = json.loads(path.read_text())
    except FileNotFoundError:
        raise TrainingError(f"--space {path}: no such file.") from None
    except json.JSONDecodeError as exc:
        raise TrainingError(f"--space {path}: not JSON ({exc}).") from None
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, spec in space.items():
        if name not in fields:
            raise TrainingError(
                f"--space {path}: {name!r} is not a setting of baseline.train "
                f"(settings: {', '.join(sorted(fields))})."
            )
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in KINDS or any(key not in spec for key in KINDS[kind]):
            raise TrainingError(
                f'--space {path}: {name!r} needs {{"type": "float"|"int", "low", '
                '"high"[, "log"]} or {"type": "categorical", "choices": [...]}.'
            )
    return space


def suggest(trial, space: dict[str, dict]) -> dict:
    """Sample one value per setting of the space."""
    params = {}
    for name, spec in space.items():
        if spec["type"] == "float":
            params[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        elif spec["type"] == "int":
            params[name] = trial.suggest_int(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        else:
            params[name] = trial.suggest_categorical(name, spec["choices"])
    return params


def pruning_callback(trial):
    """Report each epoch's validation accuracy; stop the trial when Optuna prunes it."""
    import optuna

    def on_epoch(row: dict) -> None:
        trial.report(row["val_acc"], step=int(row["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {int(row['epoch'])}")

    return on_epoch


def objective(base: TrainConfig, space: dict[str, dict], out: Path):
    """The Optuna objective: one baseline.train run per trial."""
    from baseline.train import run

    def evaluate(trial) -> float:
        params = suggest(trial, space)
        folder = out / trial.study.study_name / f"trial_{trial.number:03d}"
        cfg = replace(base, **params, out=str(folder), resume=False)
        record = run(cfg, on_epoch=pruning_callback(trial))
        stopping = record.get("early_stopping")
        rows = record["history"]
        best = rows[stopping["best_epoch"] - 1] if stopping else rows[-1]
        return best["val_acc"]

    return evaluate


def write_results(study, out: Path) -> None:
    """trials.csv and the two plots (when enough trials finished)."""
    names = sorted({name for t in study.trials for name in t.params})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", "val_acc", *names, "seconds"])
    for t in study.trials:
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else ""
        )
        writer.writerow(
            [
                t.number,
                t.state.name,
                "" if t.value is None else t.value,
                *(t.params.get(n, "") for n in names),
                seconds,
            ]
        )
    (out / "trials.csv").write_text(buffer.getvalue())
    _plots(study, out)


def _plots(study, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not complete:
        return
    vis.plot_optimization_history(study)
    plt.gcf().set_size_inches(8, 5)
    plt.tight_layout()
    plt.savefig(out / "optimization_history.png", dpi=110)
    plt.close("all")
    if len(complete) >= 2 and len({tuple(sorted(t.params.items())) for t in complete}) >= 2:
        vis.plot_param_importances(study)
        plt.gcf().set_size_inches(8, 5)
        plt.tight_layout()
        plt.savefig(out / "param_importances.png", dpi=110)
        plt.close("all")


def get_tune_parser() -> argparse.ArgumentParser:
    """The tuner's own flags, plus every baseline.train flag as the trials' base settings."""
    parser = get_parser()
    parser.prog = "python -m baseline.tune"
    parser.description = __doc__.splitlines()[0]
    parser.add_argument(
        "--space",
        type=Path,
        default=DEFAULT_SPACE,
        metavar="FILE",
        help=f"search-space JSON (default: {DEFAULT_SPACE.name} of the kit)",
    )
    parser.add_argument(
        "--trials", type=int, default=20, help="trials this worker runs (default: 20)"
    )
    parser.add_argument("--study", default="cifar10", help="study name (default: cifar10)")
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="Optuna storage shared by workers (default: sqlite:///OUT/study.db)",
    )
    parser.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="seed of Optuna's sampler, for a reproducible single-worker study; leave it out "
        "when several workers share the study, or they sample the same settings (default: none)",
    )
    parser.add_argument(
        "--startup-trials",
        type=int,
        default=5,
        help="trials run to the end before pruning starts (default: 5)",
    )
    parser.set_defaults(out="runs/tune")
    for action in parser._actions:
        if action.dest == "out":
            action.help = "folder of the study, its trials and results (default: runs/tune)"
    return parser


def main(argv: list[str] | None = None) -> int:
    import optuna

    args = vars(get_tune_parser().parse_args(argv))
    tune_keys = ("space", "trials", "study", "storage", "startup_trials", "sampler_seed")
    options = {k: args.pop(k) for k in tune_keys}
    if args.get("resume"):
        print(
            "Error: --resume: a study continues by itself: run the same command again with "
            "the same --out (its study.db keeps the finished trials).",
            file=sys.stderr,
        )
        return 2
    try:
        base = TrainConfig(**args)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    out = Path(base.out)
    try:
        space = load_space(options["space"])
        out.mkdir(parents=True, exist_ok=True)
        storage = options["storage"] or f"sqlite:///{out.resolve() / 'study.db'}"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            study_name=options["study"],
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=options["sampler_seed"]),
            pruner=optuna.pruners.MedianPruner(
                n_startup_trials=options["startup_trials"], n_warmup_steps=0
            ),
        )
        study.optimize(
            objective(base, space, out),
            n_trials=options["trials"],
            catch=(TrainingError, ConfigError),  # a failed trial is recorded, the study goes on
            callbacks=[_announce],
        )
    except TrainingError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    write_results(study, out / study.study_name)
    best = study.best_trial if any(t.value is not None for t in study.trials) else None
    if best is not None:
        print(f"Best: trial {best.number}, validation accuracy {best.value:.4f}, {best.params}")
    print(f"Wrote {out / study.study_name}/trials.csv and the plots; the study is in {storage}.")
    return 0


def _announce(study, trial) -> None:
    value = "" if trial.value is None else f", validation accuracy {trial.value:.4f}"
    print(f"trial {trial.number}: {trial.state.name.lower()}{value}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
