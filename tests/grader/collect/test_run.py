"""`grader collect`: real export zips in each LMS's naming, run as a TA runs the command."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader.core.fileio import exclusive_lock
from tests.helpers import EXPORTED, ROOT, grader, tree, write_zip

CSV = b"id,label\n0,cat\n"


def link_entry(archive_path: Path, name: str, target: str) -> None:
    """Add a symbolic-link entry (Info-ZIP's Unix mode bits) to an existing zip."""
    with zipfile.ZipFile(archive_path, "a") as archive:
        info = zipfile.ZipInfo(name, EXPORTED)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)


def manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "collected.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------
# Canvas
# ----------------------------------------------------------------------------


@pytest.fixture
def canvas(tmp_path) -> tuple[Path, Path]:
    """A Canvas export (names with underscores and Unicode, an anonymous id, _LATE, an
    online-text entry, an entry with ../) and a roster."""
    export = write_zip(
        tmp_path / "submissions.zip",
        [
            ("smithjohn_12345_67890_submission.csv", CSV),
            ("muñozana_LATE_222_333_my_final run.csv", b"id,label\n0,dog\n"),
            ("muñozana_222_334_notes.html", b"<p>see the notebook</p>"),
            ("anon_x7Yq_444_file.csv", b"id,label\n0,frog\n"),
            ("../../escape.csv", CSV),
            ("lostsoul_555_666_a.csv", b"id,label\n1,cat\n"),
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,kaggle_name,name,canvas_id,canvas_anon_id\n"
        "s1,jsmith,John Smith,12345,\n"
        "s2,,Ana Muñoz,222,\n"
        "s3,zed,Zed,999,x7Yq\n"
        "s4,quiet,Quiet One,777,\n",
        encoding="utf-8",
    )
    return export, roster


def test_a_canvas_export_end_to_end(canvas, tmp_path):
    export, roster = canvas
    into = tmp_path / "subs"
    result = grader(
        "collect", str(export), "--into", str(into), "--roster", str(roster), "--timezone", "UTC"
    )
    assert result.returncode == 1, result.stderr  # one refused and one unmatched file
    assert result.stderr == ""
    assert result.stdout == (
        f"Collected from 1 export(s) into {into}/:\n"
        "  submissions.zip: Canvas (detected: 5 of 5 file(s) follow its naming)\n"
        "\n"
        "student  participant  new  files  latest (UTC)\n"
        "s1       jsmith         1      1  2026-11-30 12:00 (time unknown: export's time)\n"
        "s2       s2             1      1  2026-11-30 12:00 (time unknown: export's time)\n"
        "s3       zed            1      1  2026-11-30 12:00 (time unknown: export's time)\n"
        "\n"
        f"3 new file(s) copied, 0 already there; {into}/collected.csv lists 3 collected file(s).\n"
        "\n"
        "Not CSV, listed and not copied (1):\n"
        "  submissions.zip: muñozana_222_334_notes.html: not a .csv file; not copied.\n"
        "\n"
        "Refused (1):\n"
        "  submissions.zip: ../../escape.csv: a path with '..', which would land outside "
        "--into; not copied.\n"
        "\n"
        "Matched to no student (1):\n"
        "  submissions.zip: lostsoul_555_666_a.csv: Canvas user id 555 (lostsoul) is no "
        "canvas_id of the roster; not copied.\n"
        "\n"
        "On the roster without a file (1; information): s4 (quiet).\n"
    )
    assert tree(into) == [
        "collected.csv",
        "jsmith/2026-11-30T12-00-00_submission.csv",
        "s2/2026-11-30T12-00-00_my_final run.csv",
        "zed/2026-11-30T12-00-00_file.csv",
    ]
    assert not (tmp_path / "escape.csv").exists() and not (tmp_path.parent / "escape.csv").exists()
    assert (into / "s2/2026-11-30T12-00-00_my_final run.csv").read_bytes() == b"id,label\n0,dog\n"
    rows = manifest(into)
    assert [(r["participant"], r["student_id"], r["time_known"], r["lms_late"]) for r in rows] == [
        ("jsmith", "s1", "no", "no"),
        ("s2", "s2", "no", "yes"),  # Canvas's _LATE mark
        ("zed", "s3", "no", "no"),  # anonymous grading: matched on canvas_anon_id
    ]
    assert rows[1]["entry"] == "muñozana_LATE_222_333_my_final run.csv"
    assert rows[1]["original_name"] == "my_final run.csv"
    assert rows[1]["submitted_at"] == "2026-11-30T12:00:00+00:00"
    assert rows[1]["format"] == "canvas" and rows[1]["export"] == "submissions.zip"


def test_collecting_the_same_export_twice_adds_nothing_and_a_later_one_adds_the_new(
    canvas, tmp_path
):
    export, roster = canvas
    into = tmp_path / "subs"
    args = ("--into", str(into), "--roster", str(roster), "--timezone", "UTC")
    grader("collect", str(export), *args)
    before = (into / "collected.csv").read_bytes()
    again = grader("collect", str(export), *args)
    assert again.returncode == 1  # the same refused and unmatched files, reported again
    assert "0 new file(s) copied, 3 already there;" in again.stdout
    assert (into / "collected.csv").read_bytes() == before
    later = write_zip(
        tmp_path / "later.zip",
        [
            ("smithjohn_12345_67890_submission.csv", CSV),  # the same file: nothing new
            ("smithjohn_LATE_12345_67999_submission.csv", b"id,label\n0,ship\n"),
        ],
        when=(2026, 12, 2, 9, 30, 0),
    )
    third = grader("collect", str(later), *args)
    assert third.returncode == 0, third.stdout
    assert "1 new file(s) copied, 1 already there;" in third.stdout
    assert "s1       jsmith         1      2  2026-12-02 09:30 (time unknown" in third.stdout
    assert tree(into / "jsmith") == [
        "2026-11-30T12-00-00_submission.csv",
        "2026-12-02T09-30-00_submission.csv",
    ]
    assert len(manifest(into)) == 4


# ----------------------------------------------------------------------------
# Moodle
# ----------------------------------------------------------------------------


def test_a_moodle_export_in_folder_and_flat_mode(tmp_path):
    folder_mode = write_zip(
        tmp_path / "moodle.zip",
        [
            ("Ana María López_1001_assignsubmission_file_/run_1.csv", CSV),
            ("Ana María López_1001_assignsubmission_file_/report.pdf", b"%PDF-1.4"),
            ("Ana María López_1001_assignsubmission_onlinetext_/onlinetext.html", b"<p>x</p>"),
            ("Bob O_Neil_1002_assignsubmission_file_/sub.csv", b"id,label\n0,dog\n"),
            ("Chloé Durand_1003_assignsubmission_file_/sub.csv", b"id,label\n0,ship\n"),
            ("Nobody Known_1099_assignsubmission_file_/sub.csv", b"id,label\n0,deer\n"),
        ],
    )
    flat = write_zip(
        tmp_path / "moodle-flat.zip",
        [("Bob O_Neil_1002_assignsubmission_file_second.csv", b"id,label\n0,horse\n")],
    )
    roster = tmp_path / "roster.csv"
    # Chloé's name is typed decomposed (NFD) and her moodle_id is missing: matched by name.
    roster.write_text(
        "student_id,kaggle_name,name,moodle_id\n"
        "s1,ana_l,Ana María López,1001\n"
        "s2,bob,Bob O'Neil,1002\n"
        f"s3,chloe,{unicodedata.normalize('NFD', 'Chloé Durand')},\n",
        encoding="utf-8",
    )
    into = tmp_path / "subs"
    result = grader(
        "collect",
        str(folder_mode),
        str(flat),
        "--into",
        str(into),
        "--roster",
        str(roster),
        "--timezone",
        "UTC",
    )
    assert result.returncode == 1
    assert result.stdout.splitlines()[:3] == [
        f"Collected from 2 export(s) into {into}/:",
        "  moodle.zip: Moodle (detected: 6 of 6 file(s) follow its naming)",
        "  moodle-flat.zip: Moodle (detected: 1 of 1 file(s) follow its naming)",
    ]
    assert tree(into) == [
        "ana_l/2026-11-30T12-00-00_run_1.csv",
        "bob/2026-11-30T12-00-00_second.csv",
        "bob/2026-11-30T12-00-00_sub.csv",
        "chloe/2026-11-30T12-00-00_sub.csv",
        "collected.csv",
    ]
    assert (
        "Not CSV, listed and not copied (2):\n"
        "  moodle.zip: Ana María López_1001_assignsubmission_file_/report.pdf: not a .csv "
        "file; not copied.\n"
        "  moodle.zip: Ana María López_1001_assignsubmission_onlinetext_/onlinetext.html: "
        "not a .csv file; not copied.\n"
    ) in result.stdout
    assert (
        "Matched to no student (1):\n"
        "  moodle.zip: Nobody Known_1099_assignsubmission_file_/sub.csv: participant id 1099 "
        "(Nobody Known) is no moodle_id of the roster, and no roster name is 'Nobody Known'; "
        "not copied.\n"
    ) in result.stdout
    assert (
        "Matched by full name, not by id (1): check them.\n"
        "  'Chloé Durand' (Moodle participant id 1003) matched roster student s3 by name: "
        "participant id 1003 (Chloé Durand) is no moodle_id of the roster\n"
    ) in result.stdout
    assert [r["lms_late"] for r in manifest(into)] == ["", "", "", ""]  # Moodle marks none


# ----------------------------------------------------------------------------
# Blackboard
# ----------------------------------------------------------------------------


def test_blackboard_attempts_keep_their_times_and_user_names_with_underscores(tmp_path):
    export = write_zip(
        tmp_path / "gradebook.zip",
        [
            ("Project 1_j_smith_attempt_2026-11-20-14-03-05.txt", b"Name: J Smith"),
            ("Project 1_j_smith_attempt_2026-11-20-14-03-05_resnet.csv", CSV),
            ("Project 1_j_smith_attempt_2026-11-22-09-30-00.txt", b"Name: J Smith"),
            ("Project 1_j_smith_attempt_2026-11-22-09-30-00_wide.csv", b"id,label\n0,dog\n"),
            ("Project 1_smith_attempt_2026-12-01-23-59-59_mine.csv", b"id,label\n0,ship\n"),
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,username\n10,jay,j_smith\n11,sam,smith\n")
    into = tmp_path / "subs"
    result = grader(
        "collect",
        str(export),
        "--into",
        str(into),
        "--roster",
        str(roster),
        "--timezone",
        "Europe/Berlin",
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[1] == (
        "  gradebook.zip: Blackboard (detected: 5 of 5 file(s) follow its naming; attempt "
        "times read in Europe/Berlin (--timezone))"
    )
    # Berlin is UTC+1 in November and December: 14:03:05 there is 13:03:05 UTC.
    assert tree(into) == [
        "collected.csv",
        "jay/2026-11-20T13-03-05_resnet.csv",
        "jay/2026-11-22T08-30-00_wide.csv",
        "sam/2026-12-01T22-59-59_mine.csv",
    ]
    assert (
        "  gradebook.zip: Project 1_j_smith_attempt_2026-11-20-14-03-05.txt: a Blackboard "
        "receipt; not copied." in result.stdout
    )
    rows = manifest(into)
    assert [(r["participant"], r["submitted_at"], r["time_known"]) for r in rows] == [
        ("jay", "2026-11-20T13:03:05+00:00", "yes"),
        ("jay", "2026-11-22T08:30:00+00:00", "yes"),
        ("sam", "2026-12-01T22:59:59+00:00", "yes"),
    ]
    assert "jay            2      2  2026-11-22 08:30\n" in result.stdout


def test_without_a_roster_students_are_named_by_the_export(tmp_path):
    export = write_zip(
        tmp_path / "bb.zip",
        [
            ("HW_ann_lee_attempt_2026-11-20-10-00-00_a.csv", CSV),
            ("HW_bo_attempt_2026-11-21-10-00-00_b.csv", CSV),
        ],
    )
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--timezone", "+01:00")
    assert result.returncode == 0, result.stdout
    assert tree(into) == [
        "ann_lee/2026-11-20T09-00-00_a.csv",
        "bo/2026-11-21T09-00-00_b.csv",
        "collected.csv",
    ]
    assert result.stdout.split("\n\n")[1] == (
        "participant  new  files  latest (UTC)\n"
        "ann_lee        1      1  2026-11-20 09:00\n"
        "bo             1      1  2026-11-21 09:00"
    )


# ----------------------------------------------------------------------------
# GitHub Classroom and plain folders
# ----------------------------------------------------------------------------


def test_github_classroom_repositories(tmp_path):
    root = tmp_path / "cifar-contest-submissions"
    files = {
        "cifar-contest-octo-cat/submission.csv": CSV,
        "cifar-contest-octo-cat/runs/best/submission.csv": CSV + b"1,dog\n",
        "cifar-contest-hubot/preds.csv": b"id,label\n0,truck\n",
        "cifar-contest-hubot/README.md": b"# hi",
        "cifar-contest-hubot/.git/packed.csv": CSV,  # git's, not the student's
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        os.utime(root / name, (1_795_000_000, 1_795_000_000))  # 2026-11-18T11:06:40Z
    roster = tmp_path / "roster.csv"
    # GitHub user names ignore case; octo-cat's holds the separator of the folder names.
    roster.write_text("student_id,github\n21,Octo-Cat\n22,hubot\n")
    into = tmp_path / "subs"
    result = grader("collect", str(root), "--into", str(into), "--roster", str(roster))
    assert result.returncode == 0, result.stdout
    assert "GitHub Classroom (detected: 4 of 4 file(s) follow its naming)" in result.stdout
    assert tree(into) == [
        "21/2026-11-18T11-06-40_runs_best_submission.csv",
        "21/2026-11-18T11-06-40_submission.csv",
        "22/2026-11-18T11-06-40_preds.csv",
        "collected.csv",
    ]
    assert "cifar-contest-hubot/README.md: not a .csv file; not copied." in result.stdout


def test_a_folder_in_the_submissions_layout(tmp_path):
    export = tmp_path / "emailed"
    (export / "carol").mkdir(parents=True)
    (export / "alice.csv").write_bytes(CSV)
    (export / "carol" / "2026-11-20T14-03-05_resnet.selected.csv").write_bytes(CSV)
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into))
    assert result.returncode == 0, result.stdout
    assert (
        "  emailed: folder (detected: no LMS naming, read as <participant>.csv or "
        "<participant>/*.csv)" in result.stdout
    )
    files = tree(into)
    assert files[1:] == ["carol/2026-11-20T14-03-05_resnet.selected.csv", "collected.csv"]
    assert files[0].startswith("alice/") and files[0].endswith("_alice.csv")
    rows = {r["participant"]: r for r in manifest(into)}
    assert rows["carol"]["time_known"] == "yes" and rows["alice"]["time_known"] == "no"


# ----------------------------------------------------------------------------
# A hostile student, a hurried TA
# ----------------------------------------------------------------------------


def test_hostile_entries_are_refused_and_nothing_lands_outside(tmp_path):
    export = write_zip(
        tmp_path / "evil.zip",
        [
            ("/etc/owned.csv", CSV),
            ("C:\\Windows\\owned.csv", CSV),
            ("eve_1_2_..\\..\\owned.csv", CSV),
            ("eve_1_3_big.csv", b"id,label\n" + b"0" * 3_000_000),
            ("eve_1_4_\x1b[31mred.csv", CSV),
            ("__MACOSX/._eve_1_2_x.csv", b"junk"),
        ],
    )
    link_entry(export, "eve_1_5_link.csv", "/etc/passwd")
    into = tmp_path / "subs"
    result = grader(
        "collect",
        str(export),
        "--into",
        str(into),
        "--format",
        "canvas",
        "--max-size",
        "1",
        "--timezone",
        "UTC",
    )
    assert result.returncode == 1
    refused = result.stdout.split("Refused (5):\n", 1)[1].split("\n\n")[0].splitlines()
    assert refused == [
        "  evil.zip: /etc/owned.csv: an absolute path, which would land outside --into; not "
        "copied.",
        "  evil.zip: C:/Windows/owned.csv: an absolute path, which would land outside --into; "
        "not copied.",
        "  evil.zip: eve_1_2_../../owned.csv: a path with '..', which would land outside "
        "--into; not copied.",
        "  evil.zip: eve_1_3_big.csv: larger than --max-size 1 MB; not copied.",
        "  evil.zip: eve_1_5_link.csv: a symbolic link; links are never followed. Not copied.",
    ]
    # The escape character in a name is neither printed nor kept in the copy's name.
    assert "\x1b" not in result.stdout
    assert tree(into) == ["collected.csv", "eve/2026-11-30T12-00-00_�[31mred.csv".replace("�", "_")]
    assert "__MACOSX" not in result.stdout


@pytest.mark.slow
def test_a_zip_bomb_stops_at_the_cap(tmp_path):
    export = tmp_path / "bomb.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("x_1_2_bomb.csv", EXPORTED)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as f:
            for _ in range(200):  # 200 MB of zeros, a few hundred KB compressed
                f.write(b"0" * 1_000_000)
    assert export.stat().st_size < 1_000_000
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--format", "canvas")
    assert result.returncode == 1
    assert "x_1_2_bomb.csv: larger than --max-size 10 MB; not copied." in result.stdout
    assert not (into / "x").exists()


def test_names_that_cannot_name_a_folder_are_refused_without_a_roster(tmp_path):
    export = write_zip(
        tmp_path / "moodle.zip",
        [
            ("Eve\u202eexe.csv_7_assignsubmission_file_/a.csv", CSV),
            (".hidden_8_assignsubmission_file_/a.csv", CSV),
            (unicodedata.normalize("NFD", "José Núñez") + "_9_assignsubmission_file_/a.csv", CSV),
        ],
    )
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--timezone", "UTC")
    assert result.returncode == 1
    assert (
        "'Eve\\u202eexe.csv' holds the invisible or control character U+202E, so it "
        "cannot name a folder; pass --roster" in result.stdout
    )
    assert "'.hidden' starts with a dot (grader score skips hidden folders)" in result.stdout
    assert tree(into) == ["José Núñez/2026-11-30T12-00-00_a.csv", "collected.csv"]  # NFC


def test_a_name_that_differs_only_by_case_from_a_folder_there_is_refused(tmp_path):
    into = tmp_path / "subs"
    (into / "Bob").mkdir(parents=True)
    (into / "Bob" / "old.csv").write_bytes(b"id,label\n")
    export = write_zip(tmp_path / "bb.zip", [("HW_bob_attempt_2026-11-20-10-00-00_a.csv", CSV)])
    result = grader("collect", str(export), "--into", str(into), "--timezone", "UTC")
    assert result.returncode == 1
    assert (
        f"{into}/ already has the participant 'Bob', and grader score refuses names that "
        "differ only by letter case, spaces or normalisation ('bob'). Rename one of them; not "
        "copied."
    ) in result.stdout
    assert tree(into) == ["Bob/old.csv"]


def test_a_second_run_into_the_same_folder_waits_for_none(canvas, tmp_path):
    export, roster = canvas
    into = tmp_path / "subs"
    with exclusive_lock(into, "--into", "grader collect"):
        result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --into {into}: another grader collect run (pid {os.getpid()}) is writing it "
        f"(lock file {tmp_path}/.subs.lock). Wait for it to finish, or choose another --into.\n"
    )
    assert not into.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "student_id,canvas_id\ns1,5\ns2,5\n",
            "line 3: canvas_id '5' repeats line 2; each student needs their own.",
        ),
        (
            "student_id,kaggle_name\ns1,a\ns1,b\n",
            "line 3: student_id 's1' repeats line 2; each student needs their own.",
        ),
        (
            "student_id,kaggle_name\ns1,\ns2,S1\n",
            "line 3: kaggle_name 'S1' repeats line 2 (its student_id) (names are compared "
            "ignoring letter case); every student needs a folder and a board row of their own.",
        ),
        (
            "student_id,extension_hours\ns1,two days\n",
            "line 2: extension_hours 'two days' is not a number of hours from 0 up to a year; "
            "write e.g. 48, or leave it empty for none.",
        ),
        (
            "student_id,kaggle_name\ns1,a/b\n",
            "line 2: the kaggle_name 'a/b' holds a slash; it names the student's folder and "
            "board row. Correct it.",
        ),
    ],
)
def test_a_bad_roster_is_one_error_line_and_nothing_is_copied(canvas, tmp_path, content, message):
    export, _ = canvas
    roster = tmp_path / "bad.csv"
    roster.write_text(content)
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"Error: --roster {roster} {message}\n"
    assert not into.exists()


