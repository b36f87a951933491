"""Randomized inputs: no byte string makes the validator or `grader validate` crash, and no
set of hostile names makes `grader score` crash, merge participants or lose a file."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.board.public import report_names
from grader.bundle.answers import AnswerKey
from grader.bundle.files import CIFAR10_CLASSES
from grader.bundle.submission import SubmissionChecker
from grader.core import names
from grader.score.options import ScoreOptions
from grader.score.pipeline import score_submissions
from tests.scoring_fixtures import solution_rows, write_predictions

KEY = AnswerKey(np.arange(10), CIFAR10_CLASSES)
CHECKER = SubmissionChecker(KEY)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

# Pieces a hostile or careless file is made of.
FIELDS = st.one_of(
    st.sampled_from([str(i) for i in range(10)] + list(CIFAR10_CLASSES)),
    st.sampled_from(
        ["", " ", "007", "-1", "+3", "1_0", "1e3", "\u0663", "\uff11", "\u00b2", "\x00", "\ufeff"]
    ),
    st.sampled_from(['"', '""', '"a,b"', "\r", "\n", "\r\n", ";", "\t", "sep=;", "id", "label"]),
    st.text(min_size=0, max_size=12),
    st.integers(min_value=0, max_value=10**30).map(str),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),
)
ROWS = st.lists(st.lists(FIELDS, min_size=0, max_size=4).map(",".join), max_size=25)
ENDINGS = st.sampled_from(["\n", "\r\n", "\r", ""])


@st.composite
def csv_bytes(draw) -> bytes:
    """A CSV-like file: maybe a header, rows, odd line ends, a BOM in an odd place."""
    header = draw(st.sampled_from(["id,label", "label,id", "ID , Label", "id;label", ""]))
    text = draw(ENDINGS).join([header, *draw(ROWS)])
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff", b"\x00", b"PK"]))
            + data[at:]
        )
    return data


@st.composite
def nearly_valid_bytes(draw) -> bytes:
    """A valid file in one of its tolerated spellings, perhaps with one mutation."""
    order = draw(st.permutations(range(10)))
    style = draw(st.sampled_from(["names", "indices"]))
    case = draw(st.sampled_from([str, str.lower, str.upper, str.title]))
    pad = draw(st.sampled_from(["", " ", "0"]))
    swap = draw(st.booleans())
    rows = []
    for i in order:
        label = case(CIFAR10_CLASSES[i]) if style == "names" else str(i)
        ident = pad + str(i) if pad != " " else f" {i} "
        rows.append(f"{label},{ident}" if swap else f"{ident},{label}")
    header = "label,id" if swap else draw(st.sampled_from(["id,label", "ID,Label", " id , label "]))
    mutation = draw(st.sampled_from(["", "dup", "drop", "extra", "quote", "mixed", "blank", "bad"]))
    if mutation == "dup":
        rows.append(rows[0])
    elif mutation == "drop":
        rows.pop()
    elif mutation == "extra":
        rows[0] += ",x"
    elif mutation == "quote":
        rows[0] = '"' + rows[0].replace(",", '","') + '"'
    elif mutation == "mixed":
        rows[0] = rows[0].replace(CIFAR10_CLASSES[order[0]], str(order[0]), 1)
    elif mutation == "blank":
        rows.insert(3, "")
    elif mutation == "bad":
        rows[0] = draw(
            st.sampled_from(
                [
                    *("-1,cat", "1_0,cat", "\u0663,cat", "99,cat", "1,lion", "1,cat\x00"),
                    *("1,\x00", "1,10", "1,ca", "1,catt", "1,01", "1, 1", "1,automobile1"),
                    "10,cat",
                ]
            )
        )
    text = draw(ENDINGS.filter(bool)).join([header, *rows]) + draw(st.sampled_from(["", "\n"]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode()


def check_outcome(data: bytes) -> None:
    result = CHECKER.check_bytes(data, "f.csv")
    slow = CHECKER.diagnose_bytes(data, "f.csv")  # the row-by-row diagnosis alone
    assert (result.valid, result.problems, result.rows, result.style) == (
        slow.valid,
        slow.problems,
        slow.rows,
        slow.style,
    )
    assert (result.labels is None) == (slow.labels is None)
    if result.labels is not None:
        assert result.labels.tolist() == slow.labels.tolist()
    assert result.valid == (not result.problems)
    assert all(isinstance(p, str) and p for p in result.problems)
    if result.valid:
        assert result.labels is not None and (result.labels >= 0).all()
        assert result.rows == len(KEY.ids)


@pytest.mark.slow
@FUZZ
@given(csv_bytes())
def test_the_validator_never_crashes_on_csv_like_files(data):
    check_outcome(data)


@FUZZ
@given(st.binary(max_size=400))
def test_the_validator_never_crashes_on_random_bytes(data):
    check_outcome(data)


@FUZZ
@given(nearly_valid_bytes())
def test_the_fast_path_and_the_diagnosis_agree(data):
    check_outcome(data)


def test_plain_valid_files_take_the_fast_path():
    rows = [f"{i},{CIFAR10_CLASSES[i]}" for i in range(10)]
    for text in ("id,label\n" + "\n".join(rows) + "\n", "id,label\r\n" + "\r\n".join(rows)):
        labels, style = CHECKER._fast_labels(text)
        assert labels.tolist() == list(range(10)) and style == "names"
    assert CHECKER._fast_labels("id,label\n" + "\n".join(rows[:9]) + "\n9, truck\n") is None
    # Right counts of commas and lines, wrong rows: 3 fields, then 1.
    shifted = ["0,1,1", "0", *(f"{i},{i}" for i in range(2, 10))]
    assert CHECKER._fast_labels("id,label\n" + "\n".join(shifted)) is None
    check_outcome(("id,label\n" + "\n".join(shifted)).encode())


@pytest.mark.parametrize(
    ("classes", "data"),
    [
        (("Cat", "cat"), b"id,label\n0,Cat\n1,cat\n"),
        (("1", "dog"), b"id,label\n0,0\n1,1\n"),
        ((" cat", "dog"), b"id,label\n0, cat\n1,dog\n"),
    ],
)
def test_odd_class_names_leave_every_file_to_the_diagnosis(classes, data):
    checker = SubmissionChecker(AnswerKey(np.arange(2), classes))
    assert checker.fast is None
    fast, slow = checker.check_bytes(data, "f.csv"), checker.diagnose_bytes(data, "f.csv")
    assert (fast.valid, fast.problems) == (slow.valid, slow.problems)


def test_keys_the_fast_path_cannot_hold_still_validate():
    sparse = SubmissionChecker(AnswerKey(np.array([5, 10**12]), CIFAR10_CLASSES))
    assert sparse.fast is None  # a table indexed by id would be huge
    checked = sparse.check_bytes(b"id,label\n5,cat\n1000000000000,dog\n", "f.csv")
    assert checked.valid and checked.labels.tolist() == [3, 5]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(csv_bytes(), st.binary(max_size=200)))
def test_grader_validate_never_prints_a_traceback(competition, data):
    from grader.cli import main

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "f.csv"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path), "--competition", str(competition / "public")])
    assert code in (0, 1), err.getvalue()
    assert err.getvalue() == "" and out.getvalue().startswith(f"{path}: ")


# ----------------------------------------------------------------------------
# Hostile names at grader score
# ----------------------------------------------------------------------------

NAME_PIECES = st.one_of(
    st.sampled_from(["bob", "Bob", "BOB", "jos\u00e9", "jose\u0301", "\uff42ob", "a", "A"]),
    st.sampled_from(["\x1b[2J", "\n", "\u202e", "\u200b", "\x7f", "~", "-b5bf0414", "="]),
    st.sampled_from(["<img>", "..", " ", "\\xff", "2026-11-20T14-03-05_", "x.selected"]),
    st.binary(min_size=1, max_size=3).map(lambda b: os.fsdecode(b.replace(b"/", b"_"))),
    st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=4),
)
NAMES = st.lists(st.lists(NAME_PIECES, min_size=1, max_size=3).map("".join), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(NAMES, st.lists(st.booleans(), min_size=6, max_size=6))
def test_hostile_names_never_crash_merge_or_twin(competition, participant_names, as_folder):
    rows = solution_rows(competition)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        subs = root / "subs"
        subs.mkdir()
        for name, folder in zip(participant_names, as_folder, strict=False):
            name = name.replace("\x00", "_")
            if (
                name.startswith(".")
                or name.lower().startswith("readme")
                or len(os.fsencode(name)) > 200
            ):
                continue
            path = subs / name / "a.csv" if folder else subs / f"{name}.csv"
            try:
                write_predictions(path, rows, wrong=set())
            except (OSError, ValueError):
                continue  # a name this file system refuses
        if not any(subs.iterdir()):
            return
        run = score_submissions(
            ScoreOptions(
                folder=subs,
                solution=competition / "private" / "solution.csv",
                out=root / "board",
                review=root / "review",
                history=root / "h.sqlite",
            )
        )
        files_on_disk = sum(1 for p in subs.rglob("*.csv") if p.is_file() and not p.is_dir())
        assert len(run.entries) >= files_on_disk  # every file gets a status
        for e in run.entries:
            assert e.status in ("scored", "invalid", "error")
            assert (e.status == "scored") == (e.error == "")
            if e.identified:  # a name that can be shown faithfully
                assert not names.name_problem(e.name)
        ranked = [row.participant for row in run.board]
        assert len({names.clash_key(p) for p in ranked}) == len(ranked)  # never twins
        identified = sorted({e.participant for e in run.entries if e.identified})
        report_files = sorted(p.name for p in (root / "review" / "reports").iterdir())
        assert sorted(report_names(identified).values()) == report_files
        shutil.rmtree(root / "board")
