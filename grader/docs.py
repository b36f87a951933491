"""docs/cli.md, the command reference, generated from the parser's own --help.

    python -m grader.docs           # rewrite docs/cli.md
    python -m grader.docs --check   # exit 1 when docs/cli.md is stale (a test runs this)

Generating the page from `get_parser()` keeps it true: a flag added to the CLI
appears in the reference on the next build, and the test fails until it does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from grader.cli import get_parser

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = 88  # columns of the help text, whatever the terminal that builds the page

HEADER = """# `grader` command reference

Generated from each command's `--help` by `python -m grader.docs`; do not edit by
hand (a test fails when this page is stale). The guides in this folder say when
and why to use each command.
"""


def _fixed_width(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=WIDTH)


def commands(
    parser: argparse.ArgumentParser, name: str = "grader"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command and subcommand with its parser, in the order --help lists them."""
    _fixed_width(parser)
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from commands(sub, f"{name} {sub_name}")


def reference() -> str:
    """The whole page."""
    parts = [HEADER]
    found = list(commands(get_parser()))
    parts.append("Commands: " + ", ".join(f"[`{n}`](#{_anchor(n)})" for n, _ in found[1:]) + ".\n")
    for name, parser in found:
        parts.append(f"## `{name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def _anchor(name: str) -> str:
    """GitHub's anchor for a heading `name` in backticks."""
    return name.lower().replace(" ", "-")


def main(argv: Sequence[str] | None = None) -> int:
    """Write docs/cli.md, or with --check say whether it is current."""
    parser = argparse.ArgumentParser(prog="python -m grader.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check (default: write)")
    args = parser.parse_args(argv)
    text = reference()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is stale: run python -m grader.docs", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
