"""Provenance: `grader notebooks pull` with the real kaggle client against the loopback
stand-in, and `grader score --notebooks`' review/provenance.csv."""

from __future__ import annotations

import csv
import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grader.provenance.notes import code_notes
from grader.provenance.pull import MARKER
from tests.helpers import ROOT, grader, review_of, score_cli
from tests.kaggle_standin import KaggleStandIn, Notebook, client_env
from tests.scoring_fixtures import solution_rows, write_predictions


def notebook_json(*cells: tuple[str, str]) -> str:
    """A Jupyter notebook's JSON with (cell type, source) cells."""
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
                | ({"outputs": [], "execution_count": None} if kind == "code" else {})
                for kind, source in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def pull(roster: Path, into: Path, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            "notebooks",
            "pull",
            "--roster",
            str(roster),
            "--into",
            str(into),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def write_roster(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["student_id,kaggle_name,kaggle_notebook"] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


RUN_JSON = json.dumps({"hardware": {"device_name": "Tesla T4", "processes": 2}}).encode()


def test_pull_gives_every_status_with_the_real_client(tmp_path):
    roster = write_roster(
        tmp_path / "roster.csv",
        [
            ("s1", "alice", "https://www.kaggle.com/code/alice/cifar10-baseline/edit"),
            ("s2", "bob", "bob/quick-save"),
            ("s3", "carol", "carol/private-one"),
            ("s4", "dave", "dave/typo-one"),
            ("s5", "erin", ""),
        ],
    )
    source = notebook_json(("code", "print('hi')\n"))
    with KaggleStandIn(set()) as kaggle:
        kaggle.notebooks["alice/cifar10-baseline"] = Notebook(
            source,
            {"submission.csv": b"id,label\n0,cat\n", "run/run.json": RUN_JSON},
            log="[]",
        )
        kaggle.notebooks["bob/quick-save"] = Notebook(source)
        kaggle.notebooks["carol/private-one"] = Notebook(source, status=403)
        process = pull(roster, tmp_path / "nb", client_env(tmp_path / "home", kaggle.proxy))
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert stderr == ""
    assert stdout.splitlines() == [
        "  alice: pulled (alice/cifar10-baseline): code and 2 output file(s)",
        "  bob: no output (bob/quick-save): its saved version has no output files (saved "
        "without running, or the run failed): ask for Save Version > Save & Run All",
        "  carol: not shared (carol/private-one): Kaggle refused it (403): the notebook is "
        "private and not shared with this account; ask the student to add it as a "
        "collaborator (Share > Add collaborators)",
        "  dave: not found (dave/typo-one): Kaggle has no such notebook (404): check the roster's "
        "kaggle_notebook",
        "Notebooks: 1 pulled, 1 no output, 1 not shared, 1 not found; 1 roster student(s) "
        f"name no notebook. Pulled into {tmp_path / 'nb'}/.",
        "  Without kaggle_notebook in the roster: s5",
    ]
    alice = tmp_path / "nb" / "alice"
    assert (alice / "code" / "cifar10-baseline.ipynb").read_text() == source
    assert json.loads((alice / "code" / "kernel-metadata.json").read_text())["id"] == (
        "alice/cifar10-baseline"
    )
    assert (alice / "output" / "submission.csv").read_bytes() == b"id,label\n0,cat\n"
    assert (alice / "output" / "run" / "run.json").read_bytes() == RUN_JSON
    assert (alice / MARKER).read_text() == "alice/cifar10-baseline\n"
    assert sorted(p.name for p in (tmp_path / "nb" / "bob" / "output").iterdir()) == []
    # Refused notebooks leave nothing, and no staging folder is left behind.
    assert sorted(p.name for p in (tmp_path / "nb").iterdir()) == ["alice", "bob"]


@pytest.mark.slow
def test_a_refused_pull_keeps_the_previous_one_and_ctrl_c_leaves_no_half(tmp_path):
    roster = write_roster(
        tmp_path / "roster.csv",
        [("s1", "alice", "alice/cifar-run"), ("s2", "bob", "bob/cifar-run")],
    )
    source = notebook_json(("code", "x = 1\n"))
    into = tmp_path / "nb"
    with KaggleStandIn(set()) as kaggle:
        env = client_env(tmp_path / "home", kaggle.proxy)
        kaggle.notebooks["alice/cifar-run"] = Notebook(source, {"submission.csv": b"first\n"})
        kaggle.notebooks["bob/cifar-run"] = Notebook(source, {"a.csv": b"a\n", "b.csv": b"b\n"})
        first = pull(roster, into, env)
        assert first.communicate(timeout=120)[0].startswith("  alice: pulled"), first.stderr
        # alice unshares her notebook; bob's second pull is interrupted half-way.
        kaggle.notebooks["alice/cifar-run"].status = 403
        kaggle.notebooks["bob/cifar-run"].outputs = {"a.csv": b"new a\n", "b.csv": b"new b\n"}
        kaggle.hold = "b.csv"
        second = pull(roster, into, env)
        assert kaggle.arrived.wait(timeout=120)
        second.send_signal(signal.SIGINT)
        kaggle.release.set()
        stdout, _ = second.communicate(timeout=120)
    assert second.returncode == 130
    assert stdout.splitlines()[0].startswith("  alice: not shared (alice/cifar-run)")
    assert "Interrupted: the students listed above were pulled" in stdout
    # alice keeps the earlier pull; bob's folder is the earlier one, whole.
    assert (into / "alice" / "output" / "submission.csv").read_bytes() == b"first\n"
    assert (into / "bob" / "output" / "a.csv").read_bytes() == b"a\n"
    assert (into / "bob" / "output" / "b.csv").read_bytes() == b"b\n"
    assert sorted(p.name for p in into.iterdir()) == ["alice", "bob"]


def test_pull_refuses_a_folder_it_did_not_write_and_a_bad_roster_value(tmp_path):
    roster = write_roster(tmp_path / "roster.csv", [("s1", "alice", "alice/cifar-run")])
    (tmp_path / "nb" / "alice").mkdir(parents=True)
    (tmp_path / "nb" / "alice" / "mine.txt").write_text("the TA's own notes")
    with KaggleStandIn(set()) as kaggle:
        kaggle.notebooks["alice/cifar-run"] = Notebook(notebook_json(), {"s.csv": b"x\n"})
        process = pull(roster, tmp_path / "nb", client_env(tmp_path / "home", kaggle.proxy))
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert stderr == (
        f"Error: {tmp_path / 'nb' / 'alice'}: exists and was not written by grader notebooks "
        "pull (no .grader-notebook file); refusing to replace it. Move it away or choose "
        "another --into.\n"
    )
    assert (tmp_path / "nb" / "alice" / "mine.txt").read_text() == "the TA's own notes"
    bad = write_roster(tmp_path / "bad.csv", [("s1", "alice", "https://www.kaggle.com/alice")])
    result = grader("notebooks", "pull", "--roster", str(bad), "--into", str(tmp_path / "x"))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --roster {bad} line 2: kaggle_notebook 'https://www.kaggle.com/alice' names "
        "no Kaggle notebook; write owner/slug or the notebook's address, "
        "https://www.kaggle.com/code/owner/slug.\n"
    )


# ----------------------------------------------------------------------------
# grader score --notebooks
# ----------------------------------------------------------------------------


def pulled(into: Path, participant: str, code: str, outputs: dict[str, bytes]) -> Path:
    """A folder as grader notebooks pull writes it."""
    folder = into / participant
    (folder / "code").mkdir(parents=True)
    (folder / "output").mkdir()
    (folder / MARKER).write_text(f"{participant}/cifar-run\n")
    (folder / "code" / "nb.ipynb").write_text(code)
    for name, data in outputs.items():
        (folder / "output" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "output" / name).write_bytes(data)
    return folder


@pytest.mark.slow
def test_score_says_which_graded_file_each_notebook_wrote(competition, tmp_path):
    rows = solution_rows(competition)
    ids = [int(r["id"]) for r in rows]
    subs = tmp_path / "subs"
    write_predictions(subs / "baseline.csv", rows, wrong=set(ids[:20]))
    for name, wrong in (("alice", ids[:2]), ("bob", ids[:4]), ("dave", ids[:6]), ("erin", [])):
        write_predictions(subs / f"{name}.csv", rows, wrong=set(wrong))
    # bob's notebook wrote a submission that differs from his file on 10 of the 50 ids.
    write_predictions(tmp_path / "bob-run.csv", rows, wrong=set(ids[4:14]))
    manifest = json.loads((competition / "private" / "manifest.json").read_text())
    test_sha = manifest["files"]["public/test_images.npy"]
    run_json = {
        "hardware": {"device_name": "Tesla T4", "processes": 2},
        "kit": {"sha256": "0123456789abcdef" * 4},
        "inputs": {"test_images.npy": test_sha},
    }
    nb = tmp_path / "notebooks"
    clean = notebook_json(("markdown", "# test_batch is not used"), ("code", "x = 1\n"))
    pulled(
        nb,
        "alice",
        clean,
        {
            "submission.csv": (subs / "alice.csv").read_bytes(),
            "run/run.json": json.dumps(run_json).encode(),
        },
    )
    pulled(nb, "bob", clean, {"submission.csv": (tmp_path / "bob-run.csv").read_bytes()})
    pulled(
        nb,
        "erin",
        notebook_json(
            ("markdown", "# Data"),
            ("code", "import pickle\n\nlabels = pickle.load(open('cifar/test_batch', 'rb'))\n"),
        ),
        {},
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,kaggle_name,kaggle_notebook\n1,alice,alice/cifar-run\n2,bob,\n3,carol,carol/cifar-run\n"
        "4,dave,\n5,erin,erin/cifar-run\n"
    )
    common = ("--roster", str(roster), "--baseline", "baseline", "--staff", "baseline")
    plain = score_cli(subs, competition, tmp_path / "plain", *common)
    with_notebooks = score_cli(
        subs, competition, tmp_path / "board", *common, "--notebooks", str(nb)
    )
    assert with_notebooks.returncode == 0, with_notebooks.stderr
    review = review_of(tmp_path / "board")
    with (review / "provenance.csv").open() as f:
        table = [dict(r) for r in csv.DictReader(f)]
    assert table == [
        {
            "participant": "alice",
            "file": "alice.csv",
            "notebook": "alice/cifar-run",
            "status": "reproduced",
            "agreement": "1.0000",
            "device": "Tesla T4 x2",
            "kit": "kit 0123456789ab; this competition's test images",
            "code_notes": "",
        },
        {
            "participant": "bob",
            "file": "bob.csv",
            "notebook": "bob/cifar-run",  # not in the roster: what the pull wrote down
            "status": "differs",
            "agreement": "0.7200",  # the files differ on ids 0-3 and 4-13: 36 of 50 agree
            "device": "",
            "kit": "",
            "code_notes": "",
        },
        {
            "participant": "carol",
            "file": "",
            "notebook": "carol/cifar-run",
            "status": "not pulled",
            "agreement": "",
            "device": "",
            "kit": "",
            "code_notes": "",
        },
        {
            "participant": "dave",
            "file": "dave.csv",
            "notebook": "",
            "status": "no notebook",
            "agreement": "",
            "device": "",
            "kit": "",
            "code_notes": "",
        },
        {
            "participant": "erin",
            "file": "erin.csv",
            "notebook": "erin/cifar-run",
            "status": "no output",
            "agreement": "",
            "device": "",
            "kit": "",
            "code_notes": "nb.ipynb cell 2 line 3: names test_batch, the CIFAR-10 archive's "
            "file of test labels",
        },
    ]
    flags = (review / "flags.csv").read_text()
    assert (
        "provenance,bob,bob.csv,\"the notebook bob/cifar-run's output holds a submission" in flags
    )
    assert 'provenance,erin,erin.csv,"code: nb.ipynb cell 2 line 3: names test_batch' in flags
    assert (
        "Provenance: 1 reproduced, 1 differ, 1 without output, 1 not pulled, 1 without a "
        f"notebook, 1 code note(s) ({review / 'provenance.csv'}; TA only)."
    ) in with_notebooks.stdout
    # The public board is byte for byte the same with and without --notebooks.
    for path in sorted((tmp_path / "plain").rglob("*")):
        twin = tmp_path / "board" / path.relative_to(tmp_path / "plain")
        assert path.is_dir() or path.read_bytes() == twin.read_bytes(), path.name
    assert plain.returncode == 0


def test_the_course_notebooks_have_no_code_notes(tmp_path):
    for name in ("baseline", "improved"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.ipynb").write_bytes(
            (ROOT / "kernels" / name / f"{name}.ipynb").read_bytes()
        )
        assert code_notes(folder) == [], name


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "from torchvision.datasets import CIFAR10\nds = CIFAR10('data', train=False,\n"
            "    download=True)\n",
            "cell 1 line 2: loads torchvision's CIFAR10(train=False): the test images with labels",
        ),
        (
            "from datasets import load_dataset\n"
            "d = load_dataset('uoft-cs/cifar10', split='test')\n",
            "cell 1 line 2: loads Hugging Face's cifar10 data set, whose test split has labels",
        ),
        (
            "labels = [" + ", ".join(str(i % 10) for i in range(10_000)) + "]\n",
            "cell 1 line 1: a literal of 10,000 labels",
        ),
        (
            "!wget -q https://example.org/cifar/labels.npy\n",
            "cell 1 line 1: downloads https://example.org/cifar/labels.npy (outside Kaggle)",
        ),
        (
            "!wget https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\n",
            "cell 1 line 1: names the original CIFAR-10 archive, which holds the test labels",
        ),
    ],
)
def test_each_source_of_test_labels_is_named_with_its_cell_and_line(tmp_path, code, expected):
    (tmp_path / "nb.ipynb").write_text(notebook_json(("code", code)))
    notes = [str(n) for n in code_notes(tmp_path)]
    assert f"nb.ipynb {expected}" in notes


def test_allowed_downloads_and_a_train_set_load_are_no_notes(tmp_path):
    code = (
        "CIFAR10('data', train=True)\n"
        "!wget https://download.pytorch.org/models/resnet50-0676ba61.pth\n"
        "!pip install -U accelerate\n"
    )
    (tmp_path / "nb.ipynb").write_text(notebook_json(("code", code)))
    assert code_notes(tmp_path) == []


def test_run_json_names_the_kit_and_the_test_files_it_read(training_bundle, tmp_path):
    from baseline.kit import loaded_kit
    from baseline.record import input_digests, kit_record

    digests = input_digests(training_bundle)
    public = training_bundle  # the public folder itself
    assert digests == {
        name: hashlib.sha256((public / name).read_bytes()).hexdigest()
        for name in ("test_images.npy", "test.csv")
    }
    assert kit_record()["sha256"] == loaded_kit()[0]
