"""The notebook's Run: the training processes are fresh Python interpreters, never forks of
the kernel, and each run leaves nothing behind.

Why not a fork (Accelerate's notebook_launcher, the kit's launch before issue 21): a
forked process cannot use CUDA once its parent has touched it, and on Kaggle's image the
parent has, whatever the student does. On torch >= 2.9 torch's own launcher asks
`torch.accelerator` for the device count in the parent (its NUMA auto-detection) before
accelerate < 1.14 forks, and a student's `torch.cuda.is_available()` initialises the
driver as well (cudaGetDeviceCount); every child then fails with "Cannot re-initialize
CUDA in forked subprocess". A fresh interpreter starts with no CUDA state.

How `launch` runs (docs/notebooks.md tells the student's side):

1. it takes the notebook's functions (a missing one is one line) and picks the number
   of processes (baseline.preflight.plan: one per GPU; CIFAR10_KIT_PROCESSES=N on the
   CPU);
2. it writes, in RUN/launch/: kernel.json (the kernel's sys.path and its cells' sources)
   and lesson.pkl (the settings and the functions, pickled by value with cloudpickle, so
   a function defined or redefined in a cell travels with the helpers and constants it
   uses);
3. it starts `python -m baseline.worker RUN/launch` once per process, each in a session
   of its own, with RANK, WORLD_SIZE, MASTER_ADDR and a free MASTER_PORT when there are
   several (what torchrun would set; Accelerate reads them);
4. process 0's output appears in the cell as it comes; each process's output goes to
   RUN/launch/process-N.log;
5. when a process fails, the others get GRACE_S seconds to report their own error, then
   all are stopped (SIGTERM to each process group, SIGKILL after STOP_S); the student
   gets the error in a few lines: the function and cell, the line, the error, and where
   each process's full traceback is. Ctrl-C (Kernel > Interrupt) stops them the same way.

Nothing of a run outlives it: its processes, and the port they shared, end with it, and
the error `launch` raises carries no traceback or context that points at them.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import linecache
import os
import queue
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import types
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baseline.config import TrainConfig
from baseline.errors import NotebookStop
from baseline.preflight import PROCESSES_ENV, detect_machine, plan
from baseline.worker import KERNEL, PARENT_ENV, PAYLOAD, code_files, log_path, report_path
from grader.core import progress
from grader.core.fileio import signals_held

LAUNCH_DIR = "launch"  # in the run's folder: what the processes read, their logs
GRACE_S = 5.0  # after one process fails, how long the others have to report their own error
STOP_S = 5.0  # after SIGTERM, how long a process has before SIGKILL
MAX_FRAMES = 4  # lines of the student's code shown for an error
DISTRIBUTED_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR")
KIT_ROOT = Path(__file__).resolve().parents[1]  # the folder (or cifar10_kit.zip) of baseline/

if TYPE_CHECKING:
    from baseline.engine import Pieces


def launch(cfg: TrainConfig, lesson: Mapping[str, Any] | Any, processes: int | None = None) -> Path:
    """Train with the notebook's own functions (`lesson`: its globals()), in one fresh
    process per GPU (or `processes`); return the run's folder.

    Running it again starts the run over in the same folder: the earlier run's files are
    replaced once the new run's set-up has passed every check. With resume=True in the
    settings, it continues the earlier run from its last finished epoch instead.
    """
    # Imported here: the first cell imports this module before it may upgrade torch.
    from baseline.engine import Pieces

    pieces = Pieces.of(lesson)  # a missing function: one line, before anything starts
    processes, cfg = choose_processes(cfg, processes)
    payload = pickled(cfg, pieces)  # a function that cannot travel: one line, likewise
    kernel = {
        "sys_path": [str(entry) for entry in sys.path],
        "cells": kernel_cells()[0],
        "code_files": code_files(list(pieces.functions.values())),
    }
    folder = Path(cfg.out) / LAUNCH_DIR
    clear(folder)
    (folder / PAYLOAD).write_bytes(payload)
    (folder / KERNEL).write_text(json.dumps(kernel), encoding="utf-8")
    problem = run_processes(folder, processes)
    if problem is not None:
        raise NotebookStop(problem)  # raised here, outside any except: no context kept
    return Path(cfg.out)


def choose_processes(cfg: TrainConfig, processes: int | None) -> tuple[int, TrainConfig]:
    """How many processes, and the settings they get: one per GPU (baseline.preflight),
    one with --cpu, CIFAR10_KIT_PROCESSES=N on the CPU; `processes` if given."""
    if processes is not None:
        return processes, cfg
    requested = os.environ.get(PROCESSES_ENV)
    if cfg.cpu and not requested:
        return 1, cfg
    chosen = plan(detect_machine(), requested)
    return chosen.processes, replace(cfg, cpu=True) if chosen.force_cpu else cfg


def clear(folder: Path) -> None:
    """Make RUN/launch/ and remove what an earlier launch wrote there (only those files:
    a log of a process this run does not start would mislead)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        ours = path.name in (KERNEL, PAYLOAD) or path.name.startswith("process-")
        if ours and path.is_file() and not path.is_symlink():
            path.unlink()


