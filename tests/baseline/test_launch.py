"""The notebook's Run as Kaggle runs it: pre-flight decisions for the machines Kaggle lends,
fresh training processes (never forks of the kernel), a student's mistake told in a few
lines, and runs that leave nothing behind (one kernel: a failing run, then two good ones)."""

from __future__ import annotations

import json
import linecache
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from baseline.errors import NotebookStop
from baseline.preflight import Gpu, Machine, Plan, detect_machine, plan, preflight, runs_on, visible
from tests.helpers import ROOT, small

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
KAGGLE_TORCH = "2.10.0+cu128"  # googlecolab/backend-info pip-freeze.gpu.txt, May 2026
# The architectures Kaggle's torch lists when it meets a P100 (Kaggle/docker-python#1546).
KAGGLE_ARCHS = ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
T4 = Gpu("Tesla T4", (7, 5), "GPU-aaaa")
P100 = Gpu("Tesla P100-PCIE-16GB", (6, 0), "GPU-bbbb")


# ----------------------------------------------------------------------------
# Pre-flight: described machines
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("accelerate", ["1.13.0", "1.14.0"])
def test_preflight_decides_for_each_machine_kaggle_lends(accelerate, capsys):
    """T4 x2, one T4, a P100 and the CPU, under Kaggle's torch 2.10 with the accelerate
    before and after its fork fix: the launch forks nothing, so both versions run."""

    def machine(*gpus: Gpu) -> Machine:
        return Machine(gpus, KAGGLE_TORCH, KAGGLE_ARCHS, accelerate)

    assert preflight(machine(T4, T4), "") == Plan(
        2,
        False,
        "GPUs: 2 x Tesla T4 (compute capability 7.5): Run trains in 2 processes, one per GPU.",
    )
    assert preflight(machine(T4), "") == Plan(
        1,
        False,
        "Warning: one GPU (1 x Tesla T4 (compute capability 7.5)); the course baseline assumes "
        "two (GPU T4 x2). Run trains in one process on it: the same optimisation (the batch is "
        "global), on one GPU instead of two. On Kaggle, Settings > Accelerator > GPU T4 x2 "
        "gives two.",
    )
    assert preflight(machine(), "") == Plan(
        1,
        False,
        "No GPU: Run trains in one process on the CPU, far slower than the course's GPU T4 x2 "
        "(on Kaggle: Settings > Accelerator > GPU T4 x2).",
    )
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["GPUs", "Warning", "No GPU"]
    with pytest.raises(NotebookStop) as info:
        preflight(machine(P100), "")
    assert str(info.value) == (
        "GPU 0 is a Tesla P100-PCIE-16GB (compute capability 6.0), which torch 2.10.0+cu128 has "
        "no kernels for (built for sm_70, sm_75, sm_80, sm_86, sm_90, sm_100, sm_120): choose "
        "Settings > Accelerator > GPU T4 x2 and run the notebook again."
    )
    assert info.value._render_traceback_() == [f"Error: {info.value}"]
    assert capsys.readouterr().out == ""  # nothing printed before the stop


def test_preflight_refuses_a_torch_without_cuda_and_bad_process_counts():
    with pytest.raises(NotebookStop) as info:
        plan(Machine((T4, T4), "2.10.0+cpu", ()), None)
    assert str(info.value) == (
        "GPU 0 is a Tesla T4 (compute capability 7.5), which torch 2.10.0+cpu has no kernels "
        "for (built for no GPU at all: a CPU-only build): choose Settings > Accelerator > GPU "
        "T4 x2 and run the notebook again."
    )
    # CIFAR10_KIT_PROCESSES: N processes on the CPU, whatever the GPUs.
    assert plan(Machine((T4, T4), KAGGLE_TORCH, KAGGLE_ARCHS), "3") == Plan(
        3,
        True,
        "CIFAR10_KIT_PROCESSES=3: Run trains in 3 process(es) on the CPU (gloo between them), "
        "whatever GPUs there are.",
    )
    for wrong in ("two", "0", "-1"):
        with pytest.raises(NotebookStop) as info:
            plan(Machine((), "2.14.1", ()), wrong)
        assert str(info.value) == (
            f"CIFAR10_KIT_PROCESSES={wrong!r}: must be a whole number of training processes, 1 "
            "or more (they run on the CPU); unset it to use the GPUs."
        )


