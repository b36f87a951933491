"""The Kaggle notebooks: built from one source and baseline/lesson.py, readable, executable,
equal to the command line byte for byte, and correctly described for Kaggle."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from baseline.engine import ENTRY_POINTS, Pieces, Training
from kernels.build import MAX_CELL_LINES, SETTINGS, build_notebook, minimum_versions, targets
from tests.helpers import ROOT, small

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
# The course template's sections (and the kit's Set-up, Settings and Data), in order: Korean,
# the course's language, then English.
SECTIONS = [
    "대회 설명 / Description",
    "평가 / Evaluation",
    "준비 / Set-up",
    "Random seed 고정",
    "설정 / Settings",
    "데이터 / Data",
    "모델 요약 / Model summary",
    "학습 / Training",
    "학습 곡선 / Learning curves",
    "제출 / Submission",
    "조교 계정 / TA account",
]
# The lecture's terms, as the course teaches them in Korean.
LECTURE_TERMS = [
    *("혼동행렬", "학습률", "과대적합", "과소적합", "데이터 증강", "조기 종료", "하이퍼파라미터"),
    *("규제", "드롭아웃", "배치 정규화", "정확도", "검증 데이터", "학습 곡선", "배치 크기"),
    *("에폭", "모멘텀", "가중치 감쇠", "전이 학습"),
]
# The notebooks' CPU smoke settings (baseline.notebook.SMOKE; docs/notebooks.md).
SMOKE_FLAGS = [
    *("--model", "resnet18", "--weights", "none", "--image-size", "32"),
    *("--train-limit", "500", "--epochs", "1", "--batch-size", "64", "--seed", "42"),
]


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / f"kernels/{name}/{name}.ipynb", as_version=4)


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_the_committed_notebook_is_not_stale(name):
    committed = targets()[name]
    assert committed.read_text(encoding="utf-8") == build_notebook(name), (
        f"{committed.name} is stale: run python -m kernels.build and commit it"
    )


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_the_notebook_follows_the_course_sections(name):
    headings = [
        line[3:].strip()
        for cell in read(name).cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert headings == SECTIONS


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_the_code_that_decides_the_numbers_is_in_the_notebook(name):
    cells = code_cells(read(name))
    # Every code cell of baseline/lesson.py, as it is, and nothing over MAX_CELL_LINES.
    lesson = jupytext.read(ROOT / "baseline" / "lesson.py", fmt="py:percent")
    for cell in lesson.cells:
        if cell.cell_type == "code":
            assert cell.source in cells, cell.source.splitlines()[0]
    assert all(len(source.splitlines()) <= MAX_CELL_LINES == 60 for source in cells)
    # Each function the engine calls is defined in a cell the student reads.
    text = "\n".join(cells)
    for piece in ENTRY_POINTS:
        assert re.search(rf"^def {piece}\(", text, re.MULTILINE), piece
    # No archive, no base64: the longest line a student meets is a settings comment.
    assert not re.search(r"[A-Za-z0-9+/=]{120,}", text)
    assert max(len(line) for line in text.splitlines()) < 160


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_where_to_change_what_names_the_right_lines(name):
    notebook = read(name)
    (table,) = [c.source for c in notebook.cells if "/ Where to change what\n" in c.source]
    cells = code_cells(notebook)
    (settings,) = [source for source in cells if source.startswith("# Every setting of the run")]
    checked = 0
    for what, number in re.findall(r"`(\w+)`, line (\d+)", table):
        at = int(number) - 1
        lines = [source.splitlines() for source in cells]
        in_settings = settings.splitlines()[at].startswith(f"{what} = ")
        defined = any(len(ls) > at and ls[at].startswith(f"def {what}(") for ls in lines)
        assert in_settings or defined, (what, number)
        checked += 1
    assert checked >= 25
    # The table names every lecture technique.
    for technique in ("learning rate", "momentum", "weight decay", "dropout", "batch norm"):
        assert technique in table
    for technique in ("early stopping", "augmentation", "lr decay", "batch size"):
        assert technique in table


def tagged(notebook, tag: str) -> list[int]:
    """Indices of the notebook's cells tagged `tag`."""
    return [i for i, c in enumerate(notebook.cells) if tag in c.metadata.get("tags", [])]


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_one_parameters_cell_holds_every_setting_and_one_run_cell_trains(name):
    notebook = read(name)
    (parameters,), (run,) = tagged(notebook, "parameters"), tagged(notebook, "run")
    assert [c.metadata.get("tags") for c in notebook.cells if c.metadata.get("tags")] == [
        ["parameters"],
        ["run"],
    ]  # the build's own tags are gone
    settings = notebook.cells[parameters].source.splitlines()
    assert settings[0].startswith("# Every setting of the run, one per line")
    assignments = [line for line in settings if not line.startswith("#")]
    every = [name for names in SETTINGS.values() for name in names]
    assert [line.split(" = ")[0] for line in assignments] == every and len(every) == 28
    assert "SEED" not in notebook.cells[parameters].source  # the seed has its own cell
    assert notebook.cells[run].source.startswith("out = launch(cfg, globals())")
    # The seed, then the settings, then the cell that gathers them, before the run.
    seed = [i for i, c in enumerate(notebook.cells) if c.source.startswith("SEED = ")]
    gather = [i for i, c in enumerate(notebook.cells) if c.source.startswith("# The settings abo")]
    assert seed == [parameters - 2] and gather == [parameters + 1] and gather[0] < run


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_the_lesson_is_written_in_korean_with_the_lectures_terms(name):
    markdown = "\n".join(c.source for c in read(name).cells if c.cell_type == "markdown")
    assert len(re.findall("[\uac00-\ud7a3]", markdown)) >= 400  # Hangul syllables
    assert [term for term in LECTURE_TERMS if term not in markdown] == []
    # What the notebook says of torchvision's v2 transforms on a batch
    # (tests/baseline/test_transforms.py shows it), in both languages.
    assert "`v2.RandomErasing(p=1)`은 모든 이미지의 같은 위치를 지웁니다" in markdown
    assert (
        "**A v2 transform applied to a batch draws one set of random parameters for\nthe whole "
        "batch**: `v2.RandomErasing(p=1)` erases the same pixels in every\nimage." in markdown
    )
    # ... and the per-image version is one line away in train_transform.
    (transforms,) = [c.source for c in read(name).cells if c.source.startswith("# A transform")]
    assert (
        "\n    # x = random_erasing(x, generator)  # RandomErasing(0.5): remove the " in transforms
    )