def test_an_excel_roster_with_semicolons_and_a_bom_is_read(canvas, tmp_path):
    export, _ = canvas
    roster = tmp_path / "excel.csv"
    roster.write_bytes(
        "\ufeffStudent_ID;Kaggle_Name;Canvas_ID;Tutor\r\ns1;jsmith;12345;A\r\n".encode()
    )
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert result.stderr == (
        f"Warning: --roster {roster}: column(s) 'Tutor' not used; the known columns are "
        "student_id, kaggle_name, name, email, canvas_id, canvas_anon_id, moodle_id, username, "
        "github, sis_user_id, sis_login_id, section, first_name, last_name, extension_hours, "
        "kaggle_notebook.\n"
    )
    assert [p.split("/")[0] for p in tree(into)] == ["collected.csv", "jsmith"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "missing",
            "{tmp}/nope.zip: no such file or folder. Pass the LMS's export (a .zip or a folder).",
        ),
        (
            "not-zip",
            "{tmp}/notes.zip: not a readable zip file (File is not a zip file). Pass the "
            "LMS's export as it was downloaded (a .zip), or a folder it was unpacked into.",
        ),
        ("into-file", "--into {tmp}/afile: a file, not a folder. Choose a folder."),
        (
            "inside",
            "{tmp}/subs/old.zip: lies inside --into {tmp}/subs, where grader score would "
            "take it for a submission (and collect would read its own copies). Keep exports apart.",
        ),
        (
            "timezone",
            "--timezone: 'Mars/Olympus' is not a timezone: use local, UTC, a name such as "
            "Europe/Berlin or an offset such as +01:00.",
        ),
    ],
)
def test_usage_errors_copy_nothing(canvas, tmp_path, setup, message):
    export, _ = canvas
    into, extra = tmp_path / "subs", []
    sources = [str(export)]
    if setup == "missing":
        sources.append(str(tmp_path / "nope.zip"))
    elif setup == "not-zip":
        (tmp_path / "notes.zip").write_text("hello")
        sources.append(str(tmp_path / "notes.zip"))
    elif setup == "into-file":
        into = tmp_path / "afile"
        into.write_text("x")
    elif setup == "inside":
        into.mkdir()
        sources.append(str(write_zip(into / "old.zip", [("a_1_2_b.csv", CSV)])))
    else:
        extra = ["--timezone", "Mars/Olympus"]
    result = grader("collect", *sources, "--into", str(into), *extra)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"Error: {message.format(tmp=tmp_path)}\n"
    assert not (into / "collected.csv").exists()


