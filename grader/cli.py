"""The `grader` command line: a thin layer over the library.

The library raises typed errors (grader.errors); this module prints them as
one `Error: ...` line and picks the exit code: 0 success, 1 the input was
judged bad, 2 a usage error (DESIGN.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from grader import __version__
from grader.errors import GraderError


def get_parser() -> argparse.ArgumentParser:
    """Build the argument parser (tests and docs reuse it)."""
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Run a CIFAR-10 class competition on Kaggle: build the competition files, "
        "check and score submissions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_prepare(commands)
    return parser


def _add_prepare(commands: argparse._SubParsersAction) -> None:
    from grader.prepare import DEFAULT_PUBLIC_FRACTION

    p = commands.add_parser(
        "prepare",
        help="build the competition bundle (public files for Kaggle, hidden test labels)",
        description="Turn CIFAR-10 into a Kaggle class competition: OUT/public/ holds the "
        "files for Kaggle's Data tab, OUT/private/ the hidden test labels with their "
        "Public/Private split (keep it to yourself).",
        epilog="Sources: 'torchvision' downloads the official archive (163 MB) into "
        "--cache-dir; offline, give a path: cifar-10-python.tar.gz, its extracted "
        "cifar-10-batches-py/ folder, or an ImageFolder tree train/<class>/*, "
        "test/<class>/* as a folder or .zip.",
    )
    p.add_argument(
        "--source",
        default="torchvision",
        help="'torchvision' or the path of a local copy (default: torchvision)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("competition"),
        help="folder to create (default: competition)",
    )
    p.add_argument(
        "--public-fraction",
        type=float,
        default=DEFAULT_PUBLIC_FRACTION,
        metavar="F",
        help="share of test images on the public leaderboard, stratified by class "
        f"(default: {DEFAULT_PUBLIC_FRACTION})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="fixed seed for a reproducible bundle; anyone can rebuild its hidden "
        "split, so use it for tests and demos only (default: a secret seed from "
        "the OS, kept in OUT/private/manifest.json)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace OUT if it is an existing bundle (default: refuse)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where --source torchvision keeps the download; a torchvision data "
        "root works too (default: ~/.cache/cifar10-kit)",
    )
    p.set_defaults(run=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from grader.prepare import prepare

    start = time.perf_counter()
    manifest = prepare(
        args.source,
        args.out,
        public_fraction=args.public_fraction,
        seed=args.seed,
        force=args.force,
        cache_dir=args.cache_dir,
        warn=lambda message: print(f"Warning: {message}", file=sys.stderr),
    )
    counts = manifest["counts"]
    print(
        f"Built {args.out}/ in {time.perf_counter() - start:.1f} s: "
        f"{counts['train']:,} train and {counts['test']:,} test images, "
        f"Public {counts['public']:,} / Private {counts['private']:,} (stratified by class).\n"
        f"  Upload {args.out / 'public'}/ to the competition's Data tab.\n"
        f"  Keep {args.out / 'private'}/ to yourself: solution.csv holds the hidden labels."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `grader` console script; returns the exit code."""
    args = get_parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
