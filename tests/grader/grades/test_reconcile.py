"""Kaggle's leaderboard download against the files handed in (grader score
--kaggle-leaderboard), and `grader leaderboard download` through the real kaggle client."""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import pytest

from grader.core.errors import UsageError
from grader.grades.reconcile import Team, read_kaggle_board
from tests.helpers import ROOT, grader, review_of, score_cli
from tests.kaggle_standin import KaggleStandIn, client_env
from tests.scoring_fixtures import solution_rows, write_predictions

DATA = ROOT / "tests" / "data"
NEWER = DATA / "kaggle_leaderboard_newer.zip"
OLDER = DATA / "kaggle_leaderboard_older.csv"


def test_the_newer_layout_zip_with_a_bom():
    board = read_kaggle_board(NEWER)
    assert board.layout == "newer"
    assert board.teams == [
        Team("10001", "Alice L.", ("alice",), 1.0, "1.00000", 2),
        Team("10002", "Bob, and Bo", ("bob", "bo_2"), 0.93333, "0.93333", 3),
        Team("10003", "Carol", ("carol99",), 0.86667, "0.86667", 4),
        Team("10004", "dan", ("danny",), 0.8, "0.80000", 5),
        Team("10005", "Eve Ghost", ("eveg",), 0.73333, "0.73333", 6),
    ]


def test_the_older_layout_keeps_each_teams_latest_row():
    board = read_kaggle_board(OLDER)
    assert board.layout == "older"
    assert board.teams == [
        Team("10002", "bob", (), 0.93333, "0.93333", 3),
        Team("10001", "alice", (), 1.0, "1.00000", 4),  # not 0.80000 of 2026-11-20
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"Team,Points\nx,1\n",
            "line 1: no TeamName or Score column, found Team, Points. Expected Kaggle's "
            "leaderboard download: Rank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,"
            "TeamMemberUserNames (or TeamId,TeamName,SubmissionDate,Score).",
        ),
        (
            b"TeamId,TeamName,SubmissionDate,Score\n1,a,2026-11-20,\n",
            "line 2: Score '' is not a number. Pass the file as downloaded from Kaggle.",
        ),
        (b"\xff\xfeT\x00", "not UTF-8 text"),
        (
            b"\xef\xbb\xbfRank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,"
            b"TeamMemberUserNames\r\n",
            "line 1: a header and no team. Has anyone submitted yet? Download it again when "
            "the leaderboard has teams.",
        ),
        (
            b"<!DOCTYPE html><html><head>" + b"x" * 5000 + b"\n<body>\n",
            "line 1: no TeamName or Score column, found <!DOCTYPE html><html><head>"
            + "x" * 52
            + "…, which looks like a web page, not the CSV. Expected Kaggle's leaderboard "
            "download:",
        ),
        (
            b"TeamName,Score,Score\na,0.5,0.9\n",
            "line 1: the column 'score' appears 2 times; keep one.",
        ),
        (
            b"TeamId,TeamName,SubmissionDate,Score\n1,a,9/30/2026 10:00:00 AM,0.5\n",
            "line 2: SubmissionDate '9/30/2026 10:00:00 AM' is not a date as Kaggle writes it "
            "(2026-11-28 10:00:00), by which each team's latest row is chosen. Pass the file "
            "as downloaded from Kaggle.",
        ),
        (
            b'TeamName,Score\n"a,0.5\nb,0.7\n',
            "line 2: a quote opened on this line is never closed.",
        ),
        (
            b"TeamName,Score\na,0.5\nb,0.7,x\n",
            "line 3: 3 cells, but the header has 2 columns (a ',' in a name needs quotes).",
        ),
    ],
)
def test_a_bad_leaderboard_file_names_the_line(tmp_path, content, message):
    path = tmp_path / "lb.csv"
    path.write_bytes(content)
    with pytest.raises(UsageError) as info:
        read_kaggle_board(path)
    assert str(info.value).startswith(f"--kaggle-leaderboard {path}: {message}"[:60])
    assert message in str(info.value)


def test_a_zip_that_is_not_one_leaderboard(tmp_path):
    path = tmp_path / "lb.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "TeamName,Score\n")
        archive.writestr("b.csv", "TeamName,Score\n")
    with pytest.raises(UsageError) as info:
        read_kaggle_board(path)
    assert str(info.value) == (
        f"--kaggle-leaderboard {path}: not a readable zip file (expected one .csv inside, found "
        "a.csv, b.csv). Download it again."
    )


def test_a_damaged_zip_is_called_damaged(tmp_path):
    path = tmp_path / "lb.zip"
    path.write_bytes(NEWER.read_bytes()[:200])  # an interrupted download
    with pytest.raises(UsageError) as info:
        read_kaggle_board(path)
    assert str(info.value) == (
        f"--kaggle-leaderboard {path}: a damaged zip file (it ends before its table of "
        "contents: an interrupted download?). Download it again."
    )


