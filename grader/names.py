"""Who a submission belongs to: the one identity rule, and names as text.

A participant is the name of their file or folder in the submissions folder,
NFC-normalised (so a folder copied from a Mac, whose names are NFD, is the
same participant as one typed on Linux). A name is refused, never guessed at,
when it

* holds bytes that are not UTF-8, or a control or format character (line
  breaks, terminal escapes, right-to-left overrides, zero-width characters):
  such a name cannot be shown faithfully, and two of them can look alike;
* differs from another participant's name only by letter case or Unicode
  normalisation (`Bob` and `bob`, `José` typed two ways, full-width letters):
  they would look like one student, or be merged by a case-insensitive file
  system or LMS.

Refused names make every file involved an error whose reason names the
other files; the run goes on.
"""

from __future__ import annotations

import os
import unicodedata

# Unicode categories refused in a name: controls, format characters (bidi
# overrides, zero-width joiners), surrogates (undecodable bytes), private use,
# unassigned code points, and line/paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def decoded(name: str) -> str | None:
    """The name as text, or None when its bytes are not UTF-8.

    `os.listdir` gives undecodable bytes as lone surrogates (surrogateescape);
    going back to bytes and decoding strictly tells them apart.
    """
    try:
        return os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        return None


def name_problem(name: str) -> str:
    """Why a file or folder name cannot identify anyone ('' when it can), as the end
    of a sentence that starts "the name ..."."""
    text = decoded(name)
    if text is None:
        bad = next(_undecodable(os.fsencode(name)))
        return f"is not UTF-8 text (byte 0x{bad:02x})"
    for char in text:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"holds the invisible or control character U+{ord(char):04X}"
    return ""


def _undecodable(raw: bytes):
    """The bytes of `raw` that start an invalid UTF-8 sequence."""
    start = 0
    while start < len(raw):
        try:
            raw[start:].decode("utf-8")
            return
        except UnicodeDecodeError as exc:
            yield raw[start + exc.start]
            start += exc.start + 1


def identity(name: str) -> str:
    """The participant a valid name stands for: its NFC form."""
    return unicodedata.normalize("NFC", decoded(name) or name)


def clash_key(name: str) -> str:
    """Names with equal keys differ only by letter case or normalisation."""
    return unicodedata.normalize("NFKC", identity(name)).casefold()


def shown(name: str) -> str:
    """Any name as one line of printable text: undecodable bytes as \\xNN, refused
    characters as \\uNNNN (or \\xNN), the rest as it is."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(_escape(c) if unicodedata.category(c) in REFUSED_CATEGORIES else c for c in text)


def spelled(name: str) -> str:
    """A name with every non-ASCII character spelled out, to tell look-alikes apart."""
    text = decoded(name)
    return ascii(text) if text is not None else repr(shown(name))


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
