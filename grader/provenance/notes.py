"""Advisory notes from reading a student's notebook: where CIFAR-10's test labels could
have come from.

CIFAR-10's test labels are public, so a notebook can read them instead of learning
them. These patterns find the usual ways, each named with the cell and line:

* the original archive's test batch (`test_batch`, the file of
  cifar-10-python.tar.gz that holds the test labels), or the archive itself;
* torchvision's `CIFAR10(..., train=False)`, the test set with its labels;
* the Hugging Face `cifar10` data set (`load_dataset("cifar10")` or
  `"uoft-cs/cifar10"`), whose test split carries the labels;
* a literal of 1,000 or more labels (digits 0-9 or class names) in one cell;
* a download from outside Kaggle (`wget`, `curl`, `urlretrieve`, `urlopen`,
  `requests.get`, `gdown`, ... with an http(s) address not on kaggle.com or
  PyPI; torchvision's weights server and the Hugging Face hub are allowed, as the
  course's models come from there).

A note is a reason to read the code, not a verdict: a notebook may name
`test_batch` to explain why it does not use it. Cells are numbered from 1 in
the order of the notebook, markdown cells included, as Kaggle's editor shows
them; lines from 1 within the cell. Only code cells (and .py/.R files) are read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CLASSES = "airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck"
MIN_LITERAL = 1000  # labels in one literal
ALLOWED_HOSTS = (
    "kaggle.com",
    "kaggleusercontent.com",
    "pypi.org",
    "pythonhosted.org",
    "download.pytorch.org",
    "huggingface.co",
)
CODE_SUFFIXES = (".ipynb", ".py", ".r", ".rmd")

_TEST_BATCH = re.compile(r"\btest_batch\b")
_ARCHIVE = re.compile(r"cifar-10-python\.tar\.gz|cs\.toronto\.edu/~kriz", re.I)
_TORCHVISION = re.compile(r"\bCIFAR10\s*\((?:[^()]|\([^()]*\))*?\btrain\s*=\s*False", re.S)
_HUGGING_FACE = re.compile(r"load_dataset\s*\(\s*[\"'](?:uoft-cs/)?cifar10[\"']", re.I)
_DIGITS = re.compile(r"(?:\b[0-9]\s*,\s*){" + str(MIN_LITERAL - 1) + r",}\b[0-9]\b")
_NAMES = re.compile(
    r"(?:[\"'](?:" + CLASSES + r")[\"']\s*,\s*){" + str(MIN_LITERAL - 1) + ",}", re.I
)
_DOWNLOAD = re.compile(
    r"\b(?:wget|curl|urlretrieve|urlopen|requests\.get|download_url|gdown)\b[^\n]*?"
    r"(https?://[^\s\"'()]+)",
    re.I,
)


@dataclass(frozen=True)
class Note:
    """One finding: where it is and what it is."""

    file: str  # the code file's name
    cell: int | None  # 1-based, notebooks only
    line: int  # 1-based, within the cell
    what: str

    def __str__(self) -> str:
        place = f"cell {self.cell} line {self.line}" if self.cell else f"line {self.line}"
        return f"{self.file} {place}: {self.what}"


def code_notes(folder: Path) -> list[Note]:
    """Every note of the code files directly in `folder` (the pulled code/)."""
    notes: list[Note] = []
    if not folder.is_dir():
        return notes
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink() and path.suffix.lower() in CODE_SUFFIXES:
            for cell, source in code_cells(path):
                notes += cell_notes(path.name, cell, source)
    return notes


def code_cells(path: Path) -> list[tuple[int | None, str]]:
    """(cell number, source) of each code cell of a notebook; one (None, text) for a
    script. A notebook that is not valid JSON is read as text."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() != ".ipynb":
        return [(None, text)]
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return [(None, text)]
    found = []
    for number, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            found.append((number, "".join(source) if isinstance(source, list) else str(source)))
    return found


def cell_notes(file: str, cell: int | None, source: str) -> list[Note]:
    """The notes of one cell (or script)."""

    def line_of(position: int) -> int:
        return source.count("\n", 0, position) + 1

    found = []
    checks = (
        (_TEST_BATCH, "names test_batch, the CIFAR-10 archive's file of test labels"),
        (_ARCHIVE, "names the original CIFAR-10 archive, which holds the test labels"),
        (_TORCHVISION, "loads torchvision's CIFAR10(train=False): the test images with labels"),
        (_HUGGING_FACE, "loads Hugging Face's cifar10 data set, whose test split has labels"),
    )
    for pattern, what in checks:
        if match := pattern.search(source):
            found.append(Note(file, cell, line_of(match.start()), what))
    for pattern in (_DIGITS, _NAMES):
        for match in pattern.finditer(source):
            count = len(re.findall(r",", match.group(0))) + 1
            found.append(Note(file, cell, line_of(match.start()), f"a literal of {count:,} labels"))
    for match in _DOWNLOAD.finditer(source):
        address = match.group(1)
        host = re.sub(r"^https?://", "", address).split("/", 1)[0].split(":")[0].lower()
        if not any(host == h or host.endswith("." + h) for h in ALLOWED_HOSTS):
            found.append(
                Note(file, cell, line_of(match.start()), f"downloads {address} (outside Kaggle)")
            )
    return found