def test_the_setup_cell_checks_pyprojects_minimums_first():
    cells = code_cells(read("baseline"))
    assert cells[0].startswith("# Packages first")
    for name, version in minimum_versions().items():
        assert f'"{name}": "{version}",' in cells[0]
    assert minimum_versions()["accelerate"] == "0.30" and minimum_versions()["timm"] == "1.0.3"
    assert "import torch" not in cells[0]  # torch may still be upgraded there


# ----------------------------------------------------------------------------
# Executed: the notebook in smoke mode equals the command line, byte for byte
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_bundle(tmp_path_factory) -> Path:
    """600 training images (60 per class), so --train-limit 500 takes a subset."""
    from tests.cifar_fixtures import tiny_competition

    return tiny_competition(tmp_path_factory.mktemp("notebook"), 60, data_seed=5, split_seed=4)


def execute(notebook, bundle: Path, out: Path) -> str:
    """Run the notebook as the tests' smoke run; return what its cells printed. (One CPU
    thread, as the command line runs here: other thread counts sum in other orders.)"""
    env = {"CIFAR10_KIT_SMOKE": "1", "CIFAR10_KIT_DATA": str(bundle), "CIFAR10_KIT_OUT": str(out)}
    saved = {key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "PYTHONPATH")}
    # The kernel imports this checkout's kit, as the command line it is compared with does.
    os.environ.update(env, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    try:
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(out.parent)}},
        ).execute()
    finally:
        for key in env:
            os.environ.pop(key)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