@pytest.mark.parametrize(
    ("capability", "archs", "runs"),
    [
        ((7, 5), ("sm_75",), True),  # the T4, with a binary for it
        ((8, 9), ("sm_86",), True),  # a binary runs on later minors of its major
        ((8, 0), ("sm_86",), False),  # not on earlier ones
        ((9, 0), ("sm_86",), False),  # nor on another major
        ((9, 0), ("sm_80", "compute_80"), True),  # PTX: compiled by the driver for >= 8.0
        ((7, 5), ("compute_80",), False),  # but not for older GPUs
        ((9, 0), ("sm_90a",), True),  # arch-specific: exactly 9.0
        ((10, 0), ("sm_90a",), False),
        ((6, 0), KAGGLE_ARCHS, False),  # the P100
        ((12, 0), KAGGLE_ARCHS, True),  # Kaggle's RTX Pro 6000
    ],
)
def test_a_gpu_runs_code_built_for_its_major_at_or_below_its_minor(capability, archs, runs):
    assert runs_on(capability, archs) is runs


def test_cuda_visible_devices_picks_gpus_as_cuda_does():
    first, second = Gpu("Tesla T4", (7, 5), "GPU-aaaa"), Gpu("Tesla T4", (7, 5), "GPU-bbbb")
    both = (first, second)
    assert visible(both, None) == both
    assert visible(both, "") == ()
    assert visible(both, "1") == (second,)
    assert visible(both, "GPU-bb,0") == (second, first)
    assert visible(both, "0,7,1") == (first,)  # CUDA reads up to the first invalid entry
    assert visible(both, "0,0") == (first,)


def test_the_gpus_are_read_from_nvidia_smi_where_nvml_is_missing(tmp_path, monkeypatch):
    """Without pynvml (this environment has none), nvidia-smi's CSV: a stand-in script
    that prints what `nvidia-smi --query-gpu=name,compute_cap,uuid` prints on T4 x2."""
    pytest.importorskip("torch")
    if "pynvml" in sys.modules or _importable("pynvml"):
        pytest.skip("pynvml is installed: NVML is read first")
    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "--query-gpu=name,compute_cap,uuid" ] || exit 9\n'
        "echo 'Tesla T4, 7.5, GPU-aaaa'\necho 'Tesla T4, 7.5, GPU-bbbb'\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    found = detect_machine()
    assert found.gpus == (T4, Gpu("Tesla T4", (7, 5), "GPU-bbbb"))
    assert "sm_75" in found.cuda_archs  # the installed torch's list, read without a GPU
    assert plan(found).processes == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert detect_machine().gpus == (Gpu("Tesla T4", (7, 5), "GPU-bbbb"),)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# ----------------------------------------------------------------------------
# The launch, called as the notebook calls it
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from tests.cifar_fixtures import tiny_competition

    return tiny_competition(tmp_path_factory.mktemp("launch"), 60, data_seed=5, split_seed=4)


def as_cells(source: str, name: str) -> dict:
    """baseline/lesson.py's code run as a notebook runs it: in __main__, compiled under a
    cell's file name whose source linecache holds (as IPython does), so cloudpickle sends
    every function by value."""
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    namespace = {"__name__": "__main__"}
    exec(compile(source, name, "exec"), namespace)
    return namespace


TYPO = ("x = random_flip(x, generator)", "x = random_flp(x, generator)")