# ----------------------------------------------------------------------------
# End to end: the sample leaderboards against files whose scores are known
# ----------------------------------------------------------------------------


@pytest.fixture
def handed_in(competition, tmp_path) -> Path:
    """The submissions the sample leaderboards describe (Public split: 15 images)."""
    rows = solution_rows(competition)
    public = [int(r["id"]) for r in rows if r["Usage"] == "Public"]
    assert len(public) == 15
    subs = tmp_path / "subs"
    write_predictions(subs / "alice" / "2026-11-20T10-00-00_a.csv", rows, set(public[:3]))  # 0.8
    write_predictions(subs / "alice" / "2026-11-28T10-00-00_b.csv", rows, set())  # 1.0
    write_predictions(subs / "bob.csv", rows, set(public[:2]))  # 13/15: Kaggle says 14/15
    write_predictions(subs / "carol.csv", rows, set(public[:2]))  # 13/15 = 0.86667
    write_predictions(subs / "dan.csv", rows, set(public[:3]))  # 12/15 = 0.8
    write_predictions(subs / "frank.csv", rows, set(public[:4]))  # not on Kaggle
    return subs


def test_the_newer_leaderboard_reconciled_end_to_end(handed_in, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(handed_in, competition, out, "--kaggle-leaderboard", str(NEWER))
    assert result.returncode == 0, result.stderr
    review = review_of(out)
    summary = result.stdout.split("\n\nKaggle reconciliation", 1)[1].split("\n\nHistory:")[0]
    assert summary == (
        f" ({NEWER}: 5 team(s), newer column layout; compared on the public split's accuracy "
        "at 5 decimals): 3 of 4 participants with a Kaggle entry reproduce its score with a "
        "file handed in.\n"
        "  No file reproduces the Kaggle score (the file handed in is not the file "
        "submitted?): bob (Kaggle 0.93333, closest bob.csv 0.86667).\n"
        "  Kaggle teams with no file: 'Eve Ghost' (members eveg).\n"
        "  Files but no Kaggle entry: frank.\n"
        "  Matched by team name (a display name, check it): Kaggle team 'Carol' is "
        "participant 'carol'.\n"
        "  Matched by team name (a display name, check it): Kaggle team 'dan' is "
        "participant 'dan'.\n"
        f"  Per participant: {review / 'reconciliation.csv'}"
    )
    with (review / "reconciliation.csv").open(newline="") as f:
        rows = [tuple(r.values()) for r in csv.DictReader(f)]
    assert rows == [
        ("alice", "", "10001", "Alice L.", "alice", "user name", "1.00000",
         "alice/2026-11-28T10-00-00_b.csv", "alice/2026-11-28T10-00-00_b.csv", "1.00000",
         "reproduced"),
        ("bob", "", "10002", "Bob, and Bo", "bob,bo_2", "user name", "0.93333", "", "bob.csv",
         "0.86667", "not reproduced"),
        ("carol", "", "10003", "Carol", "carol99", "team name", "0.86667", "carol.csv",
         "carol.csv", "0.86667", "reproduced"),
        ("dan", "", "10004", "dan", "danny", "team name", "0.80000", "dan.csv", "dan.csv",
         "0.80000", "reproduced"),
        ("frank", "", "", "", "", "", "", "", "frank.csv", "0.73333", "no Kaggle entry"),
        ("", "", "10005", "Eve Ghost", "eveg", "", "0.73333", "", "", "", "no file"),
    ]  # fmt: skip
    # TA-only: nothing of it reaches the board students may see.
    assert not (out / "reconciliation.csv").exists()
    assert "reconciliation.csv" in (review / "README.md").read_text()
    assert (review / "reconciliation.csv").stat().st_mode & 0o777 == 0o600


def test_the_older_leaderboard_matches_team_names(handed_in, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(handed_in, competition, out, "--kaggle-leaderboard", str(OLDER))
    assert result.returncode == 0, result.stderr
    with (review_of(out) / "reconciliation.csv").open(newline="") as f:
        status = {(r["participant"], r["kaggle_team_name"]): r["status"] for r in csv.DictReader(f)}
    assert status == {
        ("alice", "alice"): "reproduced",  # her latest row, 1.00000
        ("bob", "bob"): "not reproduced",
        ("carol", ""): "no Kaggle entry",
        ("dan", ""): "no Kaggle entry",
        ("frank", ""): "no Kaggle entry",
    }


def test_a_metric_mismatch_is_hinted(handed_in, competition, tmp_path):
    """A leaderboard scored by macro-F1 matches nobody's accuracy: the run says what does."""
    from grader.bundle.answers import load_solution
    from grader.score.scoring import score_folder

    key = load_solution(competition / "private" / "solution.csv")
    scored = {e.file: e for e in score_folder(handed_in, key)}
    lines = ["TeamName,Score"] + [
        f"{name},{scored[file].metrics['public'].macro_f1:.5f}"
        for name, file in (("carol", "carol.csv"), ("dan", "dan.csv"), ("frank", "frank.csv"))
    ]
    path = tmp_path / "f1.csv"
    path.write_text("\n".join(lines) + "\n")
    result = score_cli(
        handed_in, competition, tmp_path / "board", "--kaggle-leaderboard", str(path)
    )
    assert (
        "  3 of the participants not reproduced match Kaggle on the public split's macro_f1: "
        "is that the competition's metric and split? Try --rank-by macro_f1.\n"
    ) in result.stdout


def test_a_bad_leaderboard_is_refused_before_anything_is_written(handed_in, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(
        handed_in, competition, out, "--kaggle-leaderboard", str(tmp_path / "no.zip")
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --kaggle-leaderboard {tmp_path / 'no.zip'}: no such file. Download it with "
        "grader leaderboard download --competition SLUG (or kaggle competitions leaderboard "
        "SLUG --download).\n"
    )
    assert not out.exists() and not review_of(out).exists()


# ----------------------------------------------------------------------------
# grader leaderboard download: the real client against the stand-in
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_leaderboard_download_saves_the_zip_kaggle_sends(tmp_path):
    sent = NEWER.read_bytes()
    with KaggleStandIn({"cifar10-class"}, {"cifar10-class": sent}) as kaggle:
        env = client_env(tmp_path / "home", kaggle.proxy)
        result = _download(env, tmp_path / "lb", "cifar10-class")
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "lb" / "cifar10-class.zip"
    assert saved.read_bytes() == sent
    assert [p.name for p in (tmp_path / "lb").iterdir()] == ["cifar10-class.zip"]  # no partial
    assert result.stdout == (
        f"Saved {saved}: 5 team(s), newer column layout. Check it against the files handed in: "
        f"grader score SUBMISSIONS_DIR --kaggle-leaderboard {saved}\n"
    )
    assert [c[0] for c in kaggle.calls] == ["DownloadLeaderboard"]
    assert kaggle.calls[0][2] == {"competitionName": "cifar10-class"}


@pytest.mark.slow
def test_leaderboard_download_of_an_unknown_competition(tmp_path):
    with KaggleStandIn({"cifar10-class"}, {}) as kaggle:
        env = client_env(tmp_path / "home", kaggle.proxy)
        result = _download(env, tmp_path / "lb", "cifar-typo")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: Kaggle has no competition 'cifar-typo' whose leaderboard you can see (Competition "
        "not found). Use the name in the competition's address: kaggle.com/competitions/<name>. "
        "Have you joined it (accepted its rules)?\n"
    )
    assert not (tmp_path / "lb" / "cifar-typo.zip").exists()


def test_an_interrupted_download_keeps_the_previous_one(tmp_path, monkeypatch):
    """The client writes SLUG.zip as the bytes arrive: it writes into a hidden folder, and
    only a complete download replaces the earlier one."""
    import requests

    from grader import kaggle as submit
    from grader.kaggle import SubmitError, download_leaderboard

    class Cut:
        def competition_leaderboard_download(self, competition, path, quiet):
            (Path(path) / f"{competition}.zip").write_bytes(b"PK\x03\x04 half")
            raise requests.exceptions.ConnectionError("connection reset")

    monkeypatch.setattr(submit, "credentials_found", lambda: True)
    monkeypatch.setattr(submit, "client", Cut)
    out = tmp_path / "lb"
    out.mkdir()
    (out / "cifar10-class.zip").write_bytes(NEWER.read_bytes())
    with pytest.raises(SubmitError, match="could not reach Kaggle"):
        download_leaderboard("cifar10-class", out)
    assert [p.name for p in out.iterdir()] == ["cifar10-class.zip"]
    assert (out / "cifar10-class.zip").read_bytes() == NEWER.read_bytes()


def _download(env: dict[str, str], out: Path, slug: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "grader", "leaderboard", "download", "--competition", slug,
         "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )  # fmt: skip


def test_grader_never_downloads_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env["HOME"] = str(tmp_path)
    result = _download({**env, "PYTHONPATH": str(ROOT)},
                       tmp_path / "lb", "x")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("Error: no Kaggle credentials found: create an API token")
    assert grader("leaderboard", "--help").returncode == 0


def test_a_hint_needs_more_matches_elsewhere_than_reproductions():
    """docs/score.md: the hint comes when more participants not reproduced match the other metric
    or split than reproduce on the chosen one."""
    from grader.grades.reconcile import _hints

    assert _hints({"public macro_f1": 2}, 2, "public", "accuracy") == []
    assert _hints({"public macro_f1": 3, "private accuracy": 3}, 2, "public", "accuracy") == [
        "3 of the participants not reproduced match Kaggle on the private split's accuracy: "
        "is that the competition's metric and split? Try --final.",
        "3 of the participants not reproduced match Kaggle on the public split's macro_f1: "
        "is that the competition's metric and split? Try --rank-by macro_f1.",
    ]
