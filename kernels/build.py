"""Generate the Kaggle notebooks from one tested source and baseline/lesson.py.

Run:
    python -m kernels.build           # rewrite kernels/<name>/<name>.ipynb
    python -m kernels.build --check   # exit 1 if a committed notebook is stale

The source is the jupytext "percent" file kernels/course.py; each notebook of
NOTEBOOKS is built from it with its recipe (baseline.config.RECIPES). Cells
tagged:

* "only:NAME": kept in notebook NAME only;
* "setup": becomes the first code cell: the package check (the minimum versions
  of pyproject.toml) and the kit the notebook was built with (its sha256);
* "settings": becomes the settings cell: every setting a student changes, one
  variable per line, with the notebook's recipe's values (a TA can run the
  notebook with others: `papermill -p lr 0.01`, as the cell is also tagged
  "parameters");
* "config": becomes the cell that gathers them into the run's TrainConfig (cfg);
* "lesson:PART": becomes baseline/lesson.py's cells tagged PART, copied as they
  are: the code that decides the numbers, which the student reads and edits
  and which the engine runs (the command line runs the module itself).

Other tags (KEPT_TAGS) stay in the notebook, one cell each: "parameters"
(papermill's convention: the cell after which `papermill -p NAME VALUE` puts
its values) on the settings cell, and "run" on the cell that starts training.

In markdown, "{{line:FIELD}}" becomes the line of the settings cell that sets
FIELD, and "{{def:NAME}}" the line of the code cell that defines NAME, so the
"where to change what" table cannot point at a wrong line. The build refuses
a lesson cell used twice or not at all, a code cell over MAX_CELL_LINES, and
a kept tag on no cell or on two.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat

from baseline.config import RECIPES, TrainConfig
from baseline.kit import kit_zip

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "kernels" / "course.py"
LESSON = ROOT / "baseline" / "lesson.py"
NOTEBOOKS = {"baseline": "baseline", "improved": "improved"}  # notebook -> recipe
MAX_CELL_LINES = 60
KEPT_TAGS = ("parameters", "run")  # tags the notebooks keep, each on exactly one cell
# The packages the notebooks run on, checked by their first cell (minimums: pyproject.toml).
CHECKED = (
    "torch",
    "torchvision",
    "accelerate",
    "timm",
    "numpy",
    "pandas",
    "matplotlib",
    "tqdm",
    "cloudpickle",  # sends the notebook's functions to the training processes
)
# What the settings cell lists, by topic (every field a student has a reason to change).
SETTINGS = {
    "모델 / the model": ("model", "weights", "image_size"),
    "최적화 / optimisation": (
        "epochs",
        "batch_size",
        "grad_accum",
        "optimizer",
        "lr",
        "momentum",
        "nesterov",
        "weight_decay",
    ),
    "학습률 스케줄 / learning-rate schedule": (
        "sched",
        "warmup_epochs",
        "step_size",
        "gamma",
        "plateau_patience",
    ),
    "규제와 데이터 증강 / regularisation and augmentation": (
        "patience",
        "dropout",
        "bn_head",
        "augment",
        "mixup",
        "cutmix",
        "label_smoothing",
        "ema",
        "tta",
    ),
    "데이터와 하드웨어 / data and hardware": ("val_fraction", "mixed_precision"),
    "이번 실행 / this run": ("resume",),
}
# The lecture's Korean term for a setting, before its help text in the settings cell.
TERMS = {
    "weights": "전이 학습",
    "image_size": "이미지 크기",
    "epochs": "에폭",
    "batch_size": "배치 크기",
    "optimizer": "옵티마이저",
    "lr": "학습률",
    "momentum": "모멘텀",
    "weight_decay": "가중치 감쇠, L2 규제",
    "sched": "학습률 감쇠",
    "warmup_epochs": "학습률 웜업",
    "patience": "조기 종료",
    "dropout": "드롭아웃",
    "bn_head": "배치 정규화",
    "augment": "데이터 증강",
    "label_smoothing": "레이블 스무딩",
    "val_fraction": "검증 데이터",
}
# The improved notebook's table of what its recipe changes: technique and why, per setting
# (the values come from RECIPES, so the table cannot disagree with the run).
RECIPE_NOTES = {
    "momentum": ("momentum", "faster, steadier descent than plain SGD"),
    "nesterov": ("Nesterov momentum", "looks ahead before it steps"),
    "lr": ("learning rate", "momentum and the schedule allow a larger peak"),
    "warmup_epochs": ("lr warm-up, in epochs", "no large steps while the new head is random"),
    "sched": ("lr schedule", "big steps early, fine steps late"),
    "weight_decay": ("L2 (weight decay)", "keeps weights small: less over-fitting"),
    "label_smoothing": ("label smoothing", "less over-confident predictions"),
    "tta": ("test-time augmentation (flip)", "often a free point of accuracy"),
    "epochs": ("epochs", "the baseline's 3 stop while it is still learning"),
}


def minimum_versions() -> dict[str, str]:
    """The CHECKED packages' minimum versions, from pyproject.toml's dependencies."""
    text = (ROOT / "pyproject.toml").read_text()
    found = {
        name.lower(): version
        for name, version in re.findall(r'^\s*"([A-Za-z0-9_.-]+)>=([0-9.]+)', text, re.MULTILINE)
        if name.lower() in CHECKED
    }
    missing = [name for name in CHECKED if name not in found]
    if missing:
        raise SystemExit(f"pyproject.toml: no minimum version (>=) for {', '.join(missing)}.")
    return {name: found[name] for name in CHECKED}


def setup_cell() -> str:
    """The first code cell: packages, then the kit."""
    digest = hashlib.sha256(kit_zip(ROOT)).hexdigest()
    minimum = [f'    "{name}": "{version}",' for name, version in minimum_versions().items()]
    return "\n".join(
        [
            "# Packages first: one older than the kit needs is upgraded with pip when the",
            "# kernel has internet, else the notebook stops and says what to do. Then the",
            "# kit's plumbing (the launch, checkpoints, the grader's validator, plots):",
            "# the packages baseline/ and grader/ of the cifar10-kit, attached to this notebook",
            '# as the Kaggle dataset "cifar10-kit": Python imports them straight from its',
            "# cifar10_kit.zip, or from the folder Kaggle unpacked it into.",
            "import os",
            "import sys",
            "from pathlib import Path",
            "",
            "# The kit this notebook was built with, and the oldest packages it is tested on",
            "# (pyproject.toml's minimums; the kit's CI runs this notebook on them).",
            f'KIT_SHA256 = "{digest}"',
            "MINIMUM = {",
            *minimum,
            "}",
            "",
            'INPUT = Path(os.environ.get("CIFAR10_KIT_KAGGLE_INPUT", "/kaggle/input"))',
            'unpacked = [*INPUT.glob("*/baseline/lesson.py"), *INPUT.glob("*/*/baseline/lesson.py")]',  # noqa: E501
            'kits = [*INPUT.glob("*/cifar10_kit.zip"), *(p.parents[1] for p in unpacked)]',
            "if kits:",
            "    sys.path.insert(0, str(kits[0]))",
            "try:",
            "    from baseline.notebook import check_kit, check_packages, preflight",
            "except ModuleNotFoundError:",
            "    raise SystemExit(",
            '        "The kit is missing: add the dataset cifar10-kit to this notebook "',
            '        "(Add Input), or run the notebook from the kit\'s folder."',
            "    ) from None",
            "",
            "check_packages(MINIMUM)",
            "check_kit(KIT_SHA256)",
            "# The GPUs (read without starting CUDA) and how Run will use them: one training",
            "# process per GPU; a GPU the installed torch cannot use stops here, saying what",
            "# to pick instead.",
            "preflight()",
        ]
    )


def settings_cell(recipe: str) -> str:
    """Every setting a student changes, one variable per line, with its help (papermill's
    parameters cell: `papermill -p lr 0.01` sets a line's value)."""
    cfg = TrainConfig.for_recipe(recipe)
    helps = {f.name: f.metadata["help"] for f in TrainConfig.__dataclass_fields__.values()}
    lines = [
        "# Every setting of the run, one per line (the flags of `python -m baseline.train`,",
        "# same names). Change a value, then Run All; the code that uses them is below.",
    ]
    for topic, names in SETTINGS.items():
        lines.append(f"# {topic}")
        for name in names:
            term = f"{TERMS[name]}: " if name in TERMS else ""
            lines.append(f"{name} = {_literal(getattr(cfg, name))}  # {term}{helps[name]}")
    return "\n".join(lines)


def config_cell(recipe: str) -> str:
    """The cell that gathers the settings into the run's TrainConfig, `cfg`."""
    lines = [
        "# The settings above as one checked object: the code below reads cfg.lr, cfg.epochs...",
        "# (baseline/config.py TrainConfig; a value out of range stops here, in one line).",
        "cfg = TrainConfig(",
        f'    recipe="{recipe}",  # the defaults of the few settings not listed above',
    ]
    for names in SETTINGS.values():
        line = "   "
        for name in names:
            item = f" {name}={name},"
            if len(line) + len(item) > 92:
                lines.append(line)
                line = "   "
            line += item
        lines.append(line)
    lines += [
        "    seed=SEED,",
        "    data=str(find_data()),  # the competition's files: /kaggle/input/<competition>/",
        "    out=str(output_dir()),  # where the run writes: /kaggle/working/run on Kaggle",
        ")",
        "cfg = smoke_if_asked(cfg)  # CIFAR10_KIT_SMOKE=1: the tests' small CPU run",
        "cfg",
    ]
    return "\n".join(lines)


def _literal(value: object) -> str:
    """A value as the settings cell writes it (strings in double quotes, as ruff formats)."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def recipe_table(recipe: str) -> str:
    """The markdown table of what `recipe` sets, from RECIPES and RECIPE_NOTES."""
    baseline = TrainConfig()
    rows = ["| technique | baseline | this notebook | why |", "| --- | --- | --- | --- |"]
    for name, value in RECIPES[recipe].items():
        if value == getattr(baseline, name):
            continue  # the baseline's value, restated
        technique, why = RECIPE_NOTES[name]
        was = _literal(getattr(baseline, name))
        rows.append(f"| {technique} | `{name}={was}` | `{name}={_literal(value)}` | {why} |")
    return "\n".join(rows)


def lesson_cells() -> dict[str, str]:
    """baseline/lesson.py's code cells by tag."""
    cells = {}
    for cell in jupytext.read(LESSON, fmt="py:percent").cells:
        if cell.cell_type != "code":
            continue
        (tag,) = cell.metadata.get("tags", ["?"])
        cells[tag] = cell.source
    return cells


def _line_of(cells: list, pattern: str, what: str) -> str:
    """ "line N" of the one code cell with a line matching `pattern`."""
    found = [
        number
        for cell in cells
        if cell.cell_type == "code"
        for number, line in enumerate(cell.source.splitlines(), start=1)
        if re.match(pattern, line)
    ]
    if len(found) != 1:
        raise SystemExit(f"{SOURCE}: {what} is set in {len(found)} code lines, not 1.")
    return f"line {found[0]}"


def build_notebook(name: str) -> str:
    """The .ipynb text of notebook `name`."""
    notebook = jupytext.read(SOURCE, fmt="py:percent")
    lessons, used = lesson_cells(), []
    cells = []
    for cell in notebook.cells:
        tags = cell.metadata.pop("tags", [])
        if any(t.startswith("only:") and t != f"only:{name}" for t in tags):
            continue
        for tag in tags:
            if tag == "setup":
                cell.source = setup_cell()
            elif tag == "settings":
                cell.source = settings_cell(NOTEBOOKS[name])
            elif tag == "config":
                cell.source = config_cell(NOTEBOOKS[name])
            elif tag.startswith("lesson:"):
                cell.source = lessons[tag[7:]]
                used.append(tag[7:])
        kept = [tag for tag in tags if tag in KEPT_TAGS]
        if kept:
            cell.metadata["tags"] = kept
        cells.append(cell)
    for tag in KEPT_TAGS:
        tagged = [cell for cell in cells if tag in cell.metadata.get("tags", [])]
        if len(tagged) != 1:
            raise SystemExit(f"{SOURCE}: {len(tagged)} cells tagged {tag!r} in {name}, not 1.")
    if sorted(used) != sorted(lessons):
        raise SystemExit(f"{SOURCE}: lesson cells used {sorted(used)}, defined {sorted(lessons)}.")
    for cell in cells:
        if cell.cell_type == "markdown":
            if "{{recipe_table}}" in cell.source:
                cell.source = cell.source.replace("{{recipe_table}}", recipe_table(NOTEBOOKS[name]))
            cell.source = re.sub(
                r"\{\{line:(\w+)\}\}",
                lambda m: _line_of(cells, rf"{m.group(1)} = ", m.group(1)),
                cell.source,
            )
            cell.source = re.sub(
                r"\{\{def:(\w+)\}\}",
                lambda m: _line_of(cells, rf"def {m.group(1)}\(", m.group(1)),
                cell.source,
            )
        elif len(cell.source.splitlines()) > MAX_CELL_LINES:
            first = cell.source.splitlines()[0]
            raise SystemExit(f"{SOURCE}: a code cell over {MAX_CELL_LINES} lines: {first}")
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number:02d}"  # stable ids: the same source gives the same bytes
    notebook.cells = cells
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return nbformat.writes(notebook) + "\n"


def targets() -> dict[str, Path]:
    """Every generated notebook: kernels/<name>/<name>.ipynb."""
    return {name: ROOT / "kernels" / name / f"{name}.ipynb" for name in NOTEBOOKS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="report stale notebooks instead of writing them (default: write)",
    )
    args = parser.parse_args(argv)
    stale = []
    for name, target in targets().items():
        text = build_notebook(name)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target.relative_to(ROOT))
        if not args.check:
            target.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(
            "Stale notebooks (run `python -m kernels.build`): " + ", ".join(map(str, stale)),
            file=sys.stderr,
        )
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
