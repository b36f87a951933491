"""`grader score --notebooks DIR`: is the graded file one that the student's notebook wrote?

DIR is what `grader notebooks pull` writes: `DIR/<participant>/code/` (the
notebook's latest saved version and kernel-metadata.json) and
`DIR/<participant>/output/` (the files its run wrote). One row per participant
who is ranked (staff aside), has a folder in DIR, or names a notebook in the
roster (`kaggle_notebook`):

* `reproduced`: a CSV of the output is byte-identical to the graded file (the
  participant's file on the board);
* `differs`: the output holds a valid submission CSV, but none is the graded
  file; `agreement` is the share of test ids on which the closest one gives the
  graded file's label (empty when nothing is graded);
* `no output`: the notebook was pulled, but its output holds no valid submission;
* `not pulled`: the roster names a notebook, and DIR has nothing for it;
* `no notebook`: neither a folder in DIR nor a `kaggle_notebook` in the roster.

`device` and `kit` come from the output's run.json when the kit's notebook wrote
one: the GPU and how many processes, the kit's sha256 (first 12 characters), and
whether the test images the run read are this competition's (their sha256
against the bundle's private/manifest.json). `code_notes` are
grader.provenance.notes' findings. Everything here is for the TA alone (the
notebooks may be private): review/provenance.csv, and a `provenance` flag for
every `differs` and every code note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from grader.bundle.submission import SubmissionChecker
from grader.core import names
from grader.core.fileio import read_head_and_digest
from grader.core.text import csv_cell, csv_text
from grader.provenance.notes import Note, code_notes
from grader.provenance.pull import MARKER
from grader.score.entry import BoardRow, Entry
from grader.stats.integrity import Flag

ProvenanceStatus = Literal["reproduced", "differs", "no output", "not pulled", "no notebook"]
STATUSES: tuple[ProvenanceStatus, ...] = get_args(ProvenanceStatus)
COLUMNS = ["participant", "file", "notebook", "status", "agreement", "device", "kit", "code_notes"]
TEST_IMAGES = "public/test_images.npy"  # its key in the bundle manifest's "files"


@dataclass(frozen=True)
class Provenance:
    """One row of review/provenance.csv."""

    participant: str
    file: str  # the graded file ('' when the participant has none)
    notebook: str  # owner/slug
    status: ProvenanceStatus
    agreement: float | None
    device: str
    kit: str
    notes: tuple[Note, ...] = ()


def provenance_rows(
    folder: Path,
    board: list[BoardRow],
    checker: SubmissionChecker,
    notebooks: dict[str, str],
    test_sha256: str | None,
) -> list[Provenance]:
    """One row per participant ranked on `board` (staff aside), with a folder in `folder`,
    or named in `notebooks` (participant -> owner/slug from the roster)."""
    graded = {row.participant: row.entry for row in board if not row.staff}
    pulled = _pulled_folders(folder)
    everyone = sorted(set(graded) | set(pulled) | set(notebooks))
    return [
        _row(p, graded.get(p), pulled.get(p), notebooks.get(p, ""), checker, test_sha256)
        for p in everyone
    ]


def _pulled_folders(folder: Path) -> dict[str, Path]:
    """participant -> their folder, for the folders `grader notebooks pull` wrote."""
    found = {}
    for path in sorted(folder.iterdir()):
        pulled = path.is_dir() and not path.is_symlink() and (path / MARKER).is_file()
        if pulled and not names.name_problem(path.name):
            found[names.identity(path.name)] = path
    return found


def _row(
    participant: str,
    entry: Entry | None,
    place: Path | None,
    notebook: str,
    checker: SubmissionChecker,
    test_sha256: str | None,
) -> Provenance:
    file = entry.file if entry is not None else ""
    if place is None:
        status: ProvenanceStatus = "not pulled" if notebook else "no notebook"
        return Provenance(
            participant=participant,
            file=file,
            notebook=notebook,
            status=status,
            agreement=None,
            device="",
            kit="",
        )
    device, kit = _run_record(place / "output", test_sha256)
    status, agreement = _compared(entry, _output_csvs(place / "output", checker))
    return Provenance(
        participant=participant,
        file=file,
        notebook=notebook or _pulled_ref(place),
        status=status,
        agreement=agreement,
        device=device,
        kit=kit,
        notes=tuple(code_notes(place / "code")),
    )


def _compared(
    entry: Entry | None, outputs: list[tuple[str, np.ndarray | None]]
) -> tuple[ProvenanceStatus, float | None]:
    """(status, agreement) of a pulled notebook's output against the graded file."""
    if entry is not None and any(digest == entry.sha256 for digest, _ in outputs):
        return "reproduced", 1.0
    valid = [labels for _, labels in outputs if labels is not None]
    if not valid:
        return "no output", None
    if entry is None or entry.predicted is None:
        return "differs", None
    return "differs", max(float(np.mean(labels == entry.predicted)) for labels in valid)


