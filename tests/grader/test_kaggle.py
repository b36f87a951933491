"""`grader submit`: the real kaggle client against a stand-in of Kaggle's API on loopback."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from grader.bundle.prepare import prepare
from tests.kaggle_standin import KaggleStandIn, client_env

SLUG = "cifar10-class"


@pytest.fixture(scope="module")
def public(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("submit") / "competition"
    prepare(str(sources["imagefolder-zip"]), out, seed=6, progress=False)
    return out / "public"


def submit(path: Path, public: Path, env: dict[str, str], slug: str = SLUG):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "submit",
            str(path),
            "--competition",
            slug,
            "-m",
            "resnet50, 3 epochs",
            "--data",
            str(public),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_valid_file_is_uploaded_byte_for_byte(public, tmp_path):
    path = tmp_path / "submission.csv"
    path.write_bytes((public / "sample_submission.csv").read_bytes().replace(b"\n", b"\r\n"))
    with KaggleStandIn({SLUG}) as kaggle:
        result = submit(path, public, client_env(tmp_path / "home", kaggle.proxy))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{path}: valid, submitted to {SLUG} (ref 31337): Successfully submitted to {SLUG}\n"
    )
    assert list(kaggle.uploads.values()) == [path.read_bytes()]
    methods = [call[0] for call in kaggle.calls]
    assert methods == ["StartSubmissionUpload", "CreateSubmission"]
    start = kaggle.calls[0][2]
    assert (start["competitionName"], start["fileName"], start["contentLength"]) == (
        SLUG,
        "submission.csv",
        path.stat().st_size,
    )
    assert kaggle.submissions == [
        {
            "competitionName": SLUG,
            "blobFileTokens": "blob-1",
            "submissionDescription": "resnet50, 3 epochs",
        }
    ]
    assert kaggle.calls[0][1] == "Basic " + base64.b64encode(b"student:abc").decode()


def test_an_invalid_file_is_never_sent(public, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("id,label\n0,cat\n0,dog\n")
    with KaggleStandIn({SLUG}) as kaggle:
        result = submit(path, public, client_env(tmp_path / "home", kaggle.proxy))
    assert result.returncode == 1
    assert result.stdout == (
        f"{path}: invalid, 2 problems:\n"
        "  1. duplicate id on 1 line: line 3 (id 0, first on line 2).\n"
        "  2. 49 of the 50 test ids have no row (ids 1, 2, 3, ...).\n"
        "Not submitted: fix the file first.\n"
    )
    assert kaggle.calls == [] and kaggle.uploads == {}


def test_missing_credentials_are_explained_before_the_client_is_loaded(public, tmp_path):
    with KaggleStandIn({SLUG}) as kaggle:
        result = submit(
            public / "sample_submission.csv",
            public,
            client_env(tmp_path / "home", kaggle.proxy, credentials=False),
        )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: no Kaggle credentials found: create an API token on kaggle.com (Settings > "
        "API > Create New Token) and put the downloaded kaggle.json in ~/.kaggle/ (chmod 600), "
        "or set KAGGLE_USERNAME and KAGGLE_KEY.\n"
    )
    assert kaggle.calls == []


def test_an_unknown_competition(public, tmp_path):
    with KaggleStandIn({SLUG}) as kaggle:
        result = submit(
            public / "sample_submission.csv",
            public,
            client_env(tmp_path / "home", kaggle.proxy),
            slug="cifar-typo",
        )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: Kaggle has no competition 'cifar-typo' that accepts submissions (Competition "
        "not found). Use the name in the competition's address: kaggle.com/competitions/<name>. "
        "Have you joined it (accepted its rules)?\n"
    )
    assert kaggle.uploads == {}


def test_a_network_failure(public, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = submit(public / "sample_submission.csv", public, client_env(tmp_path / "home", closed))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: could not reach Kaggle (")
    assert result.stderr.endswith(
        "). Check the internet connection and try again; see your competition's My "
        "Submissions page for what arrived.\n"
    )
