"""Generate the Kaggle notebooks from their tested jupytext sources.

Run:
    python -m kernels.build           # rewrite every kernels/<name>/<name>.ipynb
    python -m kernels.build --check   # exit 1 if a committed notebook is stale

Each notebook's source is the jupytext "percent" file kernels/<name>/<name>.py.
The cell tagged "kit" is replaced by the kit's own code: grader/ and baseline/
zipped (deterministically) and base64-embedded. So a forked notebook needs no
internet for its code and cannot drift from the tested package: change the
package, rebuild, and the test suite fails until the notebook is committed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("grader", "baseline")
KIT_TAG = "kit"


def kit_zip() -> bytes:
    """The kit's Python sources and data files (the tuner's search space) as a zip whose
    bytes depend only on their contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in PACKAGES:
            files = [*(ROOT / package).rglob("*.py"), *(ROOT / package).rglob("*.json")]
            for path in sorted(files):
                info = zipfile.ZipInfo(path.relative_to(ROOT).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def kit_cell_source() -> str:
    """The code of the "kit" cell: unpack the embedded package and put it on sys.path."""
    from grader import __version__

    payload = kit_zip()
    encoded = base64.b64encode(payload).decode("ascii")
    digest = hashlib.sha256(payload).hexdigest()[:12]
    return "\n".join(
        [
            f"# The kit's tested code (grader/ and baseline/, cifar10-kit {__version__},",
            f"# zip sha256 {digest}...), embedded by kernels/build.py: no internet needed,",
            "# and no drift from the tested package. Do not edit this cell; change the",
            "# package and rebuild.",
            "import base64, io, sys, tempfile, zipfile  # noqa: E401",
            "",
            'KIT_DIR = tempfile.mkdtemp(prefix="cifar10-kit-")',
            f'KIT_ZIP = "{encoded}"',
            "zipfile.ZipFile(io.BytesIO(base64.b64decode(KIT_ZIP))).extractall(KIT_DIR)",
            "sys.path.insert(0, KIT_DIR)",
        ]
    )


def build_notebook(source: Path) -> str:
    """The .ipynb text for a jupytext percent source, with the kit embedded."""
    notebook = jupytext.read(source, fmt="py:percent")
    kit_cells = [c for c in notebook.cells if KIT_TAG in c.metadata.get("tags", [])]
    if len(kit_cells) != 1:
        raise SystemExit(
            f"{source}: needs exactly one cell tagged {KIT_TAG!r}, found {len(kit_cells)}."
        )
    kit_cells[0].source = kit_cell_source()
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number:02d}"  # stable ids: the same source gives the same bytes
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return nbformat.writes(notebook) + "\n"


def sources() -> list[Path]:
    """Every notebook source: kernels/<name>/<name>.py."""
    return sorted(p for p in ROOT.glob("kernels/*/*.py") if p.stem == p.parent.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="report stale notebooks instead of writing them (default: write)",
    )
    args = parser.parse_args(argv)
    stale = []
    for source in sources():
        target = source.with_suffix(".ipynb")
        text = build_notebook(source)
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