def pickled(cfg: TrainConfig, pieces: Pieces) -> bytes:
    """The settings and the lesson's functions, by value (cloudpickle); a function that
    cannot travel to the training processes is one line naming it and what it uses."""
    import cloudpickle

    try:
        return cloudpickle.dumps((cfg, pieces.functions, pieces.edited))
    except Exception:
        problem = unpicklable(pieces.functions)
    raise NotebookStop(problem)  # outside the except: no context kept alive


def unpicklable(functions: Mapping[str, Any]) -> str:
    """Which function, and which global it uses, cannot be pickled; what to do. The
    functions the entry points call (the lesson's helpers) are searched too: they travel
    with them."""
    import cloudpickle

    seen: set[int] = set()
    for name, function in functions.items():
        problem = _why_unpicklable(cloudpickle, name, function, seen)
        if problem is not None:
            return problem
    return "the notebook's functions cannot be sent to the training processes."


def _why_unpicklable(cloudpickle: Any, name: str, function: Any, seen: set[int]) -> str | None:
    """Why `function` cannot travel, naming the global it uses that cannot (searching the
    functions it calls first), or None when it can (or was searched already)."""
    error = _pickle_error(cloudpickle, function)
    if error is None or id(function) in seen:
        return None
    seen.add(id(function))
    code = getattr(function, "__code__", None)
    names = code.co_names if code is not None else ()
    namespace = getattr(function, "__globals__", {})
    for used in names:
        if used not in namespace:
            continue
        value = namespace[used]
        if isinstance(value, types.FunctionType):  # a helper: the culprit may be its global
            problem = _why_unpicklable(cloudpickle, used, value, seen)
            if problem is not None:
                return problem
            continue
        used_error = _pickle_error(cloudpickle, value)
        if used_error is not None:
            return (
                f"{name} uses {used} (a {type(value).__name__}), which "
                f"cannot be sent to the training processes ({used_error}): create it "
                f"inside {name}, or in a function it calls."
            )
    return (
        f"{name} cannot be sent to the training processes ({error}): define it with `def` "
        "in a cell."
    )


def _pickle_error(cloudpickle: Any, value: Any) -> str | None:
    try:
        cloudpickle.dumps(value)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# ----------------------------------------------------------------------------
# The kernel's cells
# ----------------------------------------------------------------------------


def kernel_cells() -> tuple[dict[str, str], dict[str, str]]:
    """The sources of the cells this kernel ran, by the file name their code carries,
    and a label for each: "cell In[14]", the number the notebook shows beside it (IPython
    >= 8 records it; for Kaggle's IPython 7, which names cells by a hash of their text,
    the last run of the same text in the kernel's history), else the cell's first line."""
    shell = _shell()
    if shell is None:
        return {}, {}
    numbers = dict(getattr(shell.compile, "_filename_map", {}))  # IPython >= 8
    kept = getattr(linecache, "_ipython_cache", {})  # IPython 7
    history = getattr(shell, "history_manager", None)
    runs = [getattr(history, name, []) for name in ("input_hist_parsed", "input_hist_raw")]
    cells, labels = {}, {}
    for name in {*numbers, *kept}:
        entry = linecache.cache.get(name) or kept.get(name)
        if not entry or len(entry) < 3:
            continue
        text = cells[name] = "".join(entry[2])
        number = numbers.get(name) or _last_run(text, runs)
        labels[name] = f"cell In[{number}]" if number else _first_line(text)
    return cells, labels


def _last_run(text: str, runs: list[list[str]]) -> int | None:
    """The execution count of the last run of `text` in the kernel's input history."""
    for inputs in runs:
        found = [n for n, source in enumerate(inputs) if n and source.strip() == text.strip()]
        if found:
            return found[-1]
    return None


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    with contextlib.suppress(Exception):
        return ipython.get_ipython()
    return None


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f'the cell "{line[:40]}{"..." if len(line) > 40 else ""}"'


