"""The submission validator: every kind of problem with its exact message, and tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from grader.bundle.answers import AnswerKey
from grader.bundle.files import CIFAR10_CLASSES
from grader.bundle.submission import SubmissionChecker

KEY = AnswerKey(np.arange(10), CIFAR10_CLASSES)  # test ids 0..9
ALLOWED = (
    "Allowed: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck (any case) "
    "or their indices 0-9, one style for the whole file."
)
GOOD_ROWS = [f"{i},{CIFAR10_CLASSES[i]}" for i in range(10)]


def check(data: bytes | str):
    if isinstance(data, str):
        data = data.encode()
    return SubmissionChecker(KEY).check_bytes(data, "sub.csv")


def csv_text(*rows: str, header: str = "id,label") -> str:
    return "\n".join([header, *rows]) + "\n"


def test_a_valid_file_gives_labels_in_test_id_order():
    result = check(csv_text(*reversed(GOOD_ROWS)))
    assert result.valid and result.problems == []
    assert result.labels.tolist() == list(range(10))
    assert (result.rows, result.style) == (10, "names")


@pytest.mark.parametrize(
    "data",
    [
        "\ufeff" + csv_text(*GOOD_ROWS),  # byte order mark
        csv_text(*GOOD_ROWS).replace("\n", "\r\n"),  # Windows line ends
        csv_text(*(f'"{r.split(",")[0]}","{r.split(",")[1]}"' for r in GOOD_ROWS)),  # quoted
        csv_text(*(f" {r.split(',')[0]} , {r.split(',')[1].upper()} " for r in GOOD_ROWS)),
        csv_text(*GOOD_ROWS, header=" ID , Label "),
        csv_text(*(f"{r.split(',')[1]},{r.split(',')[0]}" for r in GOOD_ROWS), header="label,id"),
        csv_text(*GOOD_ROWS) + "\n\n",  # trailing blank lines
        "\n\n" + csv_text(*GOOD_ROWS),  # leading blank lines
        "sep=,\n" + csv_text(*GOOD_ROWS),  # Excel's separator line
        csv_text(*(f"{i},{i}" for i in range(10))),  # indices instead of names
        csv_text(*(f"00{i},0{i}" for i in range(10))),  # leading zeros
        csv_text("0" * 20 + ",airplane", *GOOD_ROWS[1:]),  # 20 digits: the longest id
    ],
    ids=[
        "bom",
        "crlf",
        "quoted",
        "spaces-and-case",
        "header-case",
        "column-order",
        "blank-lines",
        "leading-blank-lines",
        "excel-sep-line",
        "indices",
        "leading-zeros",
        "twenty-digits",
    ],
)
def test_tolerated_variations(data):
    result = check(data)
    assert result.problems == []
    assert result.labels.tolist() == list(range(10))


BAD_FILES = {
    "empty": (
        b"",
        [
            "the file is empty. Expected the header id,label and 10 rows, one per test id "
            "(see sample_submission.csv)."
        ],
    ),
    "only-bom-and-blank-lines": (
        b"\xef\xbb\xbf\r\n\r\n",
        [
            "the file is empty. Expected the header id,label and 10 rows, one per test id "
            "(see sample_submission.csv)."
        ],
    ),
    "binary": (
        b"\x93NUMPY\x01\x00v\x00",
        [
            "binary data, not CSV text (a NUL byte at offset 7). Save the predictions as a "
            ".csv text file, e.g. df.to_csv(path, index=False) in pandas."
        ],
    ),
    "xlsx": (
        b"PK\x03\x04\x14\x00\x06\x00",
        [
            "this is a zip archive (an Excel .xlsx file?), not CSV text. Export it as CSV, "
            "e.g. df.to_csv(path, index=False) in pandas."
        ],
    ),
    "latin-1": (
        b"id,label\n0,airplane\n1,caf\xe9\n",
        [
            'line 3: not UTF-8 text (byte 0xe9). Save the file as UTF-8 ("CSV UTF-8" in '
            "spreadsheet programs)."
        ],
    ),
    "semicolons": (
        csv_text(*(r.replace(",", ";") for r in GOOD_ROWS), header="id;label"),
        [
            "line 1: fields are separated by ';', not commas: this is not a comma-separated "
            "file. Save it with commas, e.g. df.to_csv(path, index=False) in pandas."
        ],
    ),
    "tabs": (
        csv_text(*(r.replace(",", "\t") for r in GOOD_ROWS), header="id\tlabel"),
        [
            "line 1: fields are separated by tabs, not commas: this is not a comma-separated "
            "file. Save it with commas, e.g. df.to_csv(path, index=False) in pandas."
        ],
    ),
    "no-header": (
        "\n".join(GOOD_ROWS) + "\n",
        ["line 1: no header; the first line must be id,label (found the data row '0,airplane')."],
    ),
    "wrong-header": (
        csv_text(*GOOD_ROWS, header="image,class"),
        ["line 1: the header is 'image,class'; expected id,label."],
    ),
    "pandas-index": (
        csv_text(*(f"{i},{r}" for i, r in enumerate(GOOD_ROWS)), header=",id,label"),
        [
            "line 1: extra column(s) ''; a submission has exactly the columns id,label (an "
            "unnamed first column is pandas' index: write the file with "
            "df.to_csv(path, index=False))."
        ],
    ),
    "extra-columns": (
        csv_text(*(f"{r},0.9,x" for r in GOOD_ROWS), header="id,label,confidence,model"),
        [
            "line 1: extra column(s) 'confidence', 'model'; a submission has exactly the "
            "columns id,label."
        ],
    ),
    "missing-ids": (
        csv_text(*GOOD_ROWS[:4]),
        ["6 of the 10 test ids have no row (ids 4, 5, 6, ...)."],
    ),
    "unknown-and-bad-ids": (
        csv_text(*GOOD_ROWS[:8], "10,cat", "-1,cat", "x7,cat", "8.0,ship", ",dog"),
        [
            "empty id on 1 line: line 14.",
            "id that is not a whole number of at most 20 digits 0-9 on 3 lines: line 11 ('-1'), "
            "line 12 ('x7'), line 13 ('8.0').",
            "id not in the test set on 1 line: line 10 (id 10). Test ids run from 0 to 9.",
            "13 data rows, more than the 10 test ids.",
            "2 of the 10 test ids have no row (ids 8, 9).",
        ],
    ),
    "duplicates": (
        csv_text(*GOOD_ROWS, "3,cat", "3,dog", "0,cat"),
        [
            "duplicate id on 3 lines: line 12 (id 3, first on line 5), line 13 (id 3, first "
            "on line 5), line 14 (id 0, first on line 2).",
            "13 data rows, more than the 10 test ids.",
        ],
    ),
    "many-duplicates": (
        csv_text(*GOOD_ROWS, *GOOD_ROWS, *GOOD_ROWS),
        [
            "duplicate id on 20 lines: line 12 (id 0, first on line 2), line 13 (id 1, first "
            "on line 3), line 14 (id 2, first on line 4) and 17 more.",
            "30 data rows, more than the 10 test ids.",
        ],
    ),
    "unknown-labels": (
        csv_text(*GOOD_ROWS[:7], "7,lion", "8,10", "9,plane"),
        [
            "unknown label on 3 lines: line 9 ('lion'), line 10 ('10'), line 11 ('plane'). "
            + ALLOWED
        ],
    ),
    "empty-labels": (
        csv_text(*GOOD_ROWS[:8], "8,", "9,  "),
        ["empty label on 2 lines: line 10, line 11."],
    ),
    "mixed-names-and-indices": (
        csv_text(*GOOD_ROWS[:5], *(f"{i},{i}" for i in range(5, 10))),
        [
            "labels mix class names (line 2: 'airplane') and indices (line 7: '5'); use one "
            "or the other for the whole file."
        ],
    ),
    "utf-16": (
        "\ufeff".encode("utf-16-le") + csv_text(*GOOD_ROWS).encode("utf-16-le"),
        [
            'this is UTF-16 text ("Unicode text" in spreadsheet programs), not UTF-8. Save it '
            "as UTF-8 CSV, e.g. df.to_csv(path, index=False) in pandas."
        ],
    ),
    "excel-sep-line-semicolon": (
        "sep=;\n" + csv_text(*(r.replace(",", ";") for r in GOOD_ROWS), header="id;label"),
        [
            "line 1: fields are separated by ';', not commas: this is not a comma-separated "
            "file. Save it with commas, e.g. df.to_csv(path, index=False) in pandas."
        ],
    ),
    "trailing-commas": (
        csv_text(*(r + "," for r in GOOD_ROWS), header="id,label,"),
        [
            "line 1: extra column(s) ''; a submission has exactly the columns id,label (a comma "
            "at the end of every line adds an empty column: remove it)."
        ],
    ),
    "duplicate-column": (
        csv_text(*(r + ",cat" for r in GOOD_ROWS), header="id,label,label"),
        [
            "line 1: the column 'label' appears 2 times; a submission has exactly the columns "
            "id,label."
        ],
    ),
    "unclosed-quote": (
        csv_text(*GOOD_ROWS[:3], '3,"cat', *GOOD_ROWS[4:]),
        [
            "a quoted field running over several lines (a quote never closed?) on 1 line: line 5 "
            "(to line 11).",
            "7 of the 10 test ids have no row (ids 3, 4, 5, ...).",
        ],
    ),
    "lenient-int-ids": (
        csv_text("+0,airplane", "1_0,cat", "\uff12,bird", *GOOD_ROWS[3:]),
        [
            "id that is not a whole number of at most 20 digits 0-9 on 3 lines: line 2 ('+0'), "
            "line 3 ('1_0'), line 4 ('\uff12').",
            "3 of the 10 test ids have no row (ids 0, 1, 2).",
        ],
    ),
    "ids-of-more-than-20-digits": (
        csv_text("0" * 21 + ",airplane", *GOOD_ROWS[1:]),
        [
            "id that is not a whole number of at most 20 digits 0-9 on 1 line: line 2 "
            "('000000000000000000000').",
            "1 of the 10 test ids has no row (id 0).",
        ],
    ),
    "ids-compare-by-value": (
        csv_text(*GOOD_ROWS, "0007,horse"),
        [
            "duplicate id on 1 line: line 12 (id 0007, first on line 9).",
            "11 data rows, more than the 10 test ids.",
        ],
    ),
    "long-values-are-cut": (
        csv_text(*GOOD_ROWS[:9], "9," + "x" * 300_000),
        ["unknown label on 1 line: line 11 ('" + "x" * 40 + "...'). " + ALLOWED],
    ),
    "wrong-field-counts": (
        csv_text(*GOOD_ROWS[:8], "8,ship,extra", "9"),
        [
            "wrong number of fields (expected 2) on 2 lines: line 10 (3 fields), line 11 "
            "(1 field).",
            "1 of the 10 test ids has no row (id 9).",
        ],
    ),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_problem_is_reported_with_its_exact_message(name):
    data, expected = BAD_FILES[name]
    result = check(data)
    assert not result.valid
    assert result.problems == expected


def test_all_problems_of_a_file_come_at_once():
    data = csv_text("0,airplane", "0,cat", "1,lion", "x,cat", "2,3", "3", header=" id,label")
    assert check(data).problems == [
        "wrong number of fields (expected 2) on 1 line: line 7 (1 field).",
        "id that is not a whole number of at most 20 digits 0-9 on 1 line: line 5 ('x').",
        "duplicate id on 1 line: line 3 (id 0, first on line 2).",
        "unknown label on 1 line: line 4 ('lion'). " + ALLOWED,
        "labels mix class names (line 2: 'airplane') and indices (line 6: '3'); use one or "
        "the other for the whole file.",
        "7 of the 10 test ids have no row (ids 3, 4, 5, ...).",
    ]


def test_a_file_far_larger_than_valid_is_refused_without_reading_it_all(tmp_path):
    checker = SubmissionChecker(KEY)
    assert checker.max_bytes == 1 << 20  # the floor: 10 ids make a tiny valid file
    path = tmp_path / "huge.csv"
    path.write_bytes(csv_text(*GOOD_ROWS).encode() + b"9,cat\n" * 200_000)
    result = checker.check_file(path)
    assert result.problems == [
        "the file is larger than 1.0 MB, far larger than a valid submission (about 0 KB for "
        "10 test ids), so it was not read. Write one row per test id and nothing else."
    ]


def test_the_size_limit_scales_with_the_test_set():
    checker = SubmissionChecker(AnswerKey(np.arange(10_000), CIFAR10_CLASSES))
    # (4 id digits + 10 letters of "automobile" + 4) bytes x 10,000 rows + 16 = 180,016
    assert checker.expected_bytes == 180_016
    assert checker.max_bytes == 16 * 180_016


def test_competition_given_a_file_says_it_wants_the_folder(tmp_path):
    from grader.bundle.answers import load_public_key
    from grader.core.errors import BundleError

    test_csv = tmp_path / "test.csv"
    test_csv.write_text("id\n0\n")
    with pytest.raises(BundleError) as info:
        load_public_key(test_csv)
    assert str(info.value) == (
        f"--competition {test_csv}: a file, not a folder. Pass the folder that holds the "
        "competition's public files (test.csv, classes.txt)."
    )
