"""The rules of docs/architecture.md that can be read off the source with `ast`: what
may import what, and records built by keyword.

Every import counts, whether it runs at import time, inside a function (the CLI
imports lazily) or only for type checkers (`if TYPE_CHECKING:`): a cycle through
any of them is a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> dict[str, Path]:
    return {
        module_name(path): path for package in packages for path in (ROOT / package).rglob("*.py")
    }


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from grader.core import names` imports the module grader.core.names
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def graph(*packages: str) -> dict[str, set[str]]:
    found = modules(*packages)
    known = set(found)
    return {name: imports_of(path, known) - {name} for name, path in found.items()}


def cycle_in(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules ([] when there is none)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_cycle_finder_finds_a_cycle():
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_kit_counting_lazy_and_type_checking_imports():
    edges = graph("grader", "baseline", "kernels")
    # Package __init__ files are imported by their submodules' imports; only real
    # module-to-module edges count.
    assert cycle_in(edges) == []


def test_the_grader_never_imports_torch_nor_the_baseline():
    for name, path in modules("grader").items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & {"torch", "torchvision", "timm", "accelerate", "baseline"}, name


def test_the_run_types_sit_below_their_writers():
    """grader.board writes a ScoringRun; the run's types must not import a writer or
    the pipeline (the cycle the flat layout had)."""
    edges = graph("grader")

    def below(module: str) -> set[str]:
        seen, todo = set(), [module]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    for types in ("grader.score.entry", "grader.score.run", "grader.score.options"):
        reached = below(types)
        assert not {m for m in reached if m.startswith("grader.board")}, types
        assert "grader.score.pipeline" not in reached, types


MAX_POSITIONAL_FIELDS = 4


def record_fields(tree: ast.Module) -> dict[str, int]:
    """The dataclasses and NamedTuples a module defines: name -> number of fields."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            marks = [ast.unparse(d) for d in node.decorator_list] + [
                ast.unparse(b) for b in node.bases
            ]
            if any(m.startswith("dataclass") or m == "NamedTuple" for m in marks):
                found[node.name] = sum(isinstance(s, ast.AnnAssign) for s in node.body)
    return found


@pytest.mark.slow
def test_records_with_more_than_four_fields_are_built_by_keyword():
    """Entry(participant, file, when, ...) with twelve positional values is a bug waiting
    for a field to move; every record of more than four fields is built by keyword."""
    trees = {
        name: ast.parse(path.read_text(encoding="utf-8"))
        for name, path in modules("grader").items()
    }
    fields: dict[str, int] = {}
    for tree in trees.values():
        for name, count in record_fields(tree).items():
            fields[name] = max(count, fields.get(name, 0))
    wide = {name for name, count in fields.items() if count > MAX_POSITIONAL_FIELDS}
    assert {"Entry", "ScoringRun", "Row", "Outcome", "Pulled", "Provenance"} <= wide
    positional = []
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in wide:
                    positional.append(f"{module}:{node.lineno} {name}")
    assert positional == []
