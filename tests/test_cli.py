"""The `grader` command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import get_parser

ROOT = Path(__file__).resolve().parents[1]


def grader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


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
    assert result.stderr == (
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
    assert sorted(commands.choices) == ["prepare"]
    for name, sub in commands.choices.items():
        assert sub.description, name
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help and "(default: " in action.help, (name, action.dest)


def test_help_runs_without_error():
    result = grader("prepare", "--help")
    assert result.returncode == 0
    assert "--public-fraction F" in result.stdout and "(default: 0.3)" in result.stdout


def test_grader_never_imports_torch():
    code = (
        "import sys, grader.cli, grader.prepare, grader.sources, grader.bundle; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'torchvision', 'pandas', 'sklearn')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert result.stdout == "[]\n"


@pytest.mark.parametrize("path", sorted((ROOT / "grader").rglob("*.py")), ids=lambda p: p.name)
def test_no_grader_module_mentions_a_torch_import(path):
    text = path.read_text()
    assert "import torch" not in text and "from torch" not in text