def test_zip_names_in_utf8_without_the_flag_and_long_names(tmp_path):
    """Archivers often write UTF-8 names without the zip's UTF-8 flag; names can be long."""
    long_name = "x" * 300 + ".csv"
    export = write_zip(
        tmp_path / "c.zip",
        [("josXY_1_2_sub.csv", CSV), (f"ann_3_4_{long_name}", CSV)],
    )
    data = export.read_bytes()
    assert data.count(b"josXY") == 2  # the local header and the central directory
    export.write_bytes(data.replace(b"josXY", "josé".encode()))  # same length, no flag
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--timezone", "UTC")
    assert result.returncode == 0, result.stdout
    files = tree(into)
    assert files[1:] == ["collected.csv", "josé/2026-11-30T12-00-00_sub.csv"]
    assert files[0] == "ann/2026-11-30T12-00-00_" + "x" * 150 + ".csv"  # 150 bytes kept


def test_copies_whose_manifest_was_lost_are_found_again(canvas, tmp_path):
    export, roster = canvas
    into = tmp_path / "subs"
    args = ("--into", str(into), "--roster", str(roster), "--timezone", "UTC")
    grader("collect", str(export), *args)
    rows = manifest(into)
    (into / "collected.csv").unlink()  # say a full disk stopped it from being written
    again = grader("collect", str(export), *args)
    assert "0 new file(s) copied, 3 already there;" in again.stdout
    assert [{k: v for k, v in r.items() if k != "collected_at"} for r in manifest(into)] == [
        {k: v for k, v in r.items() if k != "collected_at"} for r in rows
    ]
    assert len(tree(into)) == 4  # nothing copied twice


