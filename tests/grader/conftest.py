"""Fixtures only the grader's tests use (the tiny competition itself is tests/conftest.py's:
the cross-cutting tests score it too)."""

from tests.scoring_fixtures import mixed_folder  # noqa: F401 (a fixture)