# ----------------------------------------------------------------------------
# The processes
# ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free now on this machine, for the processes' rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(processes: int) -> list[dict[str, str]]:
    """Each process's environment: the kernel's, the kit first on the import path,
    unbuffered UTF-8 output, the kernel's progress display, and the rendezvous."""
    base = {k: v for k, v in os.environ.items() if k not in (*DISTRIBUTED_ENV, "MASTER_PORT")}
    path = [str(KIT_ROOT), *filter(None, base.get("PYTHONPATH", "").split(os.pathsep))]
    base.update(
        PYTHONPATH=os.pathsep.join(path),
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        **{PARENT_ENV: str(os.getpid()), progress.ENV: progress.mode()},
    )
    if processes == 1:
        return [base]  # as `python -m baseline.train` runs: no process group at all
    shared = {
        "WORLD_SIZE": str(processes),
        "LOCAL_WORLD_SIZE": str(processes),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }
    return [
        {**base, **shared, "RANK": str(rank), "LOCAL_RANK": str(rank)} for rank in range(processes)
    ]


class Pump(threading.Thread):
    """Copies one process's output to its log file and, for process 0, to `shown`."""

    def __init__(self, stream: Any, log: Path, shown: queue.Queue | None) -> None:
        super().__init__(name=f"pump-{log.name}", daemon=True)
        self.stream, self.log, self.shown = stream, log, shown

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        with self.log.open("ab") as log:
            while chunk := self.stream.read(1 << 16):
                log.write(chunk)
                log.flush()
                if self.shown is not None:
                    self.shown.put(decoder.decode(chunk))
        if self.shown is not None:
            self.shown.put(decoder.decode(b"", final=True))


def run_processes(folder: Path, processes: int) -> str | None:
    """Start the processes, show process 0's output, wait; stop them all when one fails
    or on Ctrl-C. None when every process ended well, else what happened, in a few lines.
    (`folder` is RUN/launch.)"""
    shown: queue.Queue = queue.Queue()
    started: list[subprocess.Popen] = []
    pumps: list[Pump] = []
    interrupted, first = False, None
    try:
        for rank, env in enumerate(environment(processes)):
            process = subprocess.Popen(
                [sys.executable, "-m", "baseline.worker", str(folder)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                bufsize=0,
                start_new_session=True,  # its own process group: stopped whole, not by Jupyter
            )
            started.append(process)
            pumps.append(Pump(process.stdout, log_path(folder, rank), shown if rank == 0 else None))
            pumps[-1].start()
        first = supervise(started, shown)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with signals_held():  # a second Ctrl-C must not leave processes running
            stop(started)
        for pump in pumps:
            pump.join(timeout=STOP_S)
        show(shown)
    if interrupted:
        return interrupted_text(folder.parent)
    codes = [process.returncode for process in started]
    if first is None and all(code == 0 for code in codes):
        return None
    return failure(folder, codes, first)


def supervise(started: list[subprocess.Popen], shown: queue.Queue) -> int | None:
    """Show process 0's output until every process has ended, or until GRACE_S after the
    first one failed; return that one's rank (None when none failed)."""
    first, deadline = None, None
    while True:
        show(shown, wait=0.1)
        codes = [process.poll() for process in started]
        if first is None:
            failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                first, deadline = failed[0], time.monotonic() + GRACE_S
        if all(code is not None for code in codes):
            return first
        if deadline is not None and time.monotonic() > deadline:
            return first


def show(shown: queue.Queue, wait: float = 0.0) -> None:
    """Print what process 0 wrote (from this thread: a notebook puts a cell's output
    where the cell's own thread prints it)."""
    with contextlib.suppress(queue.Empty):
        text = shown.get(timeout=wait) if wait else shown.get_nowait()
        while True:
            sys.stdout.write(text)
            text = shown.get_nowait()
    sys.stdout.flush()


def stop(started: list[subprocess.Popen]) -> None:
    """End every process and whatever it started: SIGTERM to each process group, SIGKILL
    after STOP_S. (Each worker leads its group: start_new_session.)"""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for process in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signum)  # the group outlives an exited leader
        deadline = time.monotonic() + STOP_S
        for process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        if all(process.returncode is not None for process in started):
            break


# ----------------------------------------------------------------------------
# What failed, in a few lines
# ----------------------------------------------------------------------------


