"""The whole loop at CPU scale, in one command: the README's main job.

Run:
    python -m baseline.demo                     # downloads CIFAR-10 (163 MB)
    python -m baseline.demo --source PATH       # offline: a local copy (see grader prepare)

Steps, each printed as it happens (71-85 s on the 2-core course machine from
the local zip on 2026-12-02, plus the download):

1. `grader prepare`: the competition bundle in OUT/competition/;
2. a CPU stand-in for the baseline, not the course recipe: resnet18 from
   scratch at 32 px on 10,000 images, 3 epochs, SGD lr 0.05 with momentum
   0.9 (the recipe, ResNet50 from ImageNet weights at lr 1e-3 without
   momentum, barely moves in a few CPU minutes); its file is the participant
   `cpu-stand-in`;
3. `grader validate` on that file;
4. a submissions folder: the stand-in's file, the sample submission, three
   simulated students (participants `simulated-...`: predictions drawn from
   the hidden labels at set accuracies, two files for one of them) and one
   broken file;
5. `grader score`: the leaderboard, printed and written to OUT/leaderboard/
   (the review folder goes to OUT/competition/private/review/).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np

from baseline.config import TrainConfig
from baseline.errors import TrainingError
from grader.board.terminal import score_summary
from grader.bundle.answers import load_public_key, load_solution
from grader.bundle.prepare import prepare
from grader.bundle.submission import SubmissionChecker
from grader.core.errors import GraderError, UsageError
from grader.score.options import ScoreOptions
from grader.score.pipeline import score_submissions

# Simulated students: (folder, file, accuracy of their predictions).
STUDENTS = (
    ("simulated-alice", "2026-11-20T10-00-00_first-try.csv", 0.42),
    ("simulated-alice", "2026-11-24T18-30-00_augmented.selected.csv", 0.61),
    ("simulated-bob", "2026-11-23T09-15-00_adam.csv", 0.55),
    ("simulated-chen", "2026-11-25T21-45-00_wide-resnet.csv", 0.74),
)
STAND_IN = "cpu-stand-in"


def demo_config(out: Path) -> TrainConfig:
    """The baseline recipe shrunk to a couple of CPU minutes."""
    return TrainConfig(
        data=str(out / "competition" / "public"),
        out=str(out / "runs" / "baseline"),
        model="resnet18",
        weights="none",
        image_size=32,
        train_limit=10_000,
        epochs=3,
        batch_size=64,
        lr=0.05,
        momentum=0.9,
        cpu=True,
    )


def simulated_students(folder: Path, solution: Path, seed: int = 0) -> None:
    """Write the simulated students' files: hidden labels kept at a set accuracy."""
    key = load_solution(solution)
    rng = np.random.default_rng(seed)
    for student, name, accuracy in STUDENTS:
        keep = rng.random(len(key.ids)) < accuracy
        guess = np.where(keep, key.labels, rng.integers(0, len(key.classes), len(key.ids)))
        (folder / student).mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{i},{key.classes[g]}\n" for i, g in zip(key.ids, guess, strict=True))
        (folder / student / name).write_text("id,label\n" + rows)
    (folder / "dave.csv").write_text("id;label\n0;cat\n1;dog\n")  # a spreadsheet's export


def q(path: object) -> str:
    """A path as a shell would need it typed."""
    return shlex.quote(str(path))


def step(number: int, text: str) -> None:
    print(f"\n== {number}. {text}", flush=True)


def run_demo(source: str, out: Path) -> int:
    """Run the five steps; return the exit status of the scoring (1: a file was invalid)."""
    from baseline.train import run

    step(1, f"grader prepare --source {q(source)} --out {q(out / 'competition')}")
    manifest = prepare(
        source,
        out / "competition",
        warn=lambda message: print(f"Warning: {message}", file=sys.stderr),
    )
    counts = manifest["counts"]
    print(
        f"{counts['train']:,} train / {counts['test']:,} test images, Public "
        f"{counts['public']:,} / Private {counts['private']:,}."
    )

    cfg = demo_config(out)
    step(
        2,
        f"python -m baseline.train --data {q(cfg.data)} --out {q(cfg.out)} --model "
        f"{cfg.model} --weights none --image-size {cfg.image_size} --train-limit "
        f"{cfg.train_limit} --epochs {cfg.epochs} --batch-size {cfg.batch_size} --lr {cfg.lr} "
        f"--momentum {cfg.momentum} --cpu   # a CPU stand-in, not the course recipe",
    )
    run(cfg)

    submission = Path(cfg.out) / "submission.csv"
    step(3, f"grader validate {q(submission)} --competition {q(cfg.data)}")
    checked = SubmissionChecker(load_public_key(cfg.data)).check_file(submission)
    print("valid" if checked.valid else "\n".join(checked.problems))

    folder = out / "submissions"
    step(4, f"collect submissions in {folder}/ (simulated students are labelled simulated-)")
    (folder / STAND_IN).mkdir(parents=True)
    shutil.copy(
        submission, folder / STAND_IN / "2026-11-19T12-00-00_resnet18-32px-lr0.05-momentum0.9.csv"
    )
    shutil.copy(out / "competition" / "public" / "sample_submission.csv", folder / "sample.csv")
    solution = out / "competition" / "private" / "solution.csv"
    simulated_students(folder, solution)
    for path in sorted(folder.rglob("*.csv")):
        print(f"  {path.relative_to(folder)}")

    board_dir = out / "leaderboard"
    step(5, f"grader score {q(folder)} --solution {q(solution)} --out {q(board_dir)}")
    run = score_submissions(
        ScoreOptions(folder=folder, solution=solution, out=board_dir),
        warn=lambda message: print(f"Warning: {message}", file=sys.stderr),
    )
    print(score_summary(run))
    print(
        f"\nDone. Files: {out / 'competition'}/ (public/ for Kaggle, private/ for you), "
        f"{cfg.out}/ (curves, submission), {board_dir}/ (the board students may see)."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baseline.demo",
        description="Run the kit's whole loop at CPU scale: prepare a competition, train a "
        "short baseline, validate its submission, score a folder of submissions.",
    )
    parser.add_argument(
        "--source",
        default="torchvision",
        help="CIFAR-10 source for grader prepare (default: torchvision)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo"),
        help="folder for everything the demo writes (default: demo)",
    )
    parser.add_argument(
        "--force", action="store_true", help="delete an earlier demo folder first (default: refuse)"
    )
    args = parser.parse_args(argv)
    try:
        if args.out.exists():
            if not args.force:
                raise UsageError(
                    f"--out {args.out}: already exists. Pass --force to start "
                    "over, or choose another folder."
                )
            if not (args.out / "competition").exists() and any(args.out.iterdir()):
                raise UsageError(f"--out {args.out}: not a demo folder; refusing to delete it.")
            shutil.rmtree(args.out)
        return run_demo(args.source, args.out)
    except GraderError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except TrainingError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