def test_a_file_named_like_another_students_export_name_stays_its_owners(tmp_path):
    """The student names only the end of an export name: a file called like another
    student's entry, or with a later attempt time, cannot pass for it."""
    moodle = write_zip(
        tmp_path / "moodle.zip",
        [("Eve Evil_7_assignsubmission_file_Bob Good_8_assignsubmission_file_x.csv", CSV)],
    )
    blackboard = write_zip(
        tmp_path / "bb.zip",
        [
            (
                "HW_eve_attempt_2026-11-20-10-00-00__attempt_2020-01-01-00-00-00_x.csv",
                CSV + b"1,dog\n",
            )
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,moodle_id,username\neve,7,eve\nbob,8,bob\n")
    into = tmp_path / "subs"
    for export in (moodle, blackboard):
        result = grader(
            "collect",
            str(export),
            "--into",
            str(into),
            "--roster",
            str(roster),
            "--timezone",
            "UTC",
        )
        assert result.returncode == 0, result.stdout
    assert tree(into) == [
        "collected.csv",
        "eve/2026-11-20T10-00-00__attempt_2020-01-01-00-00-00_x.csv",
        "eve/2026-11-30T12-00-00_Bob Good_8_assignsubmission_file_x.csv",
    ]


def test_an_empty_export_is_said_to_be_empty(tmp_path):
    export = write_zip(tmp_path / "empty.zip", [])
    result = grader("collect", str(export), "--into", str(tmp_path / "subs"))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"Collected from 1 export(s) into {tmp_path / 'subs'}/:\n"
        "  empty.zip: empty (no files in it: download it again?)\n"
        "\n"
        "No file collected yet.\n"
        "\n"
        "0 new file(s) copied, 0 already there; nothing collected, so no manifest was written.\n"
    )


@pytest.mark.parametrize("shape", ["folder", "zip of its contents", "zip of the folder", "inside"])
def test_a_classroom_repository_cannot_hold_another_students_folder(tmp_path, shape):
    """Only the export's own `...-submissions` folder names repositories: a folder of that
    name inside alice's repository is alice's, whatever it holds."""
    files = {
        "hw1-alice/submission.csv": CSV,
        "hw1-bob/submission.csv": CSV + b"1,dog\n",
        "hw1-alice/x-submissions/hw1-bob/forged.selected.csv": CSV + b"2,cat\n",
    }
    root = tmp_path / "hw1-submissions"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    if shape == "folder":
        export = root
    elif shape == "zip of its contents":
        export = write_zip(tmp_path / "hw1-submissions.zip", list(files.items()))
    elif shape == "zip of the folder":
        entries = [(f"hw1-submissions/{name}", data) for name, data in files.items()]
        export = write_zip(tmp_path / "hw1-submissions.zip", entries)
    else:
        entries = [(f"hw1-submissions/{name}", data) for name, data in files.items()]
        export = write_zip(tmp_path / "download.zip", entries)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,github\ns1,alice,alice\ns2,bob,bob\n")
    into = tmp_path / "subs"
    result = grader(
        "collect", str(export), "--into", str(into), "--roster", str(roster), "--timezone", "UTC"
    )
    assert result.returncode == 0, result.stdout
    assert "GitHub Classroom (detected: 3 of 3 file(s) follow its naming)" in result.stdout
    assert [p.split("_", 1)[1] for p in tree(into / "alice")] == [
        "submission.csv",
        "x-submissions_hw1-bob_forged.selected.csv",
    ]
    assert [p.split("_", 1)[1] for p in tree(into / "bob")] == ["submission.csv"]


def test_numbered_copies_whose_manifest_was_lost_are_listed_again(tmp_path):
    """Two files of one name get <name>.csv and <name>-2.csv; after a lost manifest (or a
    kill -9) the next run lists both again, with their late marks."""
    export = write_zip(
        tmp_path / "c.zip",
        [("annk_LATE_101_1_sub.csv", CSV), ("annk_LATE_101_2_sub.csv", CSV + b"1,dog\n")],
    )
    into = tmp_path / "subs"
    args = ("--into", str(into), "--timezone", "UTC")
    assert grader("collect", str(export), *args).returncode == 0
    rows = manifest(into)
    assert [r["file"] for r in rows] == [
        "annk/2026-11-30T12-00-00_sub.csv",
        "annk/2026-11-30T12-00-00_sub-2.csv",
    ]
    (into / "collected.csv").unlink()
    again = grader("collect", str(export), *args)
    assert "0 new file(s) copied, 2 already there;" in again.stdout
    assert f"{into}/collected.csv lists 2 collected file(s)." in again.stdout
    assert [(r["file"], r["lms_late"]) for r in manifest(into)] == [
        ("annk/2026-11-30T12-00-00_sub.csv", "yes"),
        ("annk/2026-11-30T12-00-00_sub-2.csv", "yes"),
    ]


@pytest.mark.parametrize("spelled", [".", "../subs", "sub2/.."])
def test_the_lock_is_the_folders_however_it_is_spelled(canvas, tmp_path, spelled):
    export, roster = canvas
    into = tmp_path / "subs"
    (into / "sub2").mkdir(parents=True)
    with exclusive_lock(into, "--into", "grader collect"):
        result = grader(
            "collect", str(export), "--into", spelled, "--roster", str(roster), cwd=into
        )
    assert result.returncode == 2, result.stdout
    assert "another grader collect run" in result.stderr
    assert f"(lock file {tmp_path}/.subs.lock)" in result.stderr
    assert tree(into) == []


def test_a_user_name_the_export_and_the_roster_read_differently_is_not_guessed(tmp_path):
    """'Contest_wei_li' ends with the roster's 'li', but after the 'Contest_' every name
    shares it reads 'wei_li': the file is nobody's until the TA decides."""
    export = write_zip(
        tmp_path / "bb.zip",
        [
            ("Contest_li_attempt_2026-11-24-10-00-00_a.csv", CSV),
            ("Contest_wei_li_attempt_2026-11-24-11-00-00_b.csv", CSV + b"1,dog\n"),
            ("Contest_bo_attempt_2026-11-24-11-00-00_c.csv", CSV + b"2,dog\n"),
        ],
    )
    repos = tmp_path / "hw1-submissions"
    for repo in ("hw1-li", "hw1-wei-li", "hw1-bo"):
        (repos / repo).mkdir(parents=True)
        (repos / repo / "s.csv").write_bytes(repo.encode())
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,kaggle_name,username,github\ns1,li,li,li\ns2,wei,weili,weili\ns3,bo,bo,bo\n"
    )
    into = tmp_path / "subs"
    args = ("--into", str(into), "--roster", str(roster), "--timezone", "UTC")
    result = grader("collect", str(export), str(repos), *args)
    assert result.returncode == 1
    assert result.stdout.split("Matched to no student (2):\n")[1].splitlines()[:2] == [
        "  bb.zip: Contest_wei_li_attempt_2026-11-24-11-00-00_b.csv: after 'Contest_', which "
        "every name of the export shares, the user name is 'wei_li', which is no username of "
        "the roster, though the roster's 'li' ends it: copy the file by hand into the right "
        "student's folder; not copied.",
        "  hw1-submissions: hw1-wei-li/s.csv: after 'hw1-', which every name of the export "
        "shares, the user name is 'wei-li', which is no github of the roster, though the "
        "roster's 'li' ends it: copy the file by hand into the right student's folder; not "
        "copied.",
    ]
    assert [p.split("/")[0] for p in tree(into)] == ["bo", "bo", "collected.csv", "li", "li"]


