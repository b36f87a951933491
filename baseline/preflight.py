"""Pre-flight: the GPUs this machine has, whether the installed torch can use them, and how
many training processes the notebook's Run starts; decided before anything touches CUDA.

`detect_machine` reads the GPUs' names and compute capabilities from NVML (the
`pynvml` module of nvidia-ml-py, which Kaggle's image installs; else
`nvidia-smi --query-gpu`), and the architectures the installed torch was built
for from `torch.cuda.get_arch_list()`, called with PYTORCH_NVML_BASED_CUDA_CHECK=1
so that neither initialises the CUDA driver in the notebook's kernel. `plan` turns
that description into a decision, so tests can describe a P100 or two T4s without
owning one:

* a GPU the installed torch has no kernels for (Kaggle's "GPU P100", compute
  capability 6.0, under a torch built for sm_75 and newer) stops with one line
  naming the accelerator to pick instead;
* one GPU trains, with a warning that the course baseline assumes two;
* two or more: one training process per GPU;
* no GPU: one process on the CPU;
* CIFAR10_KIT_PROCESSES=N: N processes on the CPU (gloo), for tests and for trying
  the two-process path without GPUs.

The launch starts fresh interpreters (baseline/launch.py), never forks of the kernel,
so no combination of accelerate and torch versions is refused here: the one known
to break (accelerate < 1.14's fork launcher on torch >= 2.9) is not on this path.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from baseline.errors import NotebookStop

PROCESSES_ENV = "CIFAR10_KIT_PROCESSES"
KAGGLE_ACCELERATOR = "Settings > Accelerator > GPU T4 x2"


def version_tuple(text: str) -> tuple[int, ...]:
    """The leading numbers of a version: "2.5.1+cu121" -> (2, 5, 1), "0.30" -> (0, 30)."""
    match = re.match(r"\d+(\.\d+)*", text)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


@dataclass(frozen=True)
class Gpu:
    """One GPU as NVML describes it."""

    name: str  # "Tesla T4"
    capability: tuple[int, int]  # CUDA compute capability: (7, 5) on a T4
    uuid: str = ""  # "GPU-5c0f...", what CUDA_VISIBLE_DEVICES may name it by


@dataclass(frozen=True)
class Machine:
    """What pre-flight decides from: the GPUs this process may use and the installed torch."""

    gpus: tuple[Gpu, ...]
    torch: str  # torch's version, "2.10.0+cu128"
    cuda_archs: tuple[str, ...] = ()  # torch.cuda.get_arch_list(): ("sm_75", ..., "compute_90")
    accelerate: str | None = None  # accelerate's version (shown; no version is refused)


@dataclass(frozen=True)
class Plan:
    """How Run trains on this machine."""

    processes: int
    force_cpu: bool  # CIFAR10_KIT_PROCESSES: train on the CPU even where there is a GPU
    text: str  # one line for the first cell


# ----------------------------------------------------------------------------
# The decision
# ----------------------------------------------------------------------------


def runs_on(capability: tuple[int, int], archs: tuple[str, ...]) -> bool:
    """Whether code built for `archs` runs on a GPU of this compute capability. A binary
    for sm_XY runs on capability X.Z for Z >= Y (sm_XYa: only on X.Y); PTX (compute_XY)
    is compiled by the driver for any capability >= X.Y (CUDA C++ Programming Guide,
    "Binary Compatibility" and "PTX Compatibility")."""
    for arch in archs:
        found = re.fullmatch(r"(sm|compute)_(\d+)(\d)([af]?)", arch)
        if found is None:
            continue
        kind, built, suffix = found[1], (int(found[2]), int(found[3])), found[4]
        if suffix == "a":
            runs = capability == built
        elif kind == "sm":
            runs = capability[0] == built[0] and capability[1] >= built[1]
        else:
            runs = capability >= built
        if runs:
            return True
    return False


def plan(machine: Machine, requested: str | None = None) -> Plan:
    """How many processes Run starts on `machine`, and the line that says so; a GPU the
    installed torch cannot use stops with one line. `requested`: CIFAR10_KIT_PROCESSES."""
    if requested is not None and requested.strip():
        processes = _processes(requested)
        return Plan(
            processes,
            True,
            f"{PROCESSES_ENV}={processes}: Run trains in {processes} process(es) on the CPU "
            "(gloo between them), whatever GPUs there are.",
        )
    gpus = machine.gpus
    if not gpus:
        return Plan(
            1,
            False,
            "No GPU: Run trains in one process on the CPU, far slower than the course's "
            f"GPU T4 x2 (on Kaggle: {KAGGLE_ACCELERATOR}).",
        )
    for index, gpu in enumerate(gpus):
        if not runs_on(gpu.capability, machine.cuda_archs):
            built = ", ".join(machine.cuda_archs) or "no GPU at all: a CPU-only build"
            raise NotebookStop(
                f"GPU {index} is a {gpu.name} (compute capability {_shown(gpu.capability)}), "
                f"which torch {machine.torch} has no kernels for (built for {built}): choose "
                f"{KAGGLE_ACCELERATOR} and run the notebook again."
            )
    names = _names(gpus)
    if len(gpus) == 1:
        return Plan(
            1,
            False,
            f"Warning: one GPU ({names}); the course baseline assumes two (GPU T4 x2). Run "
            "trains in one process on it: the same optimisation (the batch is global), on "
            f"one GPU instead of two. On Kaggle, {KAGGLE_ACCELERATOR} gives two.",
        )
    return Plan(
        len(gpus),
        False,
        f"GPUs: {names}: Run trains in {len(gpus)} processes, one per GPU.",
    )


def _processes(requested: str) -> int:
    try:
        processes = int(requested)
    except ValueError:
        processes = 0
    if processes < 1:
        raise NotebookStop(
            f"{PROCESSES_ENV}={requested!r}: must be a whole number of training processes, 1 "
            "or more (they run on the CPU); unset it to use the GPUs."
        )
    return processes


def _shown(capability: tuple[int, int]) -> str:
    return f"{capability[0]}.{capability[1]}"


def _names(gpus: tuple[Gpu, ...]) -> str:
    """ "2 x Tesla T4 (compute capability 7.5)", or each GPU when they differ."""
    kinds = sorted({(gpu.name, gpu.capability) for gpu in gpus})
    return ", ".join(
        f"{sum((g.name, g.capability) == kind for g in gpus)} x {kind[0]} "
        f"(compute capability {_shown(kind[1])})"
        for kind in kinds
    )


# ----------------------------------------------------------------------------
# Reading the machine (no CUDA initialisation)
# ----------------------------------------------------------------------------


def detect_machine() -> Machine:
    """The GPUs this process may use (NVML, else nvidia-smi; CUDA_VISIBLE_DEVICES applied)
    and the installed torch's version and CUDA architectures, without initialising CUDA."""
    found = _nvml_gpus()
    if found is None:
        found = _smi_gpus()
    gpus = visible(tuple(found or ()), os.environ.get("CUDA_VISIBLE_DEVICES"))
    archs: tuple[str, ...] = ()
    if gpus:  # torch is imported only where there is a GPU to check it against
        import torch

        with _nvml_based_cuda_check():
            archs = tuple(torch.cuda.get_arch_list())
    return Machine(gpus, _version("torch") or "missing", archs, _version("accelerate"))


