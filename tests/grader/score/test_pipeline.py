"""`grader score`: finding files, ranking rules, and a hostile folder end to end."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from grader.core.errors import UsageError
from grader.score.discover import discover
from grader.score.entry import Entry
from grader.score.ranking import leaderboard
from grader.stats.metrics import Metrics, metrics_from_confusion
from tests.helpers import ROOT, grader, review_of, score_cli, when
from tests.scoring_fixtures import (
    HOSTILE_FORMULA,
    HOSTILE_HTML,
    solution_rows,
    write_predictions,
)


def metrics(accuracy: float | np.ndarray) -> Metrics:
    """Real metrics: of a given confusion matrix, or of 100,000 rows `accuracy` right."""
    if isinstance(accuracy, np.ndarray):
        return metrics_from_confusion(accuracy)
    right = round(accuracy * 100_000)
    return metrics_from_confusion(np.array([[right, 100_000 - right], [0, 0]]))


def entry(
    participant: str,
    file: str,
    at: datetime,
    public: float | np.ndarray,
    private: float = 0.0,
    selected: bool = False,
) -> Entry:
    e = Entry(participant, file, at, selected, status="scored")
    e.metrics = {"public": metrics(public), "private": metrics(private), "all": metrics(0)}
    return e


def board_of(entries, **kwargs):
    return [(row.rank, row.participant, row.entry.file) for row in leaderboard(entries, **kwargs)]


# ----------------------------------------------------------------------------
# Ranking rules
# ----------------------------------------------------------------------------


def test_equal_scores_share_a_rank_and_the_earlier_submission_comes_first():
    entries = [
        entry("ann", "ann.csv", when(2), 0.9),
        entry("ben", "ben.csv", when(1), 0.9),
        entry("cat", "cat.csv", when(1), 0.8),
        entry("dan", "dan.csv", when(3), 0.95),
    ]
    assert board_of(entries) == [
        (1, "dan", "dan.csv"),
        (2, "ben", "ben.csv"),
        (2, "ann", "ann.csv"),
        (4, "cat", "cat.csv"),
    ]


def test_scores_that_round_alike_are_not_tied():
    entries = [entry("ann", "a.csv", when(1), 0.91230), entry("ben", "b.csv", when(2), 0.91231)]
    assert board_of(entries) == [(1, "ben", "b.csv"), (2, "ann", "a.csv")]


def test_a_participants_best_public_file_counts_earliest_among_equals():
    entries = [
        entry("ann", "ann/1.csv", when(1), 0.7),
        entry("ann", "ann/3.csv", when(3), 0.9),
        entry("ann", "ann/2.csv", when(2), 0.9),
    ]
    assert board_of(entries) == [(1, "ann", "ann/2.csv")]
    assert leaderboard(entries)[0].scored_files == 3


def test_rank_by_macro_f1():
    # 90 rows of class 0, 10 of class 1. ann predicts 0 everywhere: accuracy 0.9,
    # F1 180/190 and 0, macro 0.474. ben: accuracy 0.8, F1 150/170 and 10/30, macro 0.608.
    ann, ben = np.array([[90, 0], [10, 0]]), np.array([[75, 15], [5, 5]])
    entries = [entry("ann", "a.csv", when(1), ann), entry("ben", "b.csv", when(1), ben)]
    assert metrics(ann).macro_f1 == pytest.approx((180 / 190) / 2)
    assert metrics(ben).macro_f1 == pytest.approx((150 / 170 + 10 / 30) / 2)
    assert board_of(entries) == [(1, "ann", "a.csv"), (2, "ben", "b.csv")]
    assert board_of(entries, rank_by="macro_f1") == [(1, "ben", "b.csv"), (2, "ann", "a.csv")]


def test_equal_macro_f1_ties_whatever_the_order_of_the_classes():
    # The same per-class counts with the classes relabelled: equal macro-F1 exactly,
    # although float sums in another order can differ in the last bit.
    rng = np.random.default_rng(5)
    for _ in range(50):
        confusion = rng.integers(0, 40, size=(10, 10))
        order = rng.permutation(10)
        relabelled = confusion[np.ix_(order, order)]
        entries = [
            entry("ann", "a.csv", when(1), confusion),
            entry("ben", "b.csv", when(2), relabelled),
        ]
        assert [rank for rank, _, _ in board_of(entries, rank_by="macro_f1")] == [1, 1]
        assert metrics(confusion).macro_f1 == metrics(relabelled).macro_f1


def test_unscored_files_never_reach_the_board():
    bad = Entry("eve", "eve.csv", when(1), status="invalid", error="x")
    assert board_of([bad, entry("ann", "a.csv", when(1), 0.5)]) == [(1, "ann", "a.csv")]


def test_final_board_follows_kaggles_selection_rule():
    entries = [
        # bob selected his second file: it counts even though its public score is lower.
        entry("bob", "bob/a.csv", when(1), public=0.90, private=0.70),
        entry("bob", "bob/b.selected.csv", when(2), public=0.80, private=0.85, selected=True),
        # carol selected nothing: her 2 best public files count, the best private wins,
        # and her third file (best private, worst public) does not count.
        entry("carol", "carol/a.csv", when(1), public=0.90, private=0.60),
        entry("carol", "carol/b.csv", when(2), public=0.85, private=0.88),
        entry("carol", "carol/c.csv", when(3), public=0.50, private=0.99),
        # dave selected 3: only the 2 latest selected count.
        entry("dave", "dave/a.selected.csv", when(1), public=0.7, private=0.95, selected=True),
        entry("dave", "dave/b.selected.csv", when(2), public=0.7, private=0.80, selected=True),
        entry("dave", "dave/c.selected.csv", when(3), public=0.7, private=0.81, selected=True),
    ]
    assert board_of(entries, final=True) == [
        (1, "carol", "carol/b.csv"),
        (2, "bob", "bob/b.selected.csv"),
        (3, "dave", "dave/c.selected.csv"),
    ]


# ----------------------------------------------------------------------------
# Finding files
# ----------------------------------------------------------------------------


def test_submission_time_from_the_file_name_else_its_modification_time(tmp_path):
    folder = tmp_path / "subs"
    (folder / "ann").mkdir(parents=True)
    names = [
        "2026-11-20T14-03-05_first.csv",
        "2026-11-21_1403_second.csv",
        "20261122-140305.selected.csv",
        "2026-13-45_not-a-date.csv",
        "plain.csv",
    ]
    for name in names:
        (folder / "ann" / name).write_text("id,label\n")
        os.utime(folder / "ann" / name, (1_700_000_000, 1_700_000_000))
    found = {e.file: e for e, _ in discover(folder)}
    stamp = datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    assert {name: found[f"ann/{name}"].submitted_at for name in names} == {
        names[0]: datetime(2026, 11, 20, 14, 3, 5, tzinfo=timezone.utc),
        names[1]: datetime(2026, 11, 21, 14, 3, tzinfo=timezone.utc),
        names[2]: datetime(2026, 11, 22, 14, 3, 5, tzinfo=timezone.utc),
        names[3]: stamp,
        names[4]: stamp,
    }
    assert [e.selected for e in found.values()] == [False, False, False, True, False]


def test_every_file_is_listed_and_those_that_cannot_be_submissions_say_why(tmp_path):
    (tmp_path / "ann" / "old").mkdir(parents=True)
    (tmp_path / "ann" / "old" / "deep.csv").write_text("")
    (tmp_path / "ann" / "notes.txt").write_text("")
    (tmp_path / "ann" / ".hidden.csv").write_text("")
    (tmp_path / "ann" / "Run.CSV").write_text("")
    (tmp_path / "README.md").write_text("")
    (tmp_path / "ben.csv").write_text("")
    (tmp_path / "cy.csv").mkdir()  # a participant folder whose name ends in .csv
    (tmp_path / "cy.csv" / "a.csv").write_text("")
    (tmp_path / "dee.tsv").write_text("")
    found = [(e.participant, e.file, e.status, e.error) for e, _ in discover(tmp_path)]
    assert found == [
        ("ann", "ann/Run.CSV", "", ""),
        (
            "ann",
            "ann/notes.txt",
            "error",
            "not a .csv file; rename it to .csv if it is a submission.",
        ),
        (
            "ann",
            "ann/old/",
            "error",
            "a folder nested too deep; put files in DIR/<participant>/*.csv.",
        ),
        ("ben", "ben.csv", "", ""),
        ("cy.csv", "cy.csv/a.csv", "", ""),
        (
            "dee",  # a spreadsheet uploaded for a CSV file names its participant too
            "dee.tsv",
            "error",
            "a tab-separated file (.tsv), not a comma-separated CSV file; not scored. Save it "
            "as CSV (comma-separated), then submit that file.",
        ),
    ]


def test_top_level_names_lose_their_timestamp_and_selection_mark(tmp_path):
    for name in ("2026-11-20T14-03-05_bob.csv", "alice.selected.csv", "alice.csv"):
        (tmp_path / name).write_text("")
    found = [(e.participant, e.selected) for e, _ in discover(tmp_path)]
    assert found == [("bob", False), ("alice", False), ("alice", True)]


RENAME = "rename it with letters, digits, '-' or '_'."


def look_alike(name: str, other: str, where: str) -> str:
    return (
        f"the participant name {name} differs from {other} ({where}) only by letter case, "
        "spaces or Unicode normalisation; one student, or two? Rename the files so that "
        "every participant has exactly one name."
    )


def test_one_identity_rule_no_merged_or_twin_participants(tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    tops = [b"caf\xe9.csv", b"ev\x1b[2Jil\nname.csv", "a\u202ebc.csv".encode(), b"\\xff.csv"]
    tops += [b"\xff.csv", b"ann.csv", b"ann .csv", "ann\ufe0f.csv".encode(), b"Bob.csv"]
    tops += [f"{nfd}.csv".encode(), "b\u043eb.csv".encode(), "\u2800.csv".encode()]
    for raw in tops:
        (tmp_path / os.fsdecode(raw)).write_text("")
    for folder, file in (("bob", "x.csv"), (nfc, "a.csv"), ("zo\u00eb", "1.csv")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / file).write_text("")
    found = [
        (e.participant, e.file, e.status, e.error, e.identified) for e, _ in discover(tmp_path)
    ]

    def bad(name: str, problem: str) -> tuple:
        reason = f"the participant name '{name}' {problem}; {RENAME}"
        return (name, f"{name}.csv", "error", reason, False)

    control = "holds the invisible or control character U+{}"
    assert found == [
        ("Bob", "Bob.csv", "error", look_alike("'Bob'", "'bob'", "bob/x.csv"), False),
        # a refused name is shown as it is, not normalised; its reason spells it out
        (
            nfd,
            f"{nfd}.csv",
            "error",
            look_alike("'Jose\\u0301'", "'Jos\\xe9'", f"{nfc}/a.csv"),
            False,
        ),
        (
            nfc,
            f"{nfc}/a.csv",
            "error",
            look_alike("'Jos\\xe9'", "'Jose\\u0301'", f"{nfd}.csv"),
            False,
        ),
        ("\\xff", "\\xff.csv", "", "", True),  # the text backslash-x-f-f: a fine name
        bad("ann ", "starts or ends with a space"),
        ("ann", "ann.csv", "", "", True),
        bad("ann\ufffd", control.format("FE0F")),  # a variation selector: invisible
        bad("a\ufffdbc", control.format("202E")),  # right-to-left override
        ("bob", "bob/x.csv", "error", look_alike("'bob'", "'Bob'", "Bob.csv"), False),
        bad("b\u043eb", "mixes Cyrillic and Latin letters, which look alike"),
        bad("caf\ufffd", "is not UTF-8 text (byte 0xe9)"),
        bad("ev\ufffd[2Jil\ufffdname", control.format("001B")),
        ("zo\u00eb", "zo\u00eb/1.csv", "", "", True),
        bad("\ufffd", control.format("2800")),  # the braille blank
        # the byte 0xff: refused, and shown with U+FFFD, which no accepted name holds
        bad("\ufffd", "is not UTF-8 text (byte 0xff)"),
    ]


def test_an_nfd_folder_alone_is_its_nfc_participant(tmp_path):
    nfd = unicodedata.normalize("NFD", "José")
    (tmp_path / nfd).mkdir()
    (tmp_path / nfd / "a.csv").write_text("")
    ((entry, _),) = discover(tmp_path)
    assert (entry.participant, entry.status) == (unicodedata.normalize("NFC", "José"), "")


def test_links_to_the_submissions_folder_above_or_a_participant_are_not_followed(tmp_path):
    subs = tmp_path / "subs"
    (subs / "bob").mkdir(parents=True)
    (subs / "bob" / "a.csv").write_text("")
    (subs / "everyone").symlink_to(subs)
    (subs / "mallory").symlink_to(subs / "bob")
    (subs / "up").symlink_to(tmp_path)
    found = [(e.participant, e.file, e.status, e.error) for e, _ in discover(subs)]
    reason = "a symbolic link to the submissions folder itself or a folder above it; not followed."
    assert found == [
        ("bob", "bob/a.csv", "", ""),
        ("everyone", "everyone", "error", reason),
        (
            "mallory",
            "mallory",
            "error",
            "a symbolic link to a folder; not followed (it would score another participant's "
            "files under this name).",
        ),
        ("up", "up", "error", reason),
    ]


def test_digits_alone_are_a_name_not_a_time_and_readme_csv_files_count(tmp_path):
    for name in ("202001010000.csv", "2026-11-20T14-03-05_.csv", "readmore.csv", "README.md"):
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1_700_000_000, 1_700_000_000))
    found = [(e.participant, e.submitted_at.year) for e, _ in discover(tmp_path)]
    # A timestamp is a time only when a name follows it; else the whole stem is the name.
    assert found == [("202001010000", 2023), ("2026-11-20T14-03-05_", 2023), ("readmore", 2023)]


def test_links_that_loop_are_reported(tmp_path):
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    (tmp_path / "ok.csv").write_text("")
    found = [(e.file, e.status, e.error) for e, _ in discover(tmp_path)]
    assert found == [
        ("loop.csv", "error", "a symbolic link that loops; not followed."),
        ("ok.csv", "", ""),
    ]


def test_a_folder_without_submissions_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        discover(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: no .csv files found. Expected DIR/<participant>.csv or "
        "DIR/<participant>/*.csv."
    )
    with pytest.raises(UsageError) as info:
        discover(tmp_path / "missing")
    assert str(info.value).startswith(f"{tmp_path / 'missing'}: no such folder.")


# ----------------------------------------------------------------------------
# A whole mixed folder, through the command line
# ----------------------------------------------------------------------------


def test_a_mixed_folder_end_to_end(mixed_folder, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(mixed_folder, competition, out)
    assert result.returncode == 1, result.stderr  # some files were not scored
    assert result.stderr == ""
    # 15 public test ids: 3 wrong = 80%, 1 wrong = 93.33%, 6 wrong = 60%.
    with (out / "leaderboard.csv").open() as f:
        board = list(csv.reader(f))
    assert board[0] == [
        "rank",
        "participant",
        "file",
        "submitted_at",
        "public_accuracy",
        "public_macro_f1",
        "public_accuracy_low",
        "public_accuracy_high",
        "public_macro_f1_low",
        "public_macro_f1_high",
        "p_vs_next",
        "p_vs_baseline",
        "tie_group",
    ]
    assert [row[:4] for row in board[1:]] == [
        ["1", "alice", "alice.csv", "2026-09-21T14:13:20"],
        ["2", "bob", "bob/2026-11-21T10-00-00_second.csv", "2026-11-21T10:00:00"],
        ["3", "'" + HOSTILE_FORMULA, "'" + HOSTILE_FORMULA + ".csv", "2026-05-28T20:26:40"],
        ["4", HOSTILE_HTML, HOSTILE_HTML + ".csv", "2026-05-28T20:26:40"],
    ]
    assert [float(row[4]) for row in board[1:]] == pytest.approx([1, 14 / 15, 12 / 15, 9 / 15])

    with (out / "scores.csv").open() as f:
        scores = {row["file"]: row for row in csv.DictReader(f)}
    assert {name: (row["status"], row["error"][:40]) for name, row in scores.items()} == {
        "'" + HOSTILE_FORMULA + ".csv": ("scored", ""),
        HOSTILE_HTML + ".csv": ("scored", ""),
        "alice.csv": ("scored", ""),
        "bob/2026-11-20T10-00-00_first.csv": ("scored", ""),
        "bob/2026-11-21T10-00-00_second.csv": ("scored", ""),
        "carol.csv": ("invalid", "the file is empty. Expected the header i"),
        "dave.csv": ("invalid", "binary data, not CSV text (a NUL byte at"),
        "erin/try.csv": ("invalid", "line 1: fields are separated by ';', not"),
        "mallory.csv": ("error", "a symbolic link leading outside the subm"),
    }

    markdown = (out / "leaderboard.md").read_text()
    assert "<img" not in markdown
    assert "| 4 | &lt;img src=x onerror=alert(1)&gt; | 60.00% | " in markdown
    assert "| 3 | =HYPERLINK(&quot;evil.test&quot;,&quot;win&quot;) |" in markdown

    # Per-class reports are for the TA: in the review folder, with every split.
    assert sorted(p.name for p in out.iterdir()) == [
        ".grader-board",
        "index.html",
        "leaderboard.csv",
        "leaderboard.md",
        "scores.csv",
    ]
    review = review_of(out)
    assert sorted(p.name for p in review.iterdir()) == [
        ".grader-review",
        "README.md",
        "flags.csv",
        "reports",
    ]
    reports = sorted(p.name for p in (review / "reports").iterdir())

    def digest(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()[:8]

    assert reports == [
        f"HYPERLINK_evil_test_win~{digest(HOSTILE_FORMULA)}.json",
        "alice.json",
        "bob.json",
        "carol.json",
        "dave.json",
        "erin.json",
        f"img_src_x_onerror_alert_1~{digest(HOSTILE_HTML)}.json",
        "mallory.json",
    ]
    bob = json.loads((review / "reports" / "bob.json").read_text())
    assert (bob["rank"], bob["ranked_file"]) == (2, "bob/2026-11-21T10-00-00_second.csv")
    second = bob["submissions"][1]
    assert second["public"]["accuracy"] == pytest.approx(14 / 15)
    assert sum(map(sum, second["public"]["confusion_matrix"]["counts"])) == 15
    assert second["private"]["accuracy"] == pytest.approx(25 / 35)
    assert sum(map(sum, second["all"]["confusion_matrix"]["counts"])) == 50
    assert stat.S_IMODE(review.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in review.rglob("*") if p.is_file()} == {0o600}
    assert (
        (review / "README.md")
        .read_text()
        .startswith("# grader score: review folder (for the TA only)\n\nDo not publish anything")
    )

    # The public board shows no private-split number anywhere.
    for path in out.rglob("*"):
        if path.is_file():
            assert "private" not in path.read_text().lower(), path.name

    assert result.stdout.splitlines()[0] == (
        "Public leaderboard, ranked by public accuracy: 4 of 8 participants ranked."
    )
    assert (
        "  mallory.csv: error: a symbolic link leading outside the submissions folder; "
        "not followed." in result.stdout
    )


def test_rerunning_gives_identical_outputs(mixed_folder, competition, tmp_path):
    out = tmp_path / "board"
    solution = str(competition / "private" / "solution.csv")
    grader("score", str(mixed_folder), "--solution", solution, "--out", str(out))
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    grader("score", str(mixed_folder), "--solution", solution, "--out", str(out))
    again = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert again == first
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_final_board_ranks_by_the_private_split(mixed_folder, competition, tmp_path):
    out = tmp_path / "final"
    result = score_cli(
        mixed_folder,
        competition,
        out,
        "--final",
        "--timings",
    )
    assert result.returncode == 1
    stages = re.fullmatch(r"Time per stage: (.*)\n", result.stderr.splitlines(True)[-1])
    assert stages, result.stderr
    assert [part.rsplit(" ", 2)[0] for part in stages.group(1).split(", ")] == [
        "check flags and paths",
        "read and validate",
        "score",
        "rank",
        "intervals and tests",
        "flags",
        "lookup check",
        "shake-up",
        "write board",
        "write review",
        "history",
    ]
    with (out / "leaderboard.csv").open() as f:
        board = list(csv.DictReader(f))
    # 35 private ids. bob's two best public files: first (private all right) beats
    # second (10 private wrong), so first counts, tying alice at 100%; alice submitted
    # earlier. The hostile files have 2 and 5 private ids wrong: 33/35 and 30/35.
    assert [(r["rank"], r["participant"], r["file"]) for r in board] == [
        ("1", "alice", "alice.csv"),
        ("1", "bob", "bob/2026-11-20T10-00-00_first.csv"),
        ("3", "'" + HOSTILE_FORMULA, "'" + HOSTILE_FORMULA + ".csv"),
        ("4", HOSTILE_HTML, HOSTILE_HTML + ".csv"),
    ]
    with (out / "shakeup.csv").open() as f:
        moved = list(csv.DictReader(f))
    assert [r["participant"] for r in moved] == [r["participant"] for r in board]
    assert set(moved[0]) == {"participant", "public_rank", "private_rank", "change"}
    assert "Shake-up: Kendall tau between public and private scores " in result.stdout
    assert [float(r["private_accuracy"]) for r in board] == pytest.approx([1, 1, 33 / 35, 30 / 35])
    assert "private_macro_f1" in board[0] and "all_accuracy" not in board[0]


def test_out_must_be_a_leaderboard_folder(mixed_folder, competition, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    result = score_cli(mixed_folder, competition, tmp_path / "notes")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path / 'notes'}: exists and was not written by grader score (it "
        "has no .grader-board file); refusing to replace it. Choose another folder.\n"
    )


def test_a_missing_solution_is_a_usage_error(mixed_folder, tmp_path):
    result = grader("score", str(mixed_folder), "--solution", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --solution: {tmp_path / 'nope.csv'}: no such file. Pass --solution the "
        "private/solution.csv that `grader prepare` wrote.\n"
    )


def test_unreadable_and_odd_files_are_reported(competition, tmp_path):
    rows = solution_rows(competition)
    subs = tmp_path / "subs"
    write_predictions(subs / "ok.csv", rows, wrong=set())
    os.mkfifo(subs / "pipe.csv")  # reading it would block forever
    (subs / "broken.csv").symlink_to(subs / "gone.csv")
    (subs / "inside.csv").symlink_to(subs / "ok.csv")
    result = score_cli(subs, competition, tmp_path / "out")
    with (tmp_path / "out" / "scores.csv").open() as f:
        status = {r["file"]: (r["status"], r["error"]) for r in csv.DictReader(f)}
    assert status == {
        "broken.csv": ("error", "a symbolic link to a file that does not exist; not followed."),
        "pipe.csv": ("error", "not a regular file; not read."),
        "inside.csv": (  # a link is never followed: it would score ok.csv as "inside"
            "error",
            "a symbolic link to another file of the submissions folder; not followed (it would "
            "score that file under this name): copy the file instead.",
        ),
        "ok.csv": ("scored", ""),
    }
    assert result.returncode == 1


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for folders and links)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in sorted(root.rglob("*"))
    }


PATH_CASES = {
    # name: (submissions, --out, extra flags, flag, target, problem)
    "out-inside-submissions": (
        "subs",
        "subs/board",
        [],
        "--out",
        "subs/board",
        "lies inside the submissions folder {subs}",
    ),
    "out-is-submissions": (
        "subs",
        "subs",
        [],
        "--out",
        "subs",
        "is the submissions folder ({subs})",
    ),
    "out-contains-submissions": (
        "old/subs",
        "old",
        [],
        "--out",
        "old",
        "contains the submissions folder {old/subs}, which replacing --out would delete",
    ),
    "out-contains-roster": (
        "subs",
        "old",
        ["--roster", "{old/roster.csv}", "--baseline", "a"],
        "--out",
        "old",
        "contains the roster {old/roster.csv}, which replacing --out would delete",
    ),
    "out-contains-history": (
        "subs",
        "old",
        ["--history", "{old/h.sqlite}"],
        "--out",
        "old",
        "contains the history file {old/h.sqlite}, which replacing --out would delete",
    ),
    "out-inside-the-solutions-folder": (
        "subs",
        "competition/private/board",
        [],
        "--out",
        "competition/private/board",
        "lies inside the solution's folder {competition/private}",
    ),
    "review-is-the-solutions-folder": (
        "subs",
        "board",
        ["--review", "{competition/private}"],
        "--review",
        "competition/private",
        "is the solution's folder ({competition/private})",
    ),
    "review-contains-the-solutions-folder": (
        "subs",
        "board",
        ["--review", "{competition}"],
        "--review",
        "competition",
        "contains the solution's folder {competition/private}, which replacing --review would "
        "delete",
    ),
    "review-inside-submissions": (
        "subs",
        "board",
        ["--review", "{subs/r}"],
        "--review",
        "subs/r",
        "lies inside the submissions folder {subs}",
    ),
    "out-contains-review": (
        "subs",
        "board",
        ["--review", "{board/r}"],
        "--out",
        "board",
        "contains the review folder {board/r}, which replacing --out would delete",
    ),
    "out-inside-submissions-through-a-link": (
        "subs",
        "via/board",  # via -> subs: the link is resolved before the check
        [],
        "--out",
        "via/board",
        "lies inside the submissions folder {subs}",
    ),
}


@pytest.mark.parametrize("case", list(PATH_CASES))
def test_paths_that_could_destroy_or_publish_are_refused_untouched(case, competition, tmp_path):
    subs, out, extra, flag, target, problem = PATH_CASES[case]
    root = tmp_path / "w"
    shutil.copytree(competition, root / "competition", symlinks=True)
    rows = solution_rows(competition)
    write_predictions(root / subs / "a.csv", rows, wrong=set())
    (root / "old").mkdir(exist_ok=True)
    (root / "old" / "scores.csv").write_text("an earlier board\n")
    (root / "old" / "roster.csv").write_text("kaggle_name,student_id\na,1\n")
    (root / "via").symlink_to(root / "subs", target_is_directory=True)

    def fill(text: str) -> str:
        return re.sub(r"\{([^}]*)\}", lambda m: str(root / m.group(1)), text)

    before = tree(root)
    result = grader(
        "score",
        str(root / subs),
        "--solution",
        str(root / "competition" / "private" / "solution.csv"),
        "--out",
        str(root / out),
        *(fill(e) for e in extra),
    )
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"Error: {flag} {root / target}: {fill(problem)}. {flag} is replaced as a whole on "
        "every run; choose a folder apart from it.\n"
    )
    assert tree(root) == before  # nothing touched: no lock, no staging, no history


def test_an_out_that_is_a_link_is_refused(mixed_folder, competition, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    result = score_cli(mixed_folder, competition, tmp_path / "link")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --out {tmp_path / 'link'}: a symbolic link; pass the folder it points to "
        f"({tmp_path / 'real'}) instead.\n"
    )
    assert list((tmp_path / "real").iterdir()) == []


def test_a_folder_with_no_valid_file_still_gets_its_board(competition, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "carol.csv").write_text("id,label\n")
    result = score_cli(subs, competition, tmp_path / "b")
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout.splitlines()[:2] == [
        "Public leaderboard, ranked by public accuracy: 0 of 1 participants ranked.",
        "rank  participant  public acc  public F1  95% CI acc  group  file  submitted (UTC)",
    ]
    assert (tmp_path / "b" / "leaderboard.csv").read_text() == (
        "rank,participant,file,submitted_at,public_accuracy,public_macro_f1,"
        "public_accuracy_low,public_accuracy_high,public_macro_f1_low,public_macro_f1_high,"
        "p_vs_next,p_vs_baseline,tie_group\n"
    )


def test_the_board_carries_intervals_tests_and_tied_groups(mixed_folder, competition, tmp_path):
    out = tmp_path / "board"
    result = score_cli(
        mixed_folder,
        competition,
        out,
        "--baseline",
        "bob",
    )
    assert result.returncode == 1
    with (out / "leaderboard.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        low, high = float(row["public_accuracy_low"]), float(row["public_accuracy_high"])
        assert low <= float(row["public_accuracy"]) <= high
    # 15 public images, right: alice 15, bob 14, the formula name 12, the html name 9.
    # Against the leader alice: bob p = 1, 12/15 p = 2/8 = 0.25 (tied); 9/15 differs on 6
    # rows, all in alice's favour: p = 2/64 = 0.031 < 0.05, a new group.
    assert [row["tie_group"] for row in rows] == ["1", "1", "1", "2"]
    assert rows[0]["p_vs_next"] == "1" and rows[-1]["p_vs_next"] == ""
    assert [row["p_vs_baseline"] for row in rows][1] == "1"  # bob against himself
    missing = score_cli(
        mixed_folder,
        competition,
        out,
        "--baseline",
        "nobody",
    )
    assert missing.returncode == 2
    assert missing.stderr == (
        f"Error: --baseline nobody: no scored submission of that participant in {mixed_folder}.\n"
    )


# ----------------------------------------------------------------------------
# History in SQLite
# ----------------------------------------------------------------------------


def test_every_scoring_is_kept_once_in_sqlite(mixed_folder, competition, tmp_path):
    import sqlite3

    solution = str(competition / "private" / "solution.csv")
    history = tmp_path / "history.sqlite"
    args = ["score", str(mixed_folder), "--solution", solution, "--history", str(history)]
    first = grader(*args, "--out", str(tmp_path / "a"))
    assert "\nHistory: 9 new scoring(s) recorded in " in first.stdout
    again = grader(*args, "--out", str(tmp_path / "a"))
    assert "\nHistory: 0 new scoring(s) recorded in " in again.stdout
    with sqlite3.connect(history) as db:
        rows = db.execute(
            "SELECT participant, file, status, public_accuracy FROM scorings ORDER BY file"
        ).fetchall()
    assert len(rows) == 9
    assert ("bob", "bob/2026-11-21T10-00-00_second.csv", "scored", pytest.approx(14 / 15)) in [
        (p, f, s, a) for p, f, s, a in rows
    ]
    shown = grader("history", "bob", "--history", str(history))
    assert shown.returncode == 0
    assert shown.stdout.splitlines() == [
        "bob: 2 scored file(s)",
        "submitted (UTC)      public acc  best so far  status  file",
        "2026-11-20 10:00:00      80.00%       80.00%  scored  bob/2026-11-20T10-00-00_first.csv",
        "2026-11-21 10:00:00      93.33%       93.33%  scored  bob/2026-11-21T10-00-00_second.csv",
    ]


def test_two_scoring_runs_at_once_share_the_history_safely(mixed_folder, competition, tmp_path):
    import sqlite3

    history = tmp_path / "history.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader",
                "score",
                str(mixed_folder),
                "--solution",
                str(competition / "private" / "solution.csv"),
                "--history",
                str(history),
                "--out",
                str(tmp_path / f"out{i}"),
                "--review",
                str(tmp_path / f"review{i}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(2)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], results  # 1: some files invalid
    with sqlite3.connect(history) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM scorings").fetchone() == (9,)


# ----------------------------------------------------------------------------
# Integrity flags
# ----------------------------------------------------------------------------


def other_class(label: str) -> str:
    return "ship" if label != "ship" else "frog"


def test_integrity_flags_name_the_files_and_say_why(competition, tmp_path):
    rows = solution_rows(competition)
    ids = [int(r["id"]) for r in rows]
    subs = tmp_path / "subs"
    write_predictions(subs / "ann.csv", rows, wrong=set(ids[:35]))  # swaps cat <-> dog
    write_predictions(subs / "ben.csv", rows, wrong=set(ids[:36]))  # the same wrong classes
    lines = (
        ["id,label"]
        + [  # wrong on the same images, but with other classes
            f"{r['id']},{other_class(r['label']) if int(r['id']) in ids[:35] else r['label']}"
            for r in rows
        ]
    )
    (subs / "cy.csv").write_text("\n".join(lines) + "\n")
    write_predictions(subs / "dee.csv", rows, wrong=set())
    (subs / "eve.csv").write_bytes((subs / "dee.csv").read_bytes())
    for name, stamp in (
        ("ann", 1_790_000_000),
        ("ben", 1_790_000_100),
        ("cy", 1_790_000_200),
        ("dee", 1_790_000_300),
        ("eve", 1_795_000_000),
    ):
        os.utime(subs / f"{name}.csv", (stamp, stamp))
    out = tmp_path / "board"
    result = score_cli(
        subs,
        competition,
        out,
        "--deadline",
        "2026-11-01T00:00:00+01:00",
    )
    assert result.returncode == 0, result.stderr
    assert not (out / "flags.csv").exists()  # flags use Private rows: review only
    with (review_of(out) / "flags.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["kind", "participants", "files", "reason", "p_value"]
    assert [(r["participants"], r["p_value"]) for r in rows] == [
        ("dee | eve", ""),
        ("ann | ben", ""),
        ("dee", ""),
        ("eve", ""),
        ("eve", ""),
    ]
    flags = [(r["kind"], r["files"], r["reason"]) for r in rows]
    digest = hashlib.sha256((subs / "dee.csv").read_bytes()).hexdigest()
    assert flags == [
        (
            "identical",
            "dee.csv | eve.csv",
            f"byte-identical files (sha256 {digest[:12]}...) from 2 participants",
        ),
        (
            "near-identical",
            "ann.csv | ben.csv",
            "the same wrong class on 35 of the 36 test images either file gets wrong "
            "(flagged from 90%)",
        ),
        (
            "implausible",
            "dee.csv",
            "public accuracy 100.00% is at or above 99%; CIFAR-10's "
            "test labels are public, so check the code behind it",
        ),
        (
            "implausible",
            "eve.csv",
            "public accuracy 100.00% is at or above 99%; CIFAR-10's "
            "test labels are public, so check the code behind it",
        ),
        (
            "late",
            "eve.csv",
            "submitted 2026-11-18T11:06:40+00:00, after the deadline 2026-11-01T00:00:00+01:00",
        ),
    ]
    assert "Flags for review (5; in the review folder's flags.csv):" in result.stdout


# ----------------------------------------------------------------------------
# Gradebook
# ----------------------------------------------------------------------------


def test_points_follow_the_documented_rule():
    from grader.grades.gradebook import points

    assert points(None, 0.5, None) == 0
    assert points(0.5, 0.5, 1.0) == 6  # equal is not better
    assert points(0.6, 0.5, 0.2) == 8  # better, not significantly
    assert points(0.6, 0.5, 0.01) == 10


def test_a_roster_becomes_an_lms_gradebook(mixed_folder, competition, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Kaggle_Name,Student_ID,email\nalice,s1,a@x\nbob,s2,b@x\nzoe,s3,z@x\n")
    result = score_cli(
        mixed_folder,
        competition,
        tmp_path / "board",
        "--baseline",
        "bob",
        "--roster",
        str(roster),
    )
    assert result.returncode == 1
    assert (
        f"Gradebook: {review_of(tmp_path / 'board') / 'gradebook.csv'} (3 students, 1 "
        "without a valid submission)." in result.stdout
    )
    assert not (tmp_path / "gradebook.csv").exists()
    assert "Not on the roster: =HYPERLINK(" in result.stdout
    with (review_of(tmp_path / "board") / "gradebook.csv").open() as f:
        rows = [
            (r["student_id"], r["kaggle_name"], r["points"], r["note"]) for r in csv.DictReader(f)
        ]
    # alice 15/15 vs bob 14/15 on the public split: better, but p = 1: 8 points. Without
    # --final every grade is provisional.
    provisional = "provisional: Public split; the final grade comes from grader score --final"
    assert rows == [
        ("s1", "alice", "8", provisional),
        ("s2", "bob", "6", provisional),
        ("s3", "zoe", "0", f"no valid submission; {provisional}"),
    ]


def test_a_final_gradebook_is_not_provisional_and_follows_rank_by(
    mixed_folder, competition, tmp_path
):
    roster = tmp_path / "roster.csv"
    roster.write_text("kaggle_name,student_id\nalice,s1\nbob,s2\n")
    out = tmp_path / "board"
    extra = ("--baseline", "bob", "--roster", str(roster), "--final", "--rank-by", "macro_f1")
    result = score_cli(mixed_folder, competition, out, *extra)
    assert result.returncode == 1
    with (review_of(out) / "gradebook.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "student_id",
        "kaggle_name",
        "points",
        "rank",
        "macro_f1",
        "p_vs_baseline",
        "note",
    ]
    assert [r["note"] for r in rows] == ["", ""]
    with (out / "leaderboard.csv").open() as f:
        board = {r["participant"]: r for r in csv.DictReader(f)}
    assert float(rows[0]["macro_f1"]) == float(board["alice"]["private_macro_f1"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "name,id\nalice,1\n",
            "line 1: needs the column student_id, or the header of a Canvas, Moodle or "
            "Blackboard gradebook export (docs/grades-to-lms.md); found name, id.",
        ),
        (
            "kaggle_name,student_id\nalice,1\nALICE,2\n",
            "line 3: kaggle_name 'ALICE' repeats line 2 (names are compared ignoring letter "
            "case); every student needs a folder and a board row of their own.",
        ),
        ("kaggle_name,student_id\nalice,\n", "line 2: empty student_id; every row needs one."),
        (
            'kaggle_name,student_id,name\nalice,1,"Alice\nbob,2,Bob\ncy,3,Cy\n',
            "line 2: a quote opened on this line is never closed.",
        ),
        (
            "kaggle_name,student_id\nalice,1\nbob,2,Bob Ray\n",
            "line 3: 3 cells, but the header has 2 columns (a ',' in a name needs quotes).",
        ),
        (
            'kaggle_name,student_id,name\nalice,1,"Alice\nbob,2,"\n',
            "line 2: a cell holds a line break (a quote that was not meant to open one?).",
        ),
    ],
)
def test_a_bad_roster_names_the_line(content, message, tmp_path):
    from grader.core.errors import UsageError
    from grader.folder.roster import read_roster

    path = tmp_path / "roster.csv"
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        read_roster(path)
    assert str(info.value) == f"--roster {path} {message}"


def test_a_long_run_says_as_each_stage_ends(competition, tmp_path):
    rows = solution_rows(competition)
    subs = tmp_path / "subs"
    write_predictions(subs / "s0000.csv", rows, wrong=set())
    data = (subs / "s0000.csv").read_bytes()
    for k in range(1, 1000):
        (subs / f"s{k:04d}.csv").write_bytes(data)
    out = tmp_path / "board"
    result = score_cli(subs, competition, out)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert lines[0].startswith("read and validate 1,000 files: ") and lines[0].endswith(" s")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "score",
        "rank",
        "intervals and tests",
        "flags",
        "lookup check",
        "write board",
        "write review",
        "history",
    ]