def command_line(bundle: Path, out: Path, *flags: str) -> bytes:
    """submission.csv of `python -m baseline.train` with the smoke settings and `flags`; with
    CIFAR10_KIT_PROCESSES=N (the notebook's Run then trains in N CPU processes), of
    `torchrun --nproc_per_node N -m baseline.train --cpu`, the same training."""
    processes = int(os.environ.get("CIFAR10_KIT_PROCESSES") or 1)
    command = [sys.executable, "-m", "baseline.train", "--data", str(bundle), "--out", str(out)]
    if processes > 1:
        torchrun = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}"]
        command = [*torchrun, *command[1:], "--cpu"]
    done = subprocess.run(
        [*command, *SMOKE_FLAGS, *flags],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return (out / "submission.csv").read_bytes()


def pictures(cells) -> int:
    """How many PNG pictures the cells' outputs show."""
    return sum("image/png" in o.get("data", {}) for cell in cells for o in cell.get("outputs", []))


@pytest.mark.parametrize("name", ["baseline", "improved"])
@pytest.mark.slow
def test_the_smoke_notebook_equals_the_command_line_byte_for_byte(name, smoke_bundle, tmp_path):
    notebook = read(name)
    printed = execute(notebook, smoke_bundle, tmp_path / "notebook")
    # The lesson is shown: sample images (and what train_transform makes of them) before
    # training; the learning curves and the confusion matrix after it, with the per-class
    # accuracy table and a diagnosis in the notebook's names.
    (run,) = tagged(notebook, "run")
    before, after = notebook.cells[:run], notebook.cells[run:]
    assert (pictures(before), pictures(after)) == (2, 2)
    html = [o.get("data", {}).get("text/html", "") for c in after for o in c.get("outputs", [])]
    assert [table for table in html if "most often mistaken for" in table]
    assert "\nNext:\n  - " in printed and "  - train longer (epochs=) or " in printed
    assert "block    type                        output (32 px input)  parameters\n" in printed
    assert printed.startswith("Packages: torch ")
    assert "\nKit: cifar10-kit " in printed
    assert "Training run -> " in printed and f"  recipe     {name} " in printed
    assert "epoch 1/1: train loss " in printed
    assert printed.endswith("valid\n") and "invalid" not in printed  # the validator's verdict
    cli = command_line(smoke_bundle, tmp_path / "cli", "--recipe", name)
    assert (tmp_path / "notebook" / "submission.csv").read_bytes() == cli
    assert cli.count(b"\n") == 51  # the header and the 50 test images


@pytest.mark.slow
def test_an_edited_cell_is_what_trains_and_the_run_cell_runs_again(smoke_bundle, tmp_path):
    notebook = read("baseline")
    (cell,) = [c for c in notebook.cells if c.source.startswith("# A transform takes")]
    # A student's edit: no augmentation, whatever the settings say.
    cell.source += (
        "\n\n\ndef train_transform(images, generator, cfg):\n"
        "    return eval_transform(images, cfg)\n"
    )
    # Then, in the same kernel: keep the first submission, put a file of their own in the
    # run's folder, run again with other Accelerate settings, then resume.
    again = [
        "import dataclasses\n"
        "(out.parent / 'first.csv').write_bytes((out / 'submission.csv').read_bytes())\n"
        "(out / 'notes.txt').write_text('mine')\n"
        "cfg = dataclasses.replace(cfg, mixed_precision='bf16')\n"
        "out = launch(cfg, globals())",
        "cfg = dataclasses.replace(cfg, resume=True)\nout = launch(cfg, globals())",
        "print('kept:', (out / 'notes.txt').read_text(), sorted(p.name for p in out.iterdir()))",
    ]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in again]
    printed = execute(notebook, smoke_bundle, tmp_path / "edited")
    # The command line trains the same only when told to skip augmentation.
    first = (tmp_path / "first.csv").read_bytes()
    assert first == command_line(smoke_bundle, tmp_path / "none", "--augment", "none")
    assert first != command_line(smoke_bundle, tmp_path / "lecture")
    # The run says what was edited, and keeps the code that ran.
    assert "  code       edited: train_transform (in edited_code.py)\n" in printed
    assert "  train      train_transform: eval_transform\n" in printed  # what the edit calls
    kept = (tmp_path / "edited" / "edited_code.py").read_text()
    assert "def train_transform(images, generator, cfg):\n    return eval_transform" in kept
    assert json.loads((tmp_path / "edited" / "run.json").read_text())["edited_code"] == [
        "train_transform"
    ]
    # Run again in the same kernel with another precision, then resume; a student's file
    # in the folder survives both.
    assert "mixed precision bf16 (bf16: set by --mixed-precision)" in printed
    assert "Resuming after epoch 1 from " in printed
    assert printed.count("Training run -> ") == 3
    assert "kept: mine ['checkpoint.0001', 'checkpoint.current', 'confusion_matrix.csv'," in printed


