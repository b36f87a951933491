"""The `grader` command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import get_parser
from tests.helpers import ROOT, grader


def test_prepare_end_to_end(sources, tmp_path):
    out = tmp_path / "competition"
    result = grader(
        "prepare", "--source", str(sources["imagefolder-zip"]), "--out", str(out), "--seed", "5"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Built {out}/ in ")
    assert result.stdout.split(" s: ", 1)[1] == (
        "60 train and 50 test images, Public 15 / Private 35 (stratified by class).\n"
        f"  Upload {out}/public/ to the competition's Data tab.\n"
        f"  Keep {out}/private/ to yourself: solution.csv holds the hidden labels.\n"
    )
    # Output to a pipe is a log: one plain line per stage instead of a progress bar.
    decoding, warning = result.stderr.splitlines(True)
    assert re.fullmatch(r"Decoding images: 110 img in \d+\.\d s\n", decoding)
    assert "\r" not in result.stderr
    assert warning == (
        "Warning: --seed 5 makes a split that anyone with this kit and CIFAR-10 can rebuild. "
        "Use it for tests and demos only; leave --seed out for a graded competition.\n"
    )


def test_prepare_refusal_is_one_line_and_exit_2(sources, tmp_path):
    result = grader("prepare", "--source", str(sources["imagefolder-zip"]), "--out", str(tmp_path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --out {tmp_path}: already exists. Pass --force to replace it, or choose "
        "another folder.\n"
    )


def test_a_bad_source_is_exit_1_with_no_traceback(tmp_path):
    (tmp_path / "train").mkdir()
    result = grader("prepare", "--source", str(tmp_path), "--out", str(tmp_path / "c"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {tmp_path}: found no train/<class>/<image>")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "c").exists()


def test_bad_flag_value_is_a_usage_error():
    result = grader("prepare", "--public-fraction", "lots")
    assert result.returncode == 2
    assert "argument --public-fraction: invalid float value: 'lots'" in result.stderr


def test_every_command_and_flag_has_help_with_its_default():
    parser = get_parser()
    commands = parser._subparsers._group_actions[0]
    assert sorted(commands.choices) == [
        "collect",
        "history",
        "leaderboard",
        "notebooks",
        "prepare",
        "score",
        "submit",
        "validate",
    ]
    parsers = list(commands.choices.items())
    while parsers:
        name, sub = parsers.pop()
        assert sub.description, name
        for action in sub._actions:
            if action.dest == "help":
                continue
            if isinstance(action, argparse._SubParsersAction):  # grader leaderboard download
                parsers += [(f"{name} {n}", p) for n, p in action.choices.items()]
                continue
            assert action.help and "(default: " in action.help, (name, action.dest)


def subcommand(*names: str) -> argparse.ArgumentParser:
    parser = get_parser()
    for name in names:
        parser = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        ).choices[name]
    return parser


def cli_defaults(*names: str) -> dict:
    return {a.dest: a.default for a in subcommand(*names)._actions if a.dest != "help"}


def test_the_cli_shows_the_librarys_defaults():
    """Each default is written once, in the library: a literal in cli.py that drifts fails."""
    import inspect
    from dataclasses import fields

    from grader.bundle.prepare import prepare
    from grader.collect.options import CollectOptions
    from grader.provenance.pull import pull_notebooks
    from grader.score.options import ScoreOptions

    def library(function) -> dict:
        return {n: p.default for n, p in inspect.signature(function).parameters.items()}

    def options(cls, command: str, positional: str) -> tuple[dict, dict]:
        shown = cli_defaults(command)
        own = {f.name: f.default for f in fields(cls) if f.name != positional}
        return {name: shown[name] for name in own}, own

    shown, own = options(ScoreOptions, "score", "folder")
    shown["staff"] = tuple(shown["staff"])  # a list in the parser: argparse extends it
    assert shown == own
    shown, own = options(CollectOptions, "collect", "exports")
    assert shown == own
    shown, own = cli_defaults("prepare"), library(prepare)
    assert {k: v for k, v in own.items() if k in shown} == {k: shown[k] for k in own if k in shown}
    assert len(set(own) & set(shown)) == 7
    assert cli_defaults("notebooks", "pull")["into"] == library(pull_notebooks)["into"]
    # The other commands read what prepare and score write where they write it by default.
    bundle = library(prepare)["out"]
    assert cli_defaults("validate")["competition"] == bundle / "public"
    assert cli_defaults("submit")["data"] == bundle / "public"
    assert ScoreOptions(Path("submissions")).solution.parents[1] == bundle
    assert cli_defaults("history")["history"] == ScoreOptions(Path("submissions")).history_file


def test_help_runs_without_error():
    result = grader("prepare", "--help")
    assert result.returncode == 0
    assert "--public-fraction F" in result.stdout and "(default: 0.3)" in result.stdout


def loaded_after(statement: str, packages: tuple[str, ...]) -> list[str]:
    """Which of `packages` a fresh interpreter has imported after `statement`."""
    code = (
        f"import sys; {statement}; print(sorted(m for m in sys.modules "
        f"if m.split('.')[0] in {packages!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    return ast.literal_eval(result.stdout)  # the printed list of module names


def test_grader_never_imports_torch():
    modules = ("torch", "torchvision", "pandas", "sklearn")
    statement = (
        "import grader.cli, grader.bundle.prepare, grader.bundle.sources, grader.bundle.files, "
        "grader.score.scoring, grader.board.public, grader.stats.uncertainty, "
        "grader.stats.integrity"
    )
    assert loaded_after(statement, modules) == []


@pytest.mark.parametrize("path", sorted((ROOT / "grader").rglob("*.py")), ids=lambda p: p.name)
def test_no_grader_module_mentions_a_torch_import(path):
    text = path.read_text()
    assert "import torch" not in text and "from torch" not in text


# ----------------------------------------------------------------------------
# grader validate
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_dir(sources, tmp_path_factory) -> Path:
    from grader.bundle.prepare import prepare

    out = tmp_path_factory.mktemp("validate") / "competition"
    prepare(str(sources["imagefolder-zip"]), out, seed=2, progress=False)
    return out / "public"


def test_validate_a_valid_file(public_dir):
    sample = public_dir / "sample_submission.csv"
    result = grader("validate", str(sample), "--competition", str(public_dir))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"{sample}: valid. 50 rows, one per test id; labels written as class names.\n"
        "Predicted: airplane 5, automobile 5, bird 5, cat 5, deer 5, dog 5, frog 5, horse 5, "
        "ship 5, truck 5\n"
    )


def test_validate_lists_every_problem_and_exits_1(public_dir, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("id,label\n0,cat\n0,dog\n1,lion\n")
    result = grader("validate", str(path), "--competition", str(public_dir))
    assert result.returncode == 1
    assert result.stdout == (
        f"{path}: invalid, 3 problems:\n"
        "  1. duplicate id on 1 line: line 3 (id 0, first on line 2).\n"
        "  2. unknown label on 1 line: line 4 ('lion'). Allowed: airplane, automobile, bird, "
        "cat, deer, dog, frog, horse, ship, truck (any case) or their indices 0-9, one style "
        "for the whole file.\n"
        "  3. 48 of the 50 test ids have no row (ids 2, 3, 4, ...).\n"
    )


def test_validate_usage_errors_exit_2(public_dir, tmp_path):
    missing = grader("validate", str(tmp_path / "nope.csv"), "--competition", str(public_dir))
    assert (missing.returncode, missing.stderr) == (
        2,
        f"Error: {tmp_path / 'nope.csv'}: no such file. Pass the path of your submission CSV.\n",
    )
    (tmp_path / "a.csv").write_text("id,label\n")
    no_bundle = grader("validate", str(tmp_path / "a.csv"), "--competition", str(tmp_path))
    assert (no_bundle.returncode, no_bundle.stderr) == (
        2,
        f"Error: --competition: {tmp_path / 'test.csv'}: missing. Pass --competition the "
        "folder that holds the competition's public files (test.csv, classes.txt).\n",
    )


def test_help_starts_fast_without_heavy_imports():
    statement = "from grader.cli import get_parser; get_parser()"
    assert loaded_after(statement, ("numpy", "PIL", "tqdm")) == []


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, "bar"),
        ({}, False, "plain"),
        ({"CIFAR10_KIT_PROGRESS": "plain"}, True, "plain"),
        ({"CIFAR10_KIT_PROGRESS": "BAR"}, False, "bar"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Batch"}, True, "plain"),
        ({"CIFAR10_KIT_PROGRESS": "bar", "KAGGLE_KERNEL_RUN_TYPE": "Batch"}, False, "bar"),
    ],
)
def test_progress_bars_only_where_a_person_watches(monkeypatch, env, tty, expected):
    from grader.core import progress

    for name in ("CIFAR10_KIT_PROGRESS", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: tty, raising=False)
    assert progress.mode() == expected


def test_an_unknown_progress_setting_warns_and_guesses(monkeypatch, capsys):
    from grader.core import progress

    monkeypatch.setenv("CIFAR10_KIT_PROGRESS", "fancy")
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    assert progress.mode() == "plain"
    assert "CIFAR10_KIT_PROGRESS='fancy' is not one of bar, plain" in capsys.readouterr().err


def test_the_cli_reference_is_current():
    """docs/cli.md is generated from the parser (python -m grader.docs): a flag added to a
    command without rebuilding the page fails here."""
    from grader.docs import PAGE, commands, reference

    page = PAGE.read_text(encoding="utf-8")
    assert page == reference(), "run python -m grader.docs"
    for name, parser in commands(get_parser()):
        for action in parser._actions:
            for flag in action.option_strings:
                assert f"{flag}" in page, (name, flag)