def _output_csvs(output: Path, checker: SubmissionChecker) -> list[tuple[str, np.ndarray | None]]:
    """(sha256, the predicted labels when it is a valid submission) of every CSV the run
    wrote, in any subfolder; links are not followed."""
    found = []
    if not output.is_dir():
        return found
    for path in sorted(output.rglob("*")):
        if path.suffix.lower() != ".csv" or path.is_symlink() or not path.is_file():
            continue
        data, digest = read_head_and_digest(path, checker.max_bytes + 1)
        checked = checker.check_bytes(data, path.name)
        found.append((digest, checked.labels if checked.valid else None))
    return found


def _pulled_ref(place: Path) -> str:
    """owner/slug of a pulled folder: kernel-metadata.json's id, else what the pull wrote in
    its marker file."""
    try:
        metadata = json.loads((place / "code" / "kernel-metadata.json").read_text("utf-8"))
        if isinstance(metadata, dict) and metadata.get("id"):
            return str(metadata["id"])
    except (OSError, ValueError):
        pass
    try:
        return (place / MARKER).read_text("utf-8").strip()
    except OSError:
        return ""


def _run_record(output: Path, test_sha256: str | None) -> tuple[str, str]:
    """(device, kit) from the kit's run.json in the output ('' where it says nothing)."""
    records = sorted(output.rglob("run.json")) if output.is_dir() else []
    for path in records:
        try:
            record = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        return _device(record.get("hardware")), _kit(record, test_sha256)
    return "", ""


def _device(hardware) -> str:
    if not isinstance(hardware, dict):
        return ""
    name = str(hardware.get("device_name") or hardware.get("device") or "")
    processes = hardware.get("processes")
    return f"{name} x{processes}" if name and isinstance(processes, int) and processes > 1 else name


def _kit(record: dict, test_sha256: str | None) -> str:
    kit = record.get("kit") if isinstance(record.get("kit"), dict) else {}
    inputs = record.get("inputs") if isinstance(record.get("inputs"), dict) else {}
    parts = []
    if kit.get("sha256"):
        parts.append(f"kit {str(kit['sha256'])[:12]}")
    read = inputs.get("test_images.npy")
    if read and test_sha256:
        parts.append(
            "this competition's test images"
            if read == test_sha256
            else "test images that are not this competition's"
        )
    return "; ".join(parts)


def provenance_flags(rows: list[Provenance]) -> list[Flag]:
    """A `provenance` flag per `differs` row and per code note."""
    flags = []
    for r in rows:
        if r.status == "differs":
            share = (
                f" (same label on {100 * r.agreement:.1f}% of the test ids)"
                if r.agreement is not None
                else ""
            )
            flags.append(
                Flag(
                    kind="provenance",
                    participants=(r.participant,),
                    files=(r.file,) if r.file else (),
                    reason=f"the notebook {r.notebook}'s output holds a submission, but not "
                    f"the graded file{share}",
                )
            )
        for note in r.notes:
            flags.append(
                Flag(
                    kind="provenance",
                    participants=(r.participant,),
                    files=(r.file,) if r.file else (),
                    reason=f"code: {note}",
                )
            )
    return flags


def provenance_csv(rows: list[Provenance]) -> str:
    """review/provenance.csv's text, names neutralised for spreadsheets."""
    return csv_text(
        COLUMNS,
        [
            [
                csv_cell(r.participant),
                csv_cell(r.file),
                csv_cell(r.notebook),
                r.status,
                "" if r.agreement is None else f"{r.agreement:.4f}",
                csv_cell(r.device),
                csv_cell(r.kit),
                csv_cell(" | ".join(str(n) for n in r.notes)),
            ]
            for r in rows
        ],
    )


def provenance_text(rows: list[Provenance], path: Path) -> str:
    """One terminal line: the counts per status and the code notes."""
    counts = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    shown = {
        "reproduced": "reproduced",
        "differs": "differ",
        "no output": "without output",
        "not pulled": "not pulled",
        "no notebook": "without a notebook",
    }
    notes = sum(len(r.notes) for r in rows)
    parts = [f"{n} {shown[s]}" for s, n in counts.items() if n]
    return (
        f"Provenance: {', '.join(parts) or 'no participant'}, {notes} code note(s) "
        f"({path}; TA only)."
    )