@pytest.mark.slow
def test_papermills_injected_parameters_reach_the_runs_settings(smoke_bundle, tmp_path):
    """`papermill -p lr 0.01 -p optimizer adam` puts a cell of assignments right after the
    cell tagged parameters; the cell after it gathers them into cfg."""
    notebook = read("baseline")
    (parameters,) = tagged(notebook, "parameters")
    injected = nbformat.v4.new_code_cell('# Parameters\nlr = 0.01\noptimizer = "adam"\n')
    injected.metadata["tags"] = ["injected-parameters"]  # what papermill writes
    gather = parameters + 1
    notebook.cells = [
        *notebook.cells[: parameters + 1],
        injected,
        notebook.cells[gather],
        nbformat.v4.new_code_cell("print('cfg:', cfg.lr, cfg.optimizer, cfg.momentum)"),
    ]
    printed = execute(notebook, smoke_bundle, tmp_path / "out")
    assert printed.splitlines()[-1] == "cfg: 0.01 adam 0.0"


# ----------------------------------------------------------------------------
# The plumbing cells: packages, the kit, launching on two GPUs
# ----------------------------------------------------------------------------


def test_packages_below_the_minimum_are_upgraded_online_and_stop_offline(capsys):
    from baseline.notebook import NotebookStop, check_packages

    minimum = {"torch": "2.3", "accelerate": "0.30", "timm": "1.0.3"}
    versions = {"torch": "2.5.1+cu121", "accelerate": "0.25.0", "timm": None}
    installed = []
    check_packages(minimum, versions.get, lambda: True, installed.append, loaded=())
    assert installed == ["accelerate>=0.30", "timm>=1.0.3"]
    assert capsys.readouterr().out == (
        "Packages: torch 2.5.1+cu121, accelerate 0.25.0, timm missing\n"
        "Upgrading accelerate to >= 0.30 with pip (the kernel has internet)...\n"
        "Upgrading timm to >= 1.0.3 with pip (the kernel has internet)...\n"
    )
    with pytest.raises(NotebookStop) as info:
        check_packages(minimum, versions.get, online=lambda: False, install=installed.append)
    assert str(info.value) == (
        "accelerate 0.25.0 (needs >= 0.30), timm (missing) (needs >= 1.0.3): too old for this "
        "notebook, and the kernel has no internet to upgrade. Turn it on (Settings > Internet "
        "on) and run the notebook again."
    )
    assert info.value._render_traceback_() == [f"Error: {info.value}"]  # one line in Jupyter
    # Upgrading what the kernel had already imported needs a restart, and says so.
    with pytest.raises(NotebookStop) as info:
        check_packages(minimum, versions.get, lambda: True, installed.append, {"accelerate"})
    assert str(info.value) == (
        "upgraded accelerate, timm, which this kernel had already loaded: restart it (Run > "
        "Restart & clear cell outputs) and run the notebook again."
    )
    # Versions compare as numbers: 0.100 is newer than 0.30, 2.10 than 2.9.
    check_packages({"a": "0.30", "b": "2.9"}, {"a": "0.100.0", "b": "2.10.0"}.get)


def test_a_kit_other_than_the_notebooks_is_refused(tmp_path):
    import hashlib

    from baseline.kit import kit_zip, loaded_kit
    from baseline.notebook import NotebookStop, check_kit

    digest, where = loaded_kit()
    assert (digest, where) == (hashlib.sha256(kit_zip(ROOT)).hexdigest(), str(ROOT))
    with pytest.raises(NotebookStop) as info:
        check_kit("0" * 64)
    assert str(info.value) == (
        f"the kit in {ROOT} (sha256 {digest[:12]}) is not the one this notebook was built with "
        "(000000000000). On Kaggle, attach the kit dataset the TA published with this "
        "notebook; locally, rebuild the notebooks with `python -m kernels.build`."
    )
    # Imported from the dataset's zip, as on Kaggle: the zip's own bytes are checked.
    zipped = tmp_path / "cifar10_kit.zip"
    zipped.write_bytes(kit_zip(ROOT))
    probe = (
        f"import sys; sys.path.insert(0, {str(zipped)!r}); "
        "from baseline.kit import loaded_kit; print(*loaded_kit())"
    )
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.stdout.split() == [digest, str(zipped)], done.stderr[-2000:]


def test_the_kit_is_the_tracked_files_only(tmp_path):
    from baseline.kit import kit_files

    for name in ("grader/a.py", "grader/scratch.py", "baseline/b.py", "baseline/space.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", "add", "grader/a.py", "baseline/b.py", "baseline/space.json"],
        cwd=tmp_path,
        check=True,
    )
    names = [p.relative_to(tmp_path).as_posix() for p in kit_files(tmp_path)]
    assert names == ["baseline/b.py", "baseline/space.json", "grader/a.py"]  # no scratch.py
    # Unpacked from the dataset (no git): every file there.
    (tmp_path / ".git").rename(tmp_path / "git-was-here")
    assert len(kit_files(tmp_path)) == 4