@pytest.mark.slow
def test_a_code_mistake_in_one_process_is_a_few_lines(bundle, tmp_path, capsys):
    """A typo the transform check cannot catch (in loss_fn, first called by the training
    loop): the run starts, then stops with the error, the student's two lines, the log."""
    typo = ("return F.cross_entropy(logits, targets,", "return cross_entropy(logits, targets,")
    source = (ROOT / "baseline" / "lesson.py").read_text().replace(*typo)
    lines = source.splitlines()
    cell = "<cell-typo>"
    number = next(n for n, line in enumerate(lines, 1) if "return cross_entropy(" in line)
    calling = lines.index("            loss = loss_fn(logits, targets, cfg)") + 1
    out = tmp_path / "run"
    with pytest.raises(NotebookStop) as info:
        from baseline.launch import launch

        launch(small(bundle, out), as_cells(source, cell), processes=1)
    logs = out / "launch" / "process-0.log"
    assert str(info.value) == (
        "NameError: name 'cross_entropy' is not defined (training process 0 of 1)\n"
        f"  in loss_fn, {cell}, line {number}: {lines[number - 1].strip()}\n"
        f"  called from train_one_epoch, {cell}, line {calling}: loss = loss_fn(logits, "
        "targets, cfg)\n"
        f"The full traceback of each process: {logs}\n"
        "Fix the code, run its cell, then run this cell again."
    )
    # The full traceback is in the log, after the process's own output, which the cell
    # showed as it came (the banner names the edited function).
    log = logs.read_text()
    assert log.index("Training run -> ") < log.index("Traceback (most recent call last):")
    assert log.rstrip().endswith("NameError: name 'cross_entropy' is not defined")
    assert f'File "{cell}", line {number}, in loss_fn' in log
    assert "  code       edited: loss_fn " in capsys.readouterr().out
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_an_error_raised_inside_a_library_names_it_then_the_students_lines():
    """A shape mistake surfaces inside torch: the cell shows where torch raised it, then the
    student's own lines (cells, baseline/lesson.py); the engine's frames are left out."""
    from baseline.launch import KIT_ROOT, describe_error

    site = "/usr/local/lib/python3.12/dist-packages"  # where Kaggle's packages are
    error = "RuntimeError: expected input[64, 32, 32, 3] to have 3 channels, but got 32"
    report = {
        "rank": 1,
        "error": error,
        "frames": [
            [f"{KIT_ROOT}/baseline/engine.py", 289, "<lambda>", "summary = guard_memory(...)"],
            ["/tmp/ipykernel_7/123.py", 12, "train_one_epoch", "logits = model(x)"],
            [f"{site}/torch/nn/modules/module.py", 1773, "_wrapped_call_impl", "return ..."],
            [f"{KIT_ROOT}/baseline/lesson.py", 80, "forward", ""],
            [f"{site}/torch/nn/modules/conv.py", 543, "_conv_forward", "return F.conv2d("],
        ],
    }
    logs = [Path("run/launch/process-0.log"), Path("run/launch/process-1.log")]
    lesson_line = linecache.getline(str(KIT_ROOT / "baseline" / "lesson.py"), 80).strip()
    assert describe_error(report, 2, logs, {"/tmp/ipykernel_7/123.py": "cell In[11]"}) == (
        f"{error} (training process 1 of 2)\n"
        "  raised in _conv_forward, torch/nn/modules/conv.py, line 543\n"
        f"  called from forward, baseline/lesson.py, line 80: {lesson_line}\n"
        "  called from train_one_epoch, cell In[11], line 12: logits = model(x)\n"
        "The full traceback of each process: run/launch/process-0.log, run/launch/process-1.log\n"
        "Fix the code, run its cell, then run this cell again."
    )


def test_a_global_that_cannot_travel_is_named(bundle, tmp_path):
    from baseline.launch import launch

    namespace = as_cells((ROOT / "baseline" / "lesson.py").read_text(), "<cell-lock>")
    namespace["LOCK"] = threading.Lock()
    exec(
        compile(
            "def loss_fn(logits, targets, cfg):\n"
            "    with LOCK:\n"
            "        return F.cross_entropy(logits, targets)\n",
            "<cell-lock-2>",
            "exec",
        ),
        namespace,
    )
    with pytest.raises(NotebookStop) as info:
        launch(small(bundle, tmp_path / "run"), namespace, processes=1)
    assert str(info.value) == (
        "loss_fn uses LOCK (a lock), which cannot be sent to the training processes (TypeError: "
        "cannot pickle '_thread.lock' object): create it inside loss_fn, or in a function it "
        "calls."
    )
    assert info.value.__context__ is None
    assert not (tmp_path / "run").exists()  # nothing written, nothing started


@pytest.mark.slow
def test_a_process_that_dies_without_a_python_error_is_named(bundle, tmp_path, monkeypatch):
    from baseline import lesson
    from baseline.launch import launch

    monkeypatch.setenv("CIFAR10_KIT_FAIL_AT", "epoch:middle")  # os._exit(3) in process 0
    out = tmp_path / "run"
    with pytest.raises(NotebookStop) as info:
        launch(small(bundle, out), vars(lesson), processes=1)
    assert str(info.value) == (
        "training process 0 of 1 exited with code 3, without a Python error. Its output is in "
        f"{out / 'launch' / 'process-0.log'}. Its last line: CIFAR10_KIT_FAIL_AT: stopping at "
        "epoch:middle"
    )


