"""Write the folders the TA pushes to Kaggle: the kit as a dataset, the notebooks, the GPU check.

Run (the TA, after `python -m kernels.build`; again whenever the kit changes):

    python -m kernels.publish --owner YOUR_KAGGLE_NAME --competition SLUG
    kaggle datasets create -p dist/kaggle/kit --public       # later: kaggle datasets version
    kaggle kernels push -p dist/kaggle/baseline               #   -p dist/kaggle/kit -m "..."
    kaggle kernels push -p dist/kaggle/improved
    kaggle kernels push -p dist/kaggle/gpu-check              # optional: measures T4 x2

It writes, under --out (default dist/kaggle):

* kit/: cifar10_kit.zip (grader/ and baseline/, the bytes whose sha256 the
  notebooks check) and dataset-metadata.json (id OWNER/cifar10-kit). Students'
  forks need to read it: create it public (`--public`), or share it with them;
* baseline/, improved/: the notebook and its kernel-metadata.json: id
  OWNER/cifar-10-class-NAME, the competition's data and the kit dataset
  attached, GPU T4 x2, internet on (ImageNet weights), private unless --public;
* gpu-check/: benchmarks/gpu_check.py as a Kaggle script kernel (GPU T4 x2, no
  internet, the kit attached): its log and /kaggle/working/gpu_check.json are
  the T4 x2 measurements.

A committed notebook that is stale is refused (rebuild first); so is an --out
inside the kit's own sources. Every folder is checked before anything is
written, and one is replaced only when it holds nothing but what this command
writes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from baseline.kit import KIT_ZIP, kit_zip
from kernels.build import ROOT, build_notebook, targets

KIT_DATASET = "cifar10-kit"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,49}")  # Kaggle user names and slugs


def notebook_metadata(name: str, owner: str, competition: str, public: bool) -> dict:
    """The committed kernels/NAME/kernel-metadata.json with the TA's names filled in."""
    meta = json.loads((ROOT / "kernels" / name / "kernel-metadata.json").read_text())
    meta["id"] = f"{owner}/{meta['id'].split('/', 1)[1]}"
    meta["competition_sources"] = [competition]
    meta["dataset_sources"] = [f"{owner}/{KIT_DATASET}"]
    meta["is_private"] = not public
    return meta


def gpu_check_metadata(owner: str, public: bool) -> dict:
    return {
        "id": f"{owner}/cifar10-kit-gpu-check",
        "title": "cifar10-kit gpu check",
        "code_file": "gpu_check.py",
        "language": "python",
        "kernel_type": "script",
        "is_private": not public,
        "enable_gpu": True,
        "enable_tpu": False,
        "enable_internet": False,  # synthetic data, random weights
        "machine_shape": "NvidiaTeslaT4",  # GPU T4 x2 (enable_gpu alone gives a P100)
        "dataset_sources": [f"{owner}/{KIT_DATASET}"],
        "competition_sources": [],
        "kernel_sources": [],
        "model_sources": [],
    }


def dataset_metadata(owner: str) -> dict:
    return {
        "title": KIT_DATASET,
        "id": f"{owner}/{KIT_DATASET}",
        "licenses": [{"name": "other"}],
        "description": "The code of the CIFAR-10 class competition kit (grader/ and baseline/) "
        "that the course notebooks import: attach it to a notebook, and Python imports the "
        f"packages straight from {KIT_ZIP}.",
    }


SOURCE_FOLDERS = ("baseline", "grader", "kernels", "benchmarks", "tests", "submissions", ".git")


def _check_out(out: Path, folders: dict[str, dict[str, bytes]]) -> None:
    """Refuse, before writing anything, an --out inside the kit's own source folders and a
    folder under it that is not a folder or holds files this command does not write."""
    where = out.resolve()
    for name in SOURCE_FOLDERS:
        if where == ROOT / name or (ROOT / name) in where.parents or where == ROOT:
            raise SystemExit(
                f"Error: --out {out}: inside the kit's own sources; choose a folder of its own "
                "(the default is dist/kaggle)."
            )
    if out.exists() and not out.is_dir():
        raise SystemExit(f"Error: --out {out}: not a folder; choose another --out.")
    for name, files in folders.items():
        folder = out / name
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise SystemExit(f"Error: {folder}: not a folder; choose another --out.")
        others = (
            sorted(p.name for p in folder.iterdir() if p.name not in files)
            if (folder.is_dir())
            else []
        )
        if others:
            raise SystemExit(
                f"Error: {folder} holds files this command does not write ({', '.join(others)}); "
                "choose another --out, or move them."
            )


def publish(owner: str, competition: str, out: Path, public: bool) -> list[Path]:
    """Write every folder; return them in the order they are pushed."""
    for flag, value in (("--owner", owner), ("--competition", competition)):
        if not NAME.fullmatch(value):
            raise SystemExit(
                f"Error: {flag} {value!r}: a Kaggle name is 2-50 letters, digits, '-' or '_'."
            )
    stale = [name for name, path in targets().items() if path.read_text() != build_notebook(name)]
    if stale:
        raise SystemExit(
            f"Error: the notebooks {', '.join(stale)} are stale: run `python -m kernels.build` "
            "(and commit them) first."
        )

    def as_json(data: dict) -> bytes:
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()

    folders = {
        "kit": {KIT_ZIP: kit_zip(ROOT), "dataset-metadata.json": as_json(dataset_metadata(owner))}
    }
    for name, notebook in targets().items():
        meta = notebook_metadata(name, owner, competition, public)
        folders[name] = {
            notebook.name: notebook.read_bytes(),
            "kernel-metadata.json": as_json(meta),
        }
    folders["gpu-check"] = {
        "gpu_check.py": (ROOT / "benchmarks" / "gpu_check.py").read_bytes(),
        "kernel-metadata.json": as_json(gpu_check_metadata(owner, public)),
    }
    _check_out(out, folders)
    try:
        for name, files in folders.items():
            folder = out / name
            if folder.is_dir():
                shutil.rmtree(folder)  # holds only this command's files (checked above)
            folder.mkdir(parents=True)
            for file, data in files.items():
                (folder / file).write_bytes(data)
    except OSError as exc:
        raise SystemExit(f"Error: cannot write under {out} ({exc.strerror or exc}).") from None
    return [out / name for name in folders]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kernels.publish", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--owner", required=True, help="your Kaggle user name")
    parser.add_argument(
        "--competition", required=True, help="the competition's URL name (its data is attached)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("dist/kaggle"),
        help="where to write the folders to push (default: dist/kaggle)",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="make the kernels public, so students can fork them (default: private)",
    )
    args = parser.parse_args(argv)
    folders = publish(args.owner, args.competition, args.out, args.public)
    print(f"Wrote {', '.join(str(f) for f in folders)}. Next:")
    print(f"  kaggle datasets create -p {folders[0]} --public      # the first time; after that:")
    print(f'  kaggle datasets version -p {folders[0]} -m "kit update"')
    for folder in folders[1:]:
        print(f"  kaggle kernels push -p {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