@pytest.mark.parametrize("layout", ["zip", "unpacked", "unpacked in a folder"])
def test_the_first_cell_finds_the_kit_dataset_as_kaggle_attaches_it(layout, tmp_path):
    """Kaggle keeps the dataset's cifar10_kit.zip, or unpacks it: the first cell imports
    the kit either way (away from the checkout) and checks it is the one it was built for."""
    import zipfile

    from baseline.kit import kit_zip

    dataset = tmp_path / "input" / "cifar10-kit"
    dataset.mkdir(parents=True)
    (dataset / "cifar10_kit.zip").write_bytes(kit_zip(ROOT))
    where = dataset / "cifar10_kit.zip"
    if layout != "zip":
        where = dataset / "cifar10_kit" if layout == "unpacked in a folder" else dataset
        with zipfile.ZipFile(dataset / "cifar10_kit.zip") as archive:
            archive.extractall(where)
        (dataset / "cifar10_kit.zip").unlink()
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}
    env["CIFAR10_KIT_KAGGLE_INPUT"] = str(tmp_path / "input")
    first = code_cells(read("baseline"))[0]
    done = subprocess.run(
        [sys.executable, "-c", first], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()
    assert printed[0].startswith("Packages: torch ")
    assert printed[1].startswith("Kit: cifar10-kit ") and printed[1].endswith(f"from {where}")


def broken(name: str):
    """A lesson namespace with one student's mistake, by name."""
    import numpy as np

    from baseline import lesson

    namespace = dict(vars(lesson))
    if name == "no t.note":

        def train_one_epoch(t, epoch):
            for images, _labels, generator in t.batches(epoch):
                t.model(lesson.train_transform(images, generator, t.cfg))
            return t.epoch_summary()

        namespace["train_one_epoch"] = train_one_epoch
    elif name == "returns None":
        namespace["train_one_epoch"] = lambda t, epoch: lesson.train_one_epoch(t, epoch) and None
    elif name == "evaluate returns a dict":
        namespace["evaluate"] = lambda t, loader: lesson.evaluate(t, loader)[0]
    elif name == "overlapping split":

        def split_data(labels, cfg):
            train, val = lesson.split_data(labels, cfg)
            return np.concatenate([train, val[:3]]), val

        namespace["split_data"] = split_data
    elif name == "no submission file":
        namespace["write_submission"] = lambda path, ids, predicted, classes: None
    elif name == "bad submission":
        namespace["write_submission"] = lambda path, ids, predicted, classes: path.write_text(
            "id,label\n0,cat\n"
        )
    return namespace


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (
            "no t.note",
            "train_one_epoch took no optimizer step that the engine saw: it must call "
            "t.note(loss, logits, labels) after each batch (cell The training loop).",
        ),
        (
            "returns None",
            "train_one_epoch must return t.epoch_summary() (a dict of train_loss, train_acc, "
            "seconds, images_per_s), not NoneType.",
        ),
        (
            "evaluate returns a dict",
            "evaluate must return (a dict of loss, acc and f1, the confusion matrix), not dict.",
        ),
        (
            "overlapping split",
            "split_data puts 3 image(s) in both the training and the validation rows (rows ",
        ),
        ("no submission file", "write_submission wrote no file for "),
        (
            "bad submission",
            "write_submission wrote a file for {out}/submission.csv that the grader refuses: ",
        ),
    ],
)
@pytest.mark.slow
def test_a_students_broken_contract_with_the_engine_is_one_line(
    mistake, message, smoke_bundle, tmp_path
):
    from baseline.notebook import NotebookStop, launch

    out = tmp_path / "run"
    with pytest.raises(NotebookStop) as info:
        launch(small(smoke_bundle, out), broken(mistake))
    assert str(info.value).startswith(message.format(out=out)), str(info.value)
    assert "\n" not in str(info.value)
    assert not (out / "submission.csv").exists()
    assert not (out / ".submission.csv.tmp").exists()


@pytest.mark.slow
def test_a_fixed_write_submission_resumes_without_training_again(smoke_bundle, tmp_path, capsys):
    from baseline import lesson
    from baseline.notebook import NotebookStop, launch

    out = tmp_path / "run"
    with pytest.raises(NotebookStop) as info:
        launch(small(smoke_bundle, out), broken("no submission file"))
    assert str(info.value).endswith(
        "Fix write_submission, then run again with --resume (resume=True in a notebook): the "
        "checkpoint holds the trained weights, so only the prediction is redone."
    )
    launch(small(smoke_bundle, out, resume=True), vars(lesson))
    assert "Resuming after epoch 1 from " in capsys.readouterr().out
    assert (out / "submission.csv").read_text().count("\n") == 51


