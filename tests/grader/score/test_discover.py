"""Finding files (grader.score.discover): submission times, what cannot be a submission
and why, one identity per participant, links that are not followed."""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime, timezone

import pytest

from grader.core.errors import UsageError
from grader.score.discover import discover


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
    # A TA who passes one CSV file instead of the folder is told so, not "no such folder".
    (tmp_path / "bob.csv").write_text("id,label\n")
    with pytest.raises(UsageError) as info:
        discover(tmp_path / "bob.csv")
    assert str(info.value) == (
        f"{tmp_path / 'bob.csv'}: a file, not a folder. Pass the folder of collected "
        "submissions (DIR/<participant>.csv or DIR/<participant>/*.csv)."
    )