def test_one_student_alone_whose_name_two_roster_users_end_is_not_guessed(tmp_path):
    export = write_zip(
        tmp_path / "bb.zip", [("Project 1_j_smith_attempt_2026-11-20-14-03-05_a.csv", CSV)]
    )
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,username\n10,j_smith\n11,smith\n")
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert result.returncode == 1
    assert (
        "bb.zip: Project 1_j_smith_attempt_2026-11-20-14-03-05_a.csv: 'Project 1_j_smith' "
        "ends with the roster's username 'j_smith' and with 'smith', and the export's names "
        "cannot tell which: copy the file by hand into the right student's folder; not "
        "copied."
    ) in result.stdout


def test_a_moodle_id_whose_roster_name_is_another_students_is_refused(tmp_path):
    """Moodle numbers participants per assignment: a roster filled from another
    assignment's export would swap students. The full name must agree with the id's."""
    export = write_zip(
        tmp_path / "m.zip",
        [
            ("Ann Lee_502_assignsubmission_file_/a.csv", CSV),
            ("Bob Ray_501_assignsubmission_file_/b.csv", CSV + b"1,dog\n"),
            ("CY CHEN_503_assignsubmission_file_/c.csv", CSV + b"2,dog\n"),
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,kaggle_name,name,moodle_id\n"
        "s1,ann,Ann Lee,501\ns2,bob,Bob Ray,502\ns3,cy,Cy  Chen,503\n"
    )
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert result.returncode == 1
    assert result.stdout.split("Matched to no student (2):\n")[1].splitlines()[:2] == [
        "  m.zip: Ann Lee_502_assignsubmission_file_/a.csv: participant id 502 (Ann Lee) is the "
        "moodle_id of roster student s2, whose name is 'Bob Ray': is the roster's moodle_id "
        "from another assignment (Moodle numbers participants per assignment)? Not copied.",
        "  m.zip: Bob Ray_501_assignsubmission_file_/b.csv: participant id 501 (Bob Ray) is the "
        "moodle_id of roster student s1, whose name is 'Ann Lee': is the roster's moodle_id "
        "from another assignment (Moodle numbers participants per assignment)? Not copied.",
    ]
    assert [p.split("/")[0] for p in tree(into)] == ["collected.csv", "cy"]  # case, spaces


def test_without_a_roster_two_students_of_one_name_are_never_merged(tmp_path):
    moodle = write_zip(
        tmp_path / "m.zip",
        [
            ("Wei Zhang_11_assignsubmission_file_/a.csv", CSV),
            ("Wei Zhang_12_assignsubmission_file_/a.csv", CSV + b"1,dog\n"),
            ("José Ruiz_13_assignsubmission_file_/x.csv", CSV + b"2,dog\n"),
        ],
    )
    canvas = write_zip(tmp_path / "c.zip", [("smithjohn_101_1_sub.csv", CSV)])
    later = write_zip(tmp_path / "later.zip", [("smithjohn_102_2_sub.csv", CSV + b"3,dog\n")])
    into = tmp_path / "subs"
    args = ("--into", str(into), "--timezone", "UTC")
    assert grader("collect", str(canvas), *args).returncode == 0
    result = grader("collect", str(moodle), str(later), *args)
    assert result.returncode == 1
    assert result.stdout.split("Matched to no student (3):\n")[1].splitlines() == [
        "  m.zip: Wei Zhang_11_assignsubmission_file_/a.csv: the Moodle name 'Wei Zhang' "
        "stands for 2 students (participant ids 11, 12): without --roster they would share "
        "one folder. Pass --roster with their moodle_id; not copied.",
        "  m.zip: Wei Zhang_12_assignsubmission_file_/a.csv: the Moodle name 'Wei Zhang' "
        "stands for 2 students (participant ids 11, 12): without --roster they would share "
        "one folder. Pass --roster with their moodle_id; not copied.",
        "  later.zip: smithjohn_102_2_sub.csv: the Canvas name 'smithjohn' stands for 2 "
        "students (Canvas user ids 101, 102): without --roster they would share one folder. "
        "Pass --roster with their canvas_id; not copied.",
    ]
    assert [p.split("/")[0] for p in tree(into)] == ["José Ruiz", "collected.csv", "smithjohn"]


def test_compressed_submissions_are_refused_not_listed(tmp_path):
    """Kaggle accepts a zipped CSV, grader score does not read one: a compressed file
    handed in is refused (exit 1), never quietly listed as if it were a note."""
    export = write_zip(
        tmp_path / "c.zip",
        [
            ("smithjohn_101_1_submission.csv.zip", b"PK\x03\x04"),
            ("smithjohn_101_2_sub.csv.gz", b"\x1f\x8b"),
            ("stray.7z", b"7z"),
            ("smithjohn_101_3_notes.txt", b"notes"),
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,kaggle_name,canvas_id\ns1,jsmith,101\n")
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert result.returncode == 1
    refused = result.stdout.split("Refused (3):\n")[1].split("\n\n")[0].splitlines()
    assert refused == [
        "  c.zip: smithjohn_101_1_submission.csv.zip: a compressed file (Kaggle accepts zipped "
        f"submissions; grader score reads .csv files only): unzip it and put the CSV in "
        f"{into}/jsmith/; not copied.",
        "  c.zip: smithjohn_101_2_sub.csv.gz: a compressed file (Kaggle accepts zipped "
        f"submissions; grader score reads .csv files only): unzip it and put the CSV in "
        f"{into}/jsmith/; not copied.",
        "  c.zip: stray.7z: a compressed file (Kaggle accepts zipped submissions; grader score "
        "reads .csv files only): unzip it and put the CSV in the student's folder in "
        f"{into}/; not copied.",
    ]
    assert "smithjohn_101_3_notes.txt: not a .csv file; not copied." in result.stdout
    assert "Matched by full name" not in result.stdout


@pytest.mark.parametrize("size", ["inf", "nan", "0", "-1"])
def test_a_max_size_that_is_no_size_is_refused_before_anything_is_made(canvas, tmp_path, size):
    export, _ = canvas
    into = tmp_path / "new" / "subs"
    result = grader("collect", str(export), "--into", str(into), "--max-size", size)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --max-size {size}: give a finite size in MB above 0, e.g. 10.\n"
    )
    assert not (tmp_path / "new").exists()


def test_a_slash_or_line_break_in_the_students_own_name_is_part_of_that_name(tmp_path):
    """Canvas and Blackboard exports are flat: a '\\' in an entry's name (which zip readers
    take for a folder) or a line break belongs to the student's file name, after the LMS's
    part, and can neither forge another student's name nor hide the file."""
    canvas = write_zip(
        tmp_path / "c.zip",
        [
            ("annk_101_2_a\nb.csv", CSV),
            ("annk_101_7_a\\b.csv", CSV + b"1,dog\n"),
            ("annk_101_8_x\\eve_102_9_y.csv", CSV + b"2,dog\n"),
        ],
    )
    blackboard = write_zip(
        tmp_path / "bb.zip",
        [
            (
                "HW_ann_attempt_2026-11-20-10-00-00_x\\HW_bob_attempt_2026-11-21-10-00-00_y.csv",
                CSV * 2,
            ),
            ("HW_bob_attempt_2026-11-22-10-00-00_z.csv", CSV + b"3,dog\n"),
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,kaggle_name,canvas_id,username\ns1,ann,101,ann\ns2,eve,102,\ns3,bob,,bob\n"
    )
    into = tmp_path / "subs"
    args = ("--into", str(into), "--roster", str(roster), "--timezone", "UTC")
    for export in (canvas, blackboard):
        result = grader("collect", str(export), *args)
        assert result.returncode == 0, result.stdout
    assert tree(into) == [
        "ann/2026-11-20T10-00-00_x_HW_bob_attempt_2026-11-21-10-00-00_y.csv",
        "ann/2026-11-30T12-00-00_a_b-2.csv",
        "ann/2026-11-30T12-00-00_a_b.csv",
        "ann/2026-11-30T12-00-00_x_eve_102_9_y.csv",
        "bob/2026-11-22T10-00-00_z.csv",
        "collected.csv",
    ]


def test_copies_are_made_on_a_file_system_without_hard_links(tmp_path, monkeypatch):
    """FAT and some network file systems refuse os.link: the name is then claimed with an
    exclusive create and the complete temporary file renamed over it."""
    import errno

    from grader.core import fileio

    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(fileio.os, "link", no_links)
    target = tmp_path / "a.csv"
    assert fileio.write_bytes_atomically(target, CSV, replace=False) is True
    assert fileio.write_bytes_atomically(target, b"other", replace=False) is False
    assert target.read_bytes() == CSV
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]  # no temporary file left


def test_an_encrypted_entry_is_refused(tmp_path):
    export = write_zip(tmp_path / "c.zip", [("annk_101_1_sub.csv", CSV)])
    # Python writes no encrypted zips: set the "encrypted" flag (bit 0) in the local header
    # and in the central directory, as a password-protected export has it.
    data = bytearray(export.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    export.write_bytes(bytes(data))
    into = tmp_path / "subs"
    result = grader("collect", str(export), "--into", str(into), "--format", "canvas")
    assert result.returncode == 1
    assert (
        "Refused (1):\n  c.zip: annk_101_1_sub.csv: encrypted; not copied. Export again "
        "without a password.\n"
    ) in result.stdout
    assert not into.exists() or tree(into) == []


def test_the_run_stops_reading_at_its_total_cap(tmp_path, monkeypatch):
    """MAX_TOTAL bounds what one run reads from all its exports (a zip bomb of many
    entries, each under --max-size): files past it are refused, not read."""
    from grader.collect import run as collect_module
    from grader.collect.options import CollectOptions

    monkeypatch.setattr(collect_module, "MAX_TOTAL", 2 * len(CSV) + 5)
    export = write_zip(
        tmp_path / "c.zip",
        [(f"s{i}_{i}_{i}_a.csv", CSV.replace(b"0,", f"{i},".encode())) for i in range(1, 5)],
    )
    options = CollectOptions((export,), tmp_path / "subs", timezone="UTC")
    result = collect_module.collect(options)
    assert [o.kind for o in result.outcomes] == ["copied", "copied", "refused", "refused"]
    assert result.outcomes[2].reason == (
        f"cannot be read (this run's exports hold more than {(2 * len(CSV) + 5) / 2**30:g} GB "
        "of CSV files, the most one run reads); not copied."
    )
    assert result.exit_code == 1


def test_a_manifest_that_cannot_be_written_is_exit_2_and_the_copies_stay(
    canvas, tmp_path, monkeypatch, capsys
):
    from grader import cli
    from grader.collect import run as collect_module

    def full_disk(path, text, mode=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(collect_module, "write_text_atomically", full_disk)
    export, roster = canvas
    into = tmp_path / "subs"
    code = cli.main(["collect", str(export), "--into", str(into), "--roster", str(roster)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "3 new file(s) copied" in out
    assert err == (
        f"Error: {into}/collected.csv could not be written (No space left on device): the files "
        "above were copied, but grader score will not know their times and late marks. Free the "
        "space or fix the permissions, then run grader collect again: it finds the copies and "
        "lists them.\n"
    )
    assert len(tree(into)) == 3 and not (into / "collected.csv").exists()
    monkeypatch.undo()  # the disk has space again: the next run lists the copies
    again = grader("collect", str(export), "--into", str(into), "--roster", str(roster))
    assert f"0 new file(s) copied, 3 already there; {into}/collected.csv lists 3" in again.stdout


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_copied_listed_and_exits_130(tmp_path):
    """A real SIGINT in the middle of a long run: the copies made are in the manifest, the
    run says so and exits 130, and the next run adds the rest, copying nothing twice."""
    import signal
    import time

    count = 3000
    export = write_zip(
        tmp_path / "c.zip",
        [(f"s{i}_{i}_{i}_a.csv", CSV + str(i).encode()) for i in range(1, count + 1)],
    )
    into = tmp_path / "subs"
    args = [sys.executable, "-m", "grader", "collect", str(export), "--into", str(into)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not (into.is_dir() and len(list(into.iterdir())) > 5) and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, (out, err)
    assert "Interrupted: the files above were copied; run again for the rest." in out
    copied = [p for p in tree(into) if p != "collected.csv"]
    assert 0 < len(copied) < count
    assert {r["file"] for r in manifest(into)} == set(copied)
    again = grader("collect", str(export), "--into", str(into))
    assert again.returncode == 0
    assert f"{count - len(copied)} new file(s) copied, {len(copied)} already there" in again.stdout
    assert len(manifest(into)) == count == len(tree(into)) - 1