TWO_PROCESSES = """
import sys
from baseline import lesson
from baseline.config import TrainConfig
from baseline.notebook import NotebookStop, launch
data, out, lr = sys.argv[1], sys.argv[2], float(sys.argv[3])
cfg = TrainConfig(data=data, out=out, model="resnet18", weights="none", image_size=32,
                  train_limit=200, epochs=1, batch_size=32, cpu=True, lr=lr)
try:
    out = launch(cfg, vars(lesson), processes=2)
    print("rows:", (out / "submission.csv").read_text().count(chr(10)))
except NotebookStop as stop:
    print("stop:", stop)
"""


@pytest.mark.slow
def test_the_two_process_launch_trains_and_brings_a_childs_error_back_as_one_line(
    smoke_bundle, tmp_path
):
    """The T4 x2 path of the Run cell (two fresh training processes, baseline/launch.py),
    on two CPU processes."""
    results = []
    for lr in ("0.001", "1e30"):
        done = subprocess.run(
            [sys.executable, "-c", TWO_PROCESSES, str(smoke_bundle), str(tmp_path / lr), lr],
            capture_output=True,
            text=True,
            env=ENV,
            cwd=ROOT,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results.append(done.stdout.splitlines()[-1])
    assert results[0] == "rows: 51"  # every test id once, from two processes
    # The first step's loss is finite; the step it takes with lr 1e30 is not.
    assert results[1] == (
        "stop: the loss became NaN or infinite at epoch 1, step 2 (lr 1e+30). Lower --lr "
        "(e.g. by 10x), or try --mixed-precision no."
    )


def test_a_missing_piece_is_named_and_a_helper_is_not_required():
    from baseline import lesson
    from baseline.errors import TrainingError

    namespace = {name: value for name, value in vars(lesson).items() if callable(value)}
    pieces = Pieces.of(namespace)
    assert pieces.evaluate is lesson.evaluate and pieces.edited == {}
    # The engine calls these ten; the lesson's helpers are the lesson's business.
    assert ENTRY_POINTS == (
        "split_data",
        "cpu_augmentation",
        "train_transform",
        "eval_transform",
        "build_model",
        "build_optimizer",
        "train_one_epoch",
        "predict",
        "evaluate",
        "write_submission",
    )
    del namespace["loss_fn"], namespace["new_head"]  # helpers: not required
    assert Pieces.of(namespace).functions == {name: getattr(lesson, name) for name in ENTRY_POINTS}
    del namespace["evaluate"], namespace["split_data"]
    with pytest.raises(TrainingError) as info:
        Pieces.of(namespace)
    assert str(info.value) == (
        "the training code defines no split_data, evaluate: run the notebook's cells from the "
        "top (Run All), or put back the cells that defined them (baseline/lesson.py has the "
        "originals)."
    )


def test_an_edited_helper_is_named_as_edited():
    from baseline import lesson

    namespace = {name: getattr(lesson, name) for name in ENTRY_POINTS}
    exec("def lr_at(step, cfg, steps_per_epoch):\n    return cfg.lr\n", namespace)
    assert list(Pieces.of(namespace).edited) == ["lr_at"]


def test_the_lesson_header_lists_the_entry_points_and_what_t_offers():
    text = (ROOT / "baseline" / "lesson.py").read_text(encoding="utf-8")
    header, code = text.split('# %% tags=["imports"]')
    flat = re.sub(r"\n#\s*", " ", header)  # the comment's lines as one text
    named = re.search(r"entry points \(engine\.Pieces\): (.*?)\. ", flat)
    assert named, "the header names the entry points: 'entry points (engine.Pieces): ...'"
    listed = named.group(1).replace(" and ", ", ").split(", ")
    assert tuple(listed) == ENTRY_POINTS
    # Every member of `t` the lesson's code uses is in the header, and Training has it.
    used = set(re.findall(r"\bt\.(\w+)", code))
    offered = set(re.findall(r"\bt\.(\w+)", header))
    assert used == offered
    assert all(
        hasattr(Training, name) or name in Training.__init__.__code__.co_names for name in used
    )


# ----------------------------------------------------------------------------
# Publishing: kernel-metadata.json, the kit dataset, the real kaggle client
# ----------------------------------------------------------------------------


def check_kernel_metadata(path: Path) -> dict:
    """What the kaggle client needs of kernel-metadata.json (kernels_push), and T4 x2."""
    meta = json.loads(path.read_text())
    owner, slug = meta["id"].split("/")
    assert owner and len(slug) >= 5
    assert (path.parent / meta["code_file"]).is_file()
    assert meta["language"] in ("python", "r", "rmarkdown")
    assert meta["kernel_type"] in ("script", "notebook")
    assert len(meta["title"]) >= 5
    for field in ("is_private", "enable_gpu", "enable_tpu", "enable_internet"):
        assert isinstance(meta[field], bool), field  # the client crashes on 0/1
    # GPU T4 x2: enable_gpu alone would give a P100.
    assert meta["enable_gpu"] is True and meta["machine_shape"] == "NvidiaTeslaT4"
    for field in ("competition_sources", "dataset_sources", "kernel_sources", "model_sources"):
        assert all(isinstance(source, str) for source in meta[field]), field
    return meta


@pytest.mark.parametrize("name", ["baseline", "improved"])
def test_the_committed_kernel_metadata_is_valid_for_kaggle_kernels_push(name):
    meta = check_kernel_metadata(ROOT / "kernels" / name / "kernel-metadata.json")
    # Internet on, written out (the client defaults to on, its docs say off): the ImageNet
    # weights are downloaded.
    assert meta["enable_internet"] is True
    assert meta["competition_sources"] and meta["dataset_sources"] == [
        "your-kaggle-username/cifar10-kit"
    ]


def test_publish_writes_the_kit_dataset_the_notebooks_and_the_gpu_check(tmp_path):
    import hashlib
    import zipfile

    from kernels.publish import main

    out = tmp_path / "kaggle"
    assert main(["--owner", "ta-kim", "--competition", "dl-cifar10", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["baseline", "gpu-check", "improved", "kit"]
    kit = out / "kit" / "cifar10_kit.zip"
    # The zip is the kit the notebooks were built with.
    expected = re.search(r'KIT_SHA256 = "(\w+)"', code_cells(read("baseline"))[0]).group(1)
    assert hashlib.sha256(kit.read_bytes()).hexdigest() == expected
    names = zipfile.ZipFile(kit).namelist()
    assert "baseline/lesson.py" in names and "grader/bundle/submission.py" in names
    assert json.loads((out / "kit" / "dataset-metadata.json").read_text())["id"] == (
        "ta-kim/cifar10-kit"
    )
    for name in ("baseline", "improved"):
        meta = check_kernel_metadata(out / name / "kernel-metadata.json")
        assert meta["id"].startswith("ta-kim/cifar-10-class-")
        assert meta["competition_sources"] == ["dl-cifar10"]
        assert meta["dataset_sources"] == ["ta-kim/cifar10-kit"]
        assert meta["is_private"] is True
        assert (out / name / f"{name}.ipynb").read_bytes() == targets()[name].read_bytes()
    gpu = check_kernel_metadata(out / "gpu-check" / "kernel-metadata.json")
    assert (gpu["kernel_type"], gpu["code_file"]) == ("script", "gpu_check.py")
    assert gpu["dataset_sources"] == ["ta-kim/cifar10-kit"] and gpu["enable_internet"] is False
    # Publishing again replaces its own folders; a stranger's file in any of them makes it
    # refuse before anything is written.
    assert main(["--owner", "ta-kim", "--competition", "dl-cifar10", "--out", str(out)]) == 0
    (out / "kit" / "cifar10_kit.zip").write_bytes(b"an older kit")
    (out / "improved" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as info:
        main(["--owner", "ta-kim", "--competition", "dl-cifar10", "--out", str(out)])
    assert str(info.value) == (
        f"Error: {out / 'improved'} holds files this command does not write (notes.txt); "
        "choose another --out, or move them."
    )
    assert (out / "improved" / "notes.txt").read_text() == "mine"
    assert (out / "kit" / "cifar10_kit.zip").read_bytes() == b"an older kit"
    # Never into the kit's own sources (it would overwrite kernels/*/kernel-metadata.json).
    with pytest.raises(SystemExit) as info:
        main(["--owner", "ta-kim", "--competition", "dl-cifar10", "--out", str(ROOT / "kernels")])
    assert str(info.value) == (
        f"Error: --out {ROOT / 'kernels'}: inside the kit's own sources; choose a folder of "
        "its own (the default is dist/kaggle)."
    )
    with pytest.raises(SystemExit) as info:
        main(["--owner", "ta kim", "--competition", "dl-cifar10", "--out", str(tmp_path / "x")])
    assert "--owner 'ta kim': a Kaggle name is 2-50 letters" in str(info.value)


def kaggle_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The real kaggle command line, reaching the stand-in through `env` (client_env)."""
    return subprocess.run(
        [sys.executable, "-m", "kaggle.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_kaggle_client_pushes_the_notebook_as_a_t4_x2_kernel(tmp_path):
    """`kaggle kernels push` with the real client: what it sends is what Kaggle gets."""
    import shutil

    from tests.kaggle_standin import KaggleStandIn, client_env

    folder = tmp_path / "kernel"
    shutil.copytree(ROOT / "kernels" / "baseline", folder)
    with KaggleStandIn(set()) as kaggle:
        env = client_env(tmp_path / "home", kaggle.proxy)
        result = kaggle_cli(env, "kernels", "push", "-p", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "successfully pushed" in result.stdout
    assert "does not resolve" not in result.stdout  # the title matches the id's slug
    (pushed,) = kaggle.kernels
    assert pushed["slug"] == "your-kaggle-username/cifar-10-class-baseline"
    assert (pushed["language"], pushed["kernelType"]) == ("python", "notebook")
    assert pushed["machineShape"] == "NvidiaTeslaT4" and pushed["enableGpu"] is True
    assert pushed["enableInternet"] is True and pushed["isPrivate"] is True
    assert pushed["competitionDataSources"] == ["cifar10-class"]
    assert pushed["datasetDataSources"] == ["your-kaggle-username/cifar10-kit"]
    sent = json.loads(pushed["text"])
    assert [c["source"] for c in sent["cells"]][:2] == [
        "".join(c["source"])
        for c in json.loads((folder / "baseline.ipynb").read_text())["cells"][:2]
    ]


@pytest.mark.skipif(
    os.environ.get("CIFAR10_KIT_MINIMUMS") != "1", reason=".ci/run's minimum-versions leg only"
)
def test_the_minimum_versions_leg_imports_the_minimums():
    import importlib.metadata

    from baseline.notebook import version_tuple

    minimum = minimum_versions()
    for name in ("accelerate", "timm", "numpy", "pandas", "matplotlib", "cloudpickle"):
        found = version_tuple(importlib.metadata.version(name))
        wanted = version_tuple(minimum[name])
        assert found[: len(wanted)] == wanted and not any(found[len(wanted) :]), (name, found)
        module = __import__(name)
        assert version_tuple(module.__version__) == found, name  # not a newer copy from .venv


@pytest.mark.slow
def test_the_kaggle_client_uploads_the_published_kit_and_gpu_check(tmp_path):
    """`kaggle datasets create` and `kaggle kernels push` of what publish wrote, with the
    real client: the dataset holds the kit's zip, the GPU check is a T4 x2 script kernel."""
    from kernels.publish import main as publish
    from tests.kaggle_standin import KaggleStandIn, client_env

    out = tmp_path / "kaggle"
    assert publish(["--owner", "ta-kim", "--competition", "dl-cifar10", "--out", str(out)]) == 0
    with KaggleStandIn(set()) as kaggle:
        env = client_env(tmp_path / "home", kaggle.proxy)
        printed = []
        for command in (
            ["datasets", "create", "-p", str(out / "kit"), "--public"],
            ["kernels", "push", "-p", str(out / "gpu-check")],
        ):
            done = kaggle_cli(env, *command)
            assert done.returncode == 0, done.stdout + done.stderr
            printed.append(done.stdout)
    assert "Your public Dataset is being created" in printed[0]
    dataset = kaggle.datasets["ta-kim/cifar10-kit"]
    assert dataset["files"] == {"cifar10_kit.zip": (out / "kit" / "cifar10_kit.zip").read_bytes()}
    assert dataset["request"]["title"] == "cifar10-kit"
    assert dataset["request"].get("isPrivate", False) is False  # false fields are left out
    (pushed,) = kaggle.kernels
    assert (pushed["slug"], pushed["kernelType"]) == ("ta-kim/cifar10-kit-gpu-check", "script")
    assert pushed["machineShape"] == "NvidiaTeslaT4" and pushed["enableInternet"] is False
    assert pushed["datasetDataSources"] == ["ta-kim/cifar10-kit"]
    assert pushed["text"] == (out / "gpu-check" / "gpu_check.py").read_text()
