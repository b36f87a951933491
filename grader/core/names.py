"""Who a submission belongs to: the one identity rule, and names as text.

A participant is the name of their file or folder in the submissions folder,
NFC-normalised (so a folder copied from a Mac, whose names are NFD, is the
same participant as one typed on Linux). A name is refused, never guessed at,
when it

* holds bytes that are not UTF-8, a control or format character (line
  breaks, terminal escapes, right-to-left overrides), an invisible one
  (Unicode's default-ignorable code points: zero-width spaces, variation
  selectors, the Hangul filler), the braille blank or U+FFFD, starts or
  ends with a space, or mixes Latin, Cyrillic and Greek letters (`bоb` with
  a Cyrillic о): such a name cannot be shown faithfully, or looks like
  another;
* differs from another participant's name only by letter case, Unicode
  normalisation or runs of spaces (`Bob` and `bob`, `José` typed two ways,
  full-width letters): they would look like one student, or be merged by a
  case-insensitive file system or LMS.

Refused names make every file involved an error whose reason names the
other files; the run goes on. A refused name is shown with U+FFFD (�) in
place of what cannot be shown, a character no accepted name holds, so it is
never the twin of an accepted one. Not covered: look-alikes within one
script (Unicode's confusables, UTS #39), such as a name written wholly in
Cyrillic letters that look Latin.
"""

from __future__ import annotations

import os
import unicodedata

# Unicode categories refused in a name: controls, format characters (bidi
# overrides, zero-width joiners), surrogates (undecodable bytes), private use,
# unassigned code points, and line/paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt, Unicode 15):
# characters that render as nothing. Most are Cf; these are the ones that are not.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
BLANKS = frozenset({"\u2800", "\ufffd"})  # the braille blank; the replacement character
LOOK_ALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
REPLACEMENT = "\ufffd"


def decoded(name: str) -> str | None:
    """The name as text, or None when its bytes are not UTF-8.

    `os.listdir` gives undecodable bytes as lone surrogates (surrogateescape);
    going back to bytes and decoding strictly tells them apart.
    """
    try:
        return os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        return None


def name_problem(name: str, participant: bool = True) -> str:
    """Why a name cannot be used ('' when it can), as the end of a sentence that starts
    "the name ...". A participant's name must also not look like another's; a file's
    name (its extension, a file in a participant's folder) only has to be showable."""
    text = decoded(name)
    if text is None:
        bad = next(_undecodable(os.fsencode(name)))
        return f"is not UTF-8 text (byte 0x{bad:02x})"
    for char in text:
        if _refused(char):
            return f"holds the invisible or control character U+{ord(char):04X}"
    if not participant:
        return ""
    if text != text.strip():
        return "starts or ends with a space"
    scripts = sorted({_script(c) for c in text if c.isalpha()} & LOOK_ALIKE_SCRIPTS)
    if len(scripts) > 1:
        return f"mixes {' and '.join(s.title() for s in scripts)} letters, which look alike"
    return ""


def _refused(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) in REFUSED_CATEGORIES
        or char in BLANKS
        or any(low <= code <= high for low, high in DEFAULT_IGNORABLE)
    )


def _script(char: str) -> str:
    """The script of a letter, from the first word of its Unicode name (LATIN, ...)."""
    return unicodedata.name(char, "").split(" ", 1)[0]


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


def case_key(name: str) -> str:
    """Names with equal keys differ only by letter case (the gradebook's loose match)."""
    return identity(name).casefold()


def clash_key(name: str) -> str:
    """Names with equal keys differ only by letter case, normalisation or runs of spaces."""
    return " ".join(unicodedata.normalize("NFKC", identity(name)).casefold().split())


def shown(name: str) -> str:
    """Any name as one line of text: an accepted name as it is; in a refused one,
    undecodable bytes and refused characters as U+FFFD (which no accepted name holds)."""
    text = os.fsencode(name).decode("utf-8", "replace")
    return "".join(REPLACEMENT if _refused(c) else c for c in text)


def spelled(name: str) -> str:
    """A name with every non-ASCII character spelled out, to tell look-alikes apart."""
    text = decoded(name)
    return ascii(text) if text is not None else repr(shown(name))