STOPPED = """
import os, sys, time
from baseline import lesson
from baseline.config import TrainConfig
from baseline.notebook import NotebookStop, launch
data, out = sys.argv[1], sys.argv[2]

def train_one_epoch(t, epoch):  # sent by value: writes its pid, then waits to be stopped
    import os, time
    from pathlib import Path
    Path(out, f"pid-{os.getpid()}").write_text("")
    time.sleep(600)

namespace = {**vars(lesson), "train_one_epoch": train_one_epoch}
cfg = TrainConfig(data=data, out=out, model="resnet18", weights="none", image_size=32,
                  train_limit=200, epochs=1, batch_size=32, cpu=True)
try:
    launch(cfg, namespace, processes=2)
except NotebookStop as stop:
    print("stop:", stop, flush=True)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "kernel killed"])
@pytest.mark.slow
def test_no_training_process_outlives_ctrl_c_or_its_kernel(how, bundle, tmp_path):
    """The kernel (here a script) interrupted: it stops both processes and says what can
    continue. The kernel killed (a restart): the processes notice within seconds and exit."""
    out = tmp_path / "run"
    out.mkdir()
    kernel = subprocess.Popen(
        [sys.executable, "-c", STOPPED, str(bundle), str(out)],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while len(pids := list(out.glob("pid-*"))) < 2:
            assert time.monotonic() < deadline and kernel.poll() is None, kernel.stdout.read()
            time.sleep(0.5)
        workers = [int(path.name[4:]) for path in pids]
        kernel.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
        printed = kernel.communicate(timeout=60)[0]
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        kernel.kill()
        for path in out.glob("pid-*"):
            if _alive(pid := int(path.name[4:])):
                os.kill(pid, signal.SIGKILL)
    if how == "ctrl-c":
        assert printed.splitlines()[-1] == (
            "stop: Interrupted before the first epoch ended: the training processes are stopped, "
            "and there is no checkpoint to resume from; run this cell again to start over."
        )


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# ----------------------------------------------------------------------------
# One kernel: a failing run, the fix, two good runs
# ----------------------------------------------------------------------------

PROBE = """
# The student's line that made a fork launcher fail, and a module only this kernel has:
# a fork would inherit it, a fresh interpreter cannot.
import json
import torch
torch.cuda.is_available()
sys.modules["kernel_only_marker"] = sys
KERNEL_PID = os.getpid()
_shipped_cpu_augmentation = cpu_augmentation


def cpu_augmentation(cfg):
    \"\"\"Records which process runs it, then does what the shipped one does.\"\"\"
    main = sys.modules["__main__"]
    probe = {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "main": getattr(main.__spec__, "name", None),
        "marker": "kernel_only_marker" in sys.modules,
    }
    Path(cfg.out).parent.joinpath(f"probe-{os.getpid()}.json").write_text(json.dumps(probe))
    return _shipped_cpu_augmentation(cfg)


print("kernel pid", KERNEL_PID)
"""

LOGS = """
logs = sorted(Path(cfg.out, "launch").glob("process-*.log"))
line = "    x = random_flp(x, generator)  # RandomHorizontalFlip(0.5)\\n"
print("logs", len(logs), all(line in log.read_text() for log in logs))
"""

CHILDREN = """
children = []
for entry in Path("/proc").iterdir():
    if entry.name.isdigit():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[1] == str(os.getpid()) and stat[0] != "Z":
            children.append(int(entry.name))
print("children", children)
"""


def run_kernel(notebook, env: dict[str, str], where: Path) -> None:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(where)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value


def cell_text(cell) -> str:
    """What a cell showed: its streams, and an error as IPython renders it."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback) + "\n")
    return "".join(parts)