def failure(folder: Path, codes: list[int | None], first: int | None) -> str:
    """The message for a run that failed: the earliest error any process reported (its
    full traceback appended to that process's log), else the first process that ended
    badly and how."""
    reports = []
    for rank in range(len(codes)):
        path = report_path(folder, rank)
        if path.is_file():
            report = json.loads(path.read_text(encoding="utf-8"))
            reports.append(report)
            if report.get("traceback"):
                with log_path(folder, rank).open("a", encoding="utf-8") as log:
                    log.write(report["traceback"])
    logs = [log_path(folder, rank) for rank in range(len(codes))]
    reports = [report for report in reports if report["kind"] != "interrupted"]
    if reports:
        root = min(reports, key=lambda report: report["time"])
        if root["kind"] == "stop":
            return root["message"]  # the kit's own one line (NaN loss, bad submission...)
        return describe_error(root, len(codes), logs, kernel_cells()[1])
    rank = first if first is not None else next(r for r, c in enumerate(codes) if c != 0)
    return exit_text(rank, len(codes), codes[rank], logs[rank])


def describe_error(report: dict, processes: int, logs: list[Path], labels: dict[str, str]) -> str:
    """An error in the training code: the error; each of the student's frames, innermost
    first (function, cell or file, line, source); where the full tracebacks are."""
    frames = [tuple(frame) for frame in report["frames"]]
    mine = [frame for frame in frames if not is_library(frame[0])] or frames[-1:]
    lines = [f"{report['error']} (training process {report['rank']} of {processes})"]
    inside = bool(frames) and frames[-1] not in mine  # raised in a library the code called
    if inside:
        filename, number, function, _ = frames[-1]
        lines.append(f"  raised in {function}, {_where(filename, labels)}, line {number}")
    for order, (filename, number, function, source) in enumerate(reversed(mine[-MAX_FRAMES:])):
        source = source or linecache.getline(filename, number).strip()
        lead = "called from" if order or inside else "in"
        lines.append(f"  {lead} {function}, {_where(filename, labels)}, line {number}: {source}")
    shown = ", ".join(str(log) for log in logs)
    lines.append(f"The full traceback of each process: {shown}")
    lines.append("Fix the code, run its cell, then run this cell again.")
    return "\n".join(lines)


def is_library(filename: str) -> bool:
    """Whether a frame's file is library code (Python's, an installed package's, the kit's
    engine), as opposed to the student's: a cell, baseline/lesson.py, a file of theirs."""
    if filename == str(KIT_ROOT / "baseline" / "lesson.py"):
        return False
    if filename.startswith("<frozen") or _installed(filename) is not None:
        return True
    places = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    places |= {str(KIT_ROOT / "baseline"), str(KIT_ROOT / "grader")}
    return any(filename.startswith(place + os.sep) for place in places)


def _installed(filename: str) -> str | None:
    """The path of an installed package's file inside site-packages (dist-packages on
    Debian and Kaggle), e.g. "torch/nn/modules/conv.py"; None for other files."""
    parts = Path(filename).parts
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in ("site-packages", "dist-packages"):
            return "/".join(parts[index + 1 :])
    return None


def _where(filename: str, labels: dict[str, str]) -> str:
    """A frame's place as the student reads it: its cell, or a short path."""
    if filename in labels:
        return labels[filename]
    installed = _installed(filename)
    if installed is not None:
        return installed
    path = Path(filename)
    for base in (KIT_ROOT, Path.cwd(), Path(sysconfig.get_paths()["stdlib"])):
        with contextlib.suppress(ValueError):
            return path.relative_to(base).as_posix()
    return filename


def exit_text(rank: int, processes: int, code: int | None, log: Path) -> str:
    """A process that ended without a Python error (killed, crashed, out of memory)."""
    if code is not None and code < 0:
        how = f"was killed by signal {-code} ({signal.Signals(-code).name})"
        if -code == signal.SIGKILL:
            how += ", often the machine running out of memory"
    else:
        how = f"exited with code {code}"
    tail = [line for line in _tail(log) if line.strip()]
    last = f" Its last line: {tail[-1].strip()}" if tail else ""
    return (
        f"training process {rank} of {processes} {how}, without a Python error. Its output "
        f"is in {log}.{last}"
    )


def _tail(log: Path, size: int = 4096) -> list[str]:
    with contextlib.suppress(OSError), log.open("rb") as f:
        f.seek(max(f.seek(0, os.SEEK_END) - size, 0))
        return f.read().decode("utf-8", "replace").splitlines()
    return []


def interrupted_text(out: Path) -> str:
    """After Ctrl-C: the processes are stopped; what can continue, in the notebook's words."""
    from baseline.checkpoint import checkpoint_dir, epochs_in_checkpoint

    epochs = epochs_in_checkpoint(out)
    if epochs:
        return (
            f"Interrupted: the training processes are stopped. {checkpoint_dir(out)} holds "
            f"{epochs} finished epoch(s): set resume=True in the settings and run this cell "
            "again to continue."
        )
    return (
        "Interrupted before the first epoch ended: the training processes are stopped, and "
        "there is no checkpoint to resume from; run this cell again to start over."
    )
