"""The install files agree with each other, and the README's commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def test_requirements_txt_lists_exactly_the_projects_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["train"]
    assert sorted(requirement_lines(ROOT / "requirements.txt")) == sorted([*declared, "-e ."])


def test_requirement_ranges_admit_the_torch_on_the_course_machines():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^torch>=2\.\d+,<2\.15$", text, re.M)
    assert re.search(r"^torchvision>=0\.\d+,<0\.30$", text, re.M)
    assert re.search(r"^six>=", text, re.M)  # kaggle imports it without declaring it


def test_readme_opens_with_the_two_fresh_machine_commands():
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:40])
    assert "pip install -r requirements.txt" in first_screen
    assert "python -m baseline.demo" in first_screen
    assert "pip install -r requirements-dev.txt" in first_screen
    assert "python -m pytest" in first_screen


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and "ruff check" in ci