@pytest.mark.slow
def test_in_one_kernel_a_typo_then_the_fix_then_two_runs(bundle, tmp_path):
    """Issue 21's student, on two processes: a typo in train_transform is a few lines naming
    it; re-running the original cell, then Run twice, trains twice; the training processes
    were fresh interpreters, not forks of the kernel, and none is left afterwards."""
    notebook = nbformat.read(ROOT / "kernels/baseline/baseline.ipynb", as_version=4)
    cells = notebook.cells
    run = next(
        i for i, c in enumerate(cells) if c.source.startswith("out = launch(cfg, globals())")
    )
    (transforms,) = [c for c in cells if c.source.startswith("# A transform takes")]
    original = transforms.source
    assert TYPO[0] in original
    transforms.source = original.replace(*TYPO)
    notebook.cells = [
        *cells[: run + 1],  # everything up to Run, with the typo: Run fails
        nbformat.v4.new_code_cell(LOGS),
        nbformat.v4.new_code_cell(PROBE),
        nbformat.v4.new_code_cell(original),  # the cell put back and run again
        nbformat.v4.new_code_cell(
            "out = launch(cfg, globals())\n(out / 'submission.csv').read_bytes()"
        ),
        nbformat.v4.new_code_cell(
            "out = launch(cfg, globals())\n(out / 'submission.csv').read_bytes()"
        ),
        nbformat.v4.new_code_cell(CHILDREN),
    ]
    out = tmp_path / "run"
    env = {
        "CIFAR10_KIT_SMOKE": "1",
        "CIFAR10_KIT_DATA": str(bundle),
        "CIFAR10_KIT_OUT": str(out),
        "CIFAR10_KIT_PROCESSES": "2",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    run_kernel(notebook, env, tmp_path)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
    # The picture of what train_transform makes (run in the kernel) fails first, then Run.
    (picture,) = [c for c in code if "transformed_grid(" in c.source]
    assert errors == [picture, notebook.cells[run]], [cell_text(c)[-2000:] for c in errors]
    # The failing Run: the error in a few lines, naming the typo, the function, the cell.
    failed = cell_text(notebook.cells[run])
    (error,) = [o for o in notebook.cells[run].outputs if o.output_type == "error"]
    shown = "\n".join(error.traceback).splitlines()
    assert len(shown) <= 8, shown
    assert shown[0] in [
        f"Error: NameError: name 'random_flp' is not defined (training process {rank} of 2)"
        for rank in (0, 1)  # both fail; whichever reported first
    ]
    # The number the notebook shows beside the cell (IPython 8 records it; for IPython 7,
    # as on Kaggle, it is read from the kernel's history).
    number = next(c.execution_count for c in code if c.source.startswith("# A transform takes"))
    line = transforms.source.splitlines().index(
        "    x = random_flp(x, generator)  # RandomHorizontalFlip(0.5)"
    )
    line += 1  # counted from 1, as the notebook shows
    # The engine calls train_transform on 16 images before training (baseline/built.py),
    # so the typo stops the run there: the one line of the student's is the cell's.
    assert shown[1:] == [
        f"  in train_transform, cell In[{number}], line {line}: x = random_flp(x, generator)  "
        "# RandomHorizontalFlip(0.5)",
        f"The full traceback of each process: {out}/launch/process-0.log, "
        f"{out}/launch/process-1.log",
        "Fix the code, run its cell, then run this cell again.",
    ]
    # Each log holds that process's full traceback, with the cell's lines (read before
    # the next run replaces the logs).
    assert cell_text(notebook.cells[run + 1]) == "logs 2 True\n"
    # All the cell showed, but for a banner (the run's settings, however many): <= 25 lines.
    lines = failed.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("Training run -> ")]
    end = starts[0] + 1 if starts else 0
    while starts and end < len(lines) and lines[end].startswith("  "):
        end += 1
    assert len(lines) - (end - starts[0] if starts else 0) <= 25, failed
    # The fix, then two runs in a row: both train, to the same submission.
    good = [cell_text(c) for c in notebook.cells[run + 4 : run + 6]]
    for printed in good:
        assert "  devices    2 x cpu, MULTI_CPU," in printed
        assert "epoch 1/1: train loss " in printed and "Wrote " in printed
    first, second = (c.outputs[-1]["data"]["text/plain"] for c in notebook.cells[run + 4 : run + 6])
    assert first == second and first.count("\\n") == 51
    # The processes were fresh interpreters started by the kernel: baseline.worker as
    # __main__, without the module the kernel had loaded, after torch.cuda.is_available().
    kernel_pid = int(cell_text(notebook.cells[run + 2]).split()[-1])
    probes = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("probe-*.json"))]
    assert len(probes) == 4  # 2 runs x 2 processes
    for probe in probes:
        assert probe["pid"] != kernel_pid and probe["parent"] == kernel_pid
        assert probe["main"] == "baseline.worker" and probe["marker"] is False
    # Nothing left: no process of the kernel's still running.
    assert cell_text(notebook.cells[-1]) == "children []\n"


@pytest.mark.skipif(
    os.environ.get("CIFAR10_KIT_KAGGLE") != "1", reason=".ci/run's Kaggle-versions leg only"
)
def test_the_kaggle_leg_imports_kaggles_versions():
    """The leg runs on .ci/kaggle-versions.txt's versions, imported from its own environment
    (not newer copies from the main one it borrows torch from)."""
    import importlib
    import importlib.metadata

    pins = [
        line.split("==")
        for line in (ROOT / ".ci" / "kaggle-versions.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(pins) == 9
    for name, version in pins:
        assert importlib.metadata.version(name) == version, name
        module = importlib.import_module(
            {"scikit-learn": "sklearn", "ipython": "IPython"}.get(name, name)
        )
        assert module.__version__ == version, name
        assert Path(module.__file__).is_relative_to(sys.prefix), (name, module.__file__)
    assert os.environ.get("CIFAR10_KIT_PROCESSES") == "2"  # the notebooks train in 2 processes
