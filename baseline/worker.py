"""One training process of a notebook's Run: a fresh interpreter started by baseline/launch.py.

    python -m baseline.worker RUN_FOLDER/launch

(started by `launch`, not by hand: it reads what `launch` wrote there). It reads
the kernel's import path and cell sources (kernel.json) so that tracebacks show
the notebook's lines, unpickles the settings and the notebook's functions
(lesson.pkl, written with cloudpickle), and runs baseline.train.run with them,
exactly as `python -m baseline.train` runs the shipped lesson. With several
processes, launch sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, which
Accelerate reads.

Its output goes to launch, which shows process 0's in the cell and writes each
process's to launch/process-N.log. An error is not printed: it is written to
launch/process-N.error.json (the error, the frames, the full traceback), from
which launch tells the student what failed, in a few lines.
"""

from __future__ import annotations

import json
import linecache
import os
import pickle
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KERNEL = "kernel.json"  # the kernel's sys.path and cell sources
PAYLOAD = "lesson.pkl"  # (TrainConfig, the lesson's functions, the edited ones' sources)
PARENT_ENV = "CIFAR10_KIT_PARENT"  # the kernel's pid: a worker outliving it exits
DYNAMIC = "<dynamic-code>"  # the file name cloudpickle >= 3.1 gives the code it sends


def report_path(folder: Path, rank: int) -> Path:
    return folder / f"process-{rank}.error.json"


def log_path(folder: Path, rank: int) -> Path:
    return folder / f"process-{rank}.log"


def exit_with_parent(parent: int) -> None:
    """Exit when the kernel that started this process is gone (a restarted or killed
    kernel): nobody reads the run's output any more, and it holds a GPU."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def load_kernel(folder: Path) -> dict:
    """Take the kernel's import path (a student's sys.path.append) and its cells' sources
    (so that a traceback of a function defined in a cell shows the cell's line); return
    what launch wrote in kernel.json."""
    kernel = json.loads((folder / KERNEL).read_text(encoding="utf-8"))
    sys.path.extend(entry for entry in kernel["sys_path"] if entry not in sys.path)
    for name, text in kernel["cells"].items():
        linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
    return kernel


def _functions(roots: list[Any]) -> Iterator[types.FunctionType]:
    """Every Python function reachable from `roots`: the functions, the globals their code
    names, their closures, the methods of classes among them, what decorators wrapped."""
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, type):
            todo += [v for v in vars(value).values() if isinstance(v, (types.FunctionType, type))]
        elif isinstance(value, types.FunctionType):
            yield value
            names = _names(value.__code__)
            todo += [v for k, v in value.__globals__.items() if k in names]
            todo += [cell.cell_contents for cell in value.__closure__ or () if _filled(cell)]
            todo += [getattr(value, "__wrapped__", None)]


def _names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
    except ValueError:
        return False
    return True


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _key(code: types.CodeType) -> str:
    return f"{code.co_name}:{code.co_firstlineno}"


def _by_value(function: types.FunctionType) -> bool:
    """Whether cloudpickle sends `function`'s code (a cell's, a nested one) rather than
    its module and name: it cannot be imported by name in another process."""
    found: Any = sys.modules.get(function.__module__)
    if function.__module__ == "__main__" or found is None:
        return True
    for part in function.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is not function


def code_files(functions: list[Any]) -> dict[str, str]:
    """Where the code sent by value (a cell's) was written: "name:first line" -> file
    name, for `functions` and what they use. cloudpickle (>= 3.1) sends such code as
    "<dynamic-code>"; with this, the worker gives it back its cell's file name, so its
    tracebacks show the cell's lines."""
    return {
        _key(code): code.co_filename
        for function in _functions(functions)
        if _by_value(function)
        for code in _codes(function.__code__)
    }


def restore_code_files(functions: list[Any], files: dict[str, str]) -> None:
    """Give the unpickled "<dynamic-code>" the file names `code_files` recorded."""

    def renamed(code: types.CodeType) -> types.CodeType:
        consts = tuple(renamed(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
        filename = code.co_filename
        if filename == DYNAMIC:
            filename = files.get(_key(code), filename)
        return code.replace(co_filename=filename, co_consts=consts)

    for function in _functions(functions):
        if any(code.co_filename == DYNAMIC for code in _codes(function.__code__)):
            function.__code__ = renamed(function.__code__)


def write_report(folder: Path, rank: int, report: dict) -> None:
    """The error report, whole or not at all (launch reads it once this process ended)."""
    path = report_path(folder, rank)
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(json.dumps({"rank": rank, "time": time.time(), **report}), "utf-8")
    staged.replace(path)


def error_report(exc: BaseException) -> dict:
    """What launch needs to describe a code error: the error's last line, every frame
    (file, line, function, source), and the full traceback for the log."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "kind": "error",
        "error": traceback.format_exception_only(type(exc), exc)[-1].strip(),
        "frames": [[f.filename, f.lineno, f.name, (f.line or "").strip()] for f in frames],
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def main(argv: list[str] | None = None) -> int:
    """Run one training process from what launch wrote in the folder argv[0]."""
    folder = Path((sys.argv[1:] if argv is None else argv)[0])
    rank = int(os.environ.get("RANK", "0"))
    if os.environ.get(PARENT_ENV):
        exit_with_parent(int(os.environ[PARENT_ENV]))
    # Imported here, after the checks above: torch takes seconds to import.
    from baseline.engine import Pieces
    from baseline.errors import OneLineError
    from baseline.train import run

    try:
        kernel = load_kernel(folder)
        cfg, functions, edited = pickle.loads((folder / PAYLOAD).read_bytes())
        restore_code_files(list(functions.values()), kernel["code_files"])
        run(cfg, Pieces(**functions, edited=edited), None, True)
        _leave_process_group()
    except OneLineError as exc:  # an expected failure (NaN loss, a bad submission, ...)
        write_report(folder, rank, {"kind": "stop", "message": str(exc)})
        return 1
    except KeyboardInterrupt:
        write_report(folder, rank, {"kind": "interrupted"})
        return 130
    except BaseException as exc:  # the student's code (or the kit's): told in a few lines
        write_report(folder, rank, error_report(exc))
        return 1
    return 0


def _leave_process_group() -> None:
    """Tear down torch.distributed's group after a run that ended well (torch warns at
    exit otherwise); after a failure, launch stops the processes instead, since tearing
    down a group whose other process died can wait for it."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