def visible(gpus: tuple[Gpu, ...], devices: str | None) -> tuple[Gpu, ...]:
    """The GPUs CUDA_VISIBLE_DEVICES leaves (NVML lists them all): indices or UUID
    prefixes, read up to the first entry that names no GPU, as CUDA reads it."""
    if devices is None:
        return gpus
    chosen: list[Gpu] = []
    for entry in (part.strip() for part in devices.split(",")):
        if entry.isdigit() and int(entry) < len(gpus):
            match = [gpus[int(entry)]]
        else:
            match = [gpu for gpu in gpus if entry and gpu.uuid.startswith(entry)]
        if len(match) != 1 or match[0] in chosen:
            break
        chosen.append(match[0])
    return tuple(chosen)


def _nvml_gpus() -> list[Gpu] | None:
    """The GPUs NVML lists, or None where NVML (pynvml) is missing or fails."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        found = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name, uuid = pynvml.nvmlDeviceGetName(handle), pynvml.nvmlDeviceGetUUID(handle)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            found.append(Gpu(_text(name), (int(major), int(minor)), _text(uuid)))
        return found
    except pynvml.NVMLError:
        return None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value  # older pynvml: bytes


def _smi_gpus() -> list[Gpu] | None:
    """The GPUs `nvidia-smi --query-gpu` lists, or None where it is missing or fails."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap,uuid", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    found = []
    for line in done.stdout.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3 and re.fullmatch(r"\d+\.\d+", parts[1]):
            major, minor = parts[1].split(".")
            found.append(Gpu(parts[0], (int(major), int(minor)), parts[2]))
    return found


@contextlib.contextmanager
def _nvml_based_cuda_check() -> Iterator[None]:
    """torch.cuda's availability check through NVML, not cudaGetDeviceCount (which
    initialises the driver): some torch versions' get_arch_list() checks availability."""
    saved = os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK")
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK")
        else:
            os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = saved


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def preflight(machine: Machine | None = None, requested: str | None = None) -> Plan:
    """The first cell's hardware check: print how Run will train on this machine (or stop
    with one line on a GPU the installed torch cannot use); return the plan."""
    if machine is None:
        machine = detect_machine()
    if requested is None:
        requested = os.environ.get(PROCESSES_ENV)
    chosen = plan(machine, requested)
    print(chosen.text)
    return chosen
