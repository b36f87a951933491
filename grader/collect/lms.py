"""The names each LMS gives the files of its "download all submissions" export.

* **Canvas** (flat): `<name>[_LATE]_<user id>_<attachment id>_<original file name>`,
  where `<name>` is the student's sortable name in lower case with non-word
  characters removed (`smithjohn`); with anonymous grading
  `anon_<id>[_LATE]_<attachment id>_<original file name>`. `_LATE` is Canvas's
  own late mark. Matched by the roster's `canvas_id` (anonymous: `canvas_anon_id`).
* **Moodle**, folder mode (the default):
  `<Full Name>_<participant id>_assignsubmission_file[_]/<file>`; flat mode:
  `<Full Name>_<participant id>_assignsubmission_file_<file>`; online text
  appears as `..._assignsubmission_onlinetext_/onlinetext.html`. The participant
  id is numbered per assignment (it is not the Moodle user id). Matched by the
  roster's `moodle_id` when the roster's `name` (if any) is the full name, else
  by the full name (`name`), which is reported.
* **Blackboard**: `<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>[_<original file name>]`,
  plus one `.txt` receipt per attempt (`..._attempt_<time>.txt`). Names are
  anchored on `_attempt_` (user names may hold underscores); the user name ends
  the part before it and is read by `settle_users`. The attempt time is the
  submission time, in the Blackboard server's timezone. Matched by `username`.
* **GitHub Classroom**: `<assignment>-submissions/<prefix>-<github user>/...`
  (every file of the student's repository). The repositories are the folders at
  the top of the export when its own name ends in `-submissions` (the folder, or a
  zip of it), else the folders inside its top-level `...-submissions` folder; a
  folder of that name deeper down is inside a student's repository and names no
  one. The user name ends the repository's name and is read by `settle_users`.
  Matched by `github`.
* **folder**: the submissions layout itself, `<participant>.csv` or
  `<participant>/<file>.csv`, matched by participant key or student id.

Canvas, Moodle and GitHub Classroom names carry no submission time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from grader.core.constants import LMS_FORMATS
from grader.folder.layout import after_timestamp, participant_named, time_in_name, upload_suffix

FORMATS = LMS_FORMATS
LABEL = {
    "canvas": "Canvas",
    "moodle": "Moodle",
    "blackboard": "Blackboard",
    "classroom": "GitHub Classroom",
    "folder": "folder",
}
ID_COLUMN = {
    "canvas": "canvas_id",
    "moodle": "moodle_id",
    "blackboard": "username",
    "classroom": "github",
    "folder": "",
}
# The LMS writes its part of a name first and the student's file name last: every
# pattern takes the *first* match (non-greedy), so a file named like another
# student's export name cannot pass for theirs. The student's part may hold any
# character, a line break included (DOTALL); the LMS's part holds no '/'.
_CANVAS = re.compile(
    r"^(?P<name>\w+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<rest>.+)$", re.S
)
_CANVAS_ANON = re.compile(
    r"^anon_(?P<anon>[A-Za-z0-9]+)(?P<late>_LATE)?_(?P<attachment>\d+)_(?P<rest>.+)$", re.S
)
_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<rest>.*))?$", re.S
)
_BLACKBOARD = re.compile(
    r"^(?P<head>[^/]+?)_attempt_(?P<time>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?P<rest>.*)$",
    re.S,
)


class Zone:
    """The timezone of times an export writes without one (Blackboard's attempt times,
    zip entries' times): a named zone, a fixed offset, or this machine's local time
    (with its daylight saving rules)."""

    def __init__(self, text: str = "local") -> None:
        """`text`: 'local', 'UTC', an IANA name (Europe/Berlin) or an offset (+01:00);
        ValueError says what is allowed."""
        self.text = text.strip()
        self._tz: tzinfo | None = None
        if self.text.lower() == "local":
            return
        if self.text.upper() in ("UTC", "Z"):
            self._tz = timezone.utc
        elif m := re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", self.text):
            offset = timedelta(hours=int(m[2]), minutes=int(m[3] or 0))
            if offset > timedelta(hours=14):
                raise ValueError(f"{text!r} is not a UTC offset (at most +-14:00)")
            self._tz = timezone(-offset if m[1] == "-" else offset)
        else:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                self._tz = ZoneInfo(self.text)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{text!r} is not a timezone: use local, UTC, a name such as "
                    "Europe/Berlin or an offset such as +01:00"
                ) from None

    def aware(self, naive: datetime) -> datetime:
        """`naive` (a time as the export wrote it) read in this zone."""
        if self._tz is None:
            return naive.astimezone()  # the machine's local time, daylight saving included
        return naive.replace(tzinfo=self._tz)

    def __str__(self) -> str:
        if self._tz is None:
            return f"this machine's local time ({datetime.now().astimezone().tzname()})"
        return self.text


@dataclass(frozen=True)
class Parsed:
    """What one file's name says, under one LMS's naming."""

    format: str
    lms_id: str  # the id to match in the roster column ID_COLUMN[format] ('' for folder)
    display: str  # the LMS's name for the student: Canvas name, Moodle full name, user name
    original: str  # the student's own file name (deeper folders joined with '_')
    time: datetime | None = None  # the submission time, where the name carries it
    late: bool | None = None  # the LMS's late mark, where it has one
    receipt: bool = False  # Blackboard's per-attempt receipt
    id_column: str = ""  # where lms_id is looked up ('' : ID_COLUMN[format])


def parse(fmt: str, parts: list[str], tz: Zone, top: int = 0) -> Parsed | None:
    """The file at `parts` (its path inside the export) under `fmt`'s naming; None when
    it does not follow it. `top` (GitHub Classroom only): the export's own folders above
    the repositories (`classroom_top`). Blackboard's and GitHub Classroom's user names
    are settled later, with the whole export (`settle_users`)."""
    if fmt == "classroom":
        return _classroom(parts, top)
    return _PARSERS[fmt](parts, tz)


def _flat(parts: list[str], *patterns: re.Pattern) -> re.Match | None:
    """The first match of a flat export's name (Canvas, Blackboard). Any folder before
    it is one the export was put in; a '/' after it is the student's own '\\' or '/'
    (zip readers take a '\\' for a folder), so the student's name never names the file."""
    for i in range(len(parts)):
        for pattern in patterns:
            if m := pattern.match("/".join(parts[i:])):
                return m
    return None


def _canvas(parts: list[str], tz: Zone) -> Parsed | None:
    m = _flat(parts, _CANVAS_ANON, _CANVAS)
    if m and m.re is _CANVAS_ANON:
        anon = m["anon"]
        return Parsed(
            format="canvas",
            lms_id=anon,
            display=f"anon_{anon}",
            original=m["rest"],
            time=None,
            late=bool(m["late"]),
            id_column="canvas_anon_id",
        )
    if m:
        return Parsed(
            format="canvas",
            lms_id=m["user"],
            display=m["name"],
            original=m["rest"],
            time=None,
            late=bool(m["late"]),
        )
    return None


def _moodle(parts: list[str], tz: Zone) -> Parsed | None:
    for i, part in enumerate(parts):
        m = _MOODLE.match(part)
        if not m:
            continue
        inside = parts[i + 1 :]
        if inside:  # folder mode: the student's files are inside
            original = "_".join(inside)
        elif m["rest"]:  # flat mode
            original = m["rest"]
        else:
            return None
        return Parsed(format="moodle", lms_id=m["id"], display=m["name"], original=original)
    return None


def _blackboard(parts: list[str], tz: Zone) -> Parsed | None:
    m = _flat(parts, _BLACKBOARD)
    if not m:
        return None
    rest = m["rest"]
    receipt = rest.lower() == ".txt"
    if not receipt and not rest.startswith("_"):
        return None
    year, month, day, hour, minute, second = (int(x) for x in m["time"].split("-"))
    try:
        when = tz.aware(datetime(year, month, day, hour, minute, second)).astimezone(timezone.utc)
    except ValueError:
        return None
    original = parts[-1] if receipt else rest[1:]
    return Parsed(
        format="blackboard",
        lms_id="",
        display=m["head"],
        original=original,
        time=when,
        late=None,
        receipt=receipt,
    )


def _classroom(parts: list[str], top: int) -> Parsed | None:
    """The repository is the first folder below the export's own `...-submissions` folder;
    a folder of that name deeper down is the student's (it names no one)."""
    if top and not parts[0].endswith("-submissions"):
        return None
    if len(parts) - top < 2:
        return None
    return Parsed(
        format="classroom", lms_id="", display=parts[top], original="_".join(parts[top + 1 :])
    )


def classroom_top(paths: list[list[str]], export_stem: str) -> int | None:
    """How many folders of the export lie above GitHub Classroom's repositories: 0 when the
    export is the `<assignment>-submissions` folder (or a zip of what it holds), 1 when
    it holds that folder at its top (every file must then be inside one); None when it
    is not GitHub Classroom's layout. Only the top counts: a student chooses every name
    inside their repository."""
    if export_stem.endswith("-submissions"):
        # A zip of the folder itself: every file inside the one folder of that name.
        wrapped = bool(paths) and all(len(p) > 1 and p[0] == export_stem for p in paths)
        return 1 if wrapped else 0
    if any(len(p) > 1 and p[0].endswith("-submissions") for p in paths):
        return 1
    return None


def _folder(parts: list[str], tz: Zone) -> Parsed | None:
    name, top = parts[-1], len(parts) == 1
    suffix = upload_suffix(name)
    if top and not suffix:
        return None  # names no participant in the submissions layout
    when = time_in_name(name, top) if suffix else None
    original = name
    if when is not None:  # the time is kept apart: the copy's name starts with it again
        cut = len(name) - len(suffix)
        original = (after_timestamp(name[:cut]) or "submission") + name[cut:]
    participant = participant_named(name) if top else parts[0]
    return Parsed(
        format="folder",
        lms_id="",
        display=participant,
        original="_".join([*parts[1:-1], original]),
        time=when,
    )


_PARSERS = {
    "canvas": _canvas,
    "moodle": _moodle,
    "blackboard": _blackboard,
    "folder": _folder,
}


def detect(paths: list[list[str]], tz: Zone, export_stem: str) -> tuple[str, int]:
    """The LMS whose naming most files follow, and how many do; `folder` when none of
    them follows an LMS's naming."""
    best, count = "folder", 0
    top = classroom_top(paths, export_stem)
    for fmt in ("classroom", "blackboard", "moodle", "canvas"):
        if fmt == "classroom" and top is None:
            continue
        n = sum(1 for parts in paths if parse(fmt, parts, tz, top or 0) is not None)
        if n > count:
            best, count = fmt, n
    return best, count


@dataclass(frozen=True)
class User:
    """A Blackboard or GitHub Classroom user name as the export gives it."""

    name: str  # '' when it cannot be told
    problem: str = ""  # why not, when the readings of the name disagree


SEPARATOR = {"blackboard": "_", "classroom": "-"}
_BY_HAND = "copy the file by hand into the right student's folder"


def settle_users(parsed: list[Parsed], usernames: set[str], fmt: str) -> dict[str, User]:
    """For Blackboard and GitHub Classroom: the user name in each `display` (assignment or
    prefix, a separator, the user name), read two ways, never guessed between.

    The export's reading: what follows the longest prefix all its displays share (cut
    at a separator). That prefix holds at least the assignment, so the user name ends
    with what follows it and is no shorter. The roster's reading: the roster user
    names (`usernames`, casefolded) that end the display after a separator. One
    roster name that fits the export's reading wins; several that fit, or only
    shorter ones (`Contest_wei_li` with the roster's `li`, where the export reads
    `wei_li`), make the file nobody's, with the reason (`User.problem`). Without a
    roster match the export's reading stands; a display alone in its export is read
    as the assignment, a separator and the user name.
    """
    separator = SEPARATOR[fmt]
    displays = sorted({p.display for p in parsed})
    shared = _shared_prefix(displays, separator) if len(displays) > 1 else ""
    return {d: _user(d, shared, usernames, fmt, len(displays) == 1) for d in displays}


def _user(display: str, shared: str, usernames: set[str], fmt: str, alone: bool) -> User:
    separator, column = SEPARATOR[fmt], ID_COLUMN[fmt]
    folded = display.casefold()
    fits = sorted(
        (u for u in usernames if folded.endswith(separator + u) and len(folded) > len(u) + 1),
        key=lambda u: (-len(u), u),
    )
    after = display[len(shared) :].casefold() if shared and len(display) > len(shared) else ""
    if after:
        fits_after = [u for u in fits if len(u) >= len(after)]  # each ends with `after`
        if len(fits_after) == 1:
            return User(fits_after[0])
        if not fits_after and fits:
            return User(
                "",
                f"after {shared!r}, which every name of the export shares, the user name "
                f"is {after!r}, which is no {column} of the roster, though the roster's "
                f"{fits[0]!r} ends it: {_BY_HAND}",
            )
        if not fits:
            return User(after)
    elif len(fits) == 1:
        return User(fits[0])
    if len(fits) > 1:
        return User(
            "",
            f"{display!r} ends with the roster's {column} {fits[0]!r} and with "
            f"{' and with '.join(repr(u) for u in fits[1:])}, and the export's names cannot "
            f"tell which: {_BY_HAND}",
        )
    if alone and separator in display.strip(separator):
        # One student alone: the assignment part cannot be told apart; assignment
        # names hold the separator less often than user names do.
        return User(display.split(separator, 1)[1].casefold())
    return User("")


def _shared_prefix(displays: list[str], separator: str) -> str:
    """The longest common prefix of `displays` that ends with `separator`, leaving every
    display a non-empty rest."""
    prefix = os.path.commonprefix(displays)  # noqa: RUF071 (a prefix of characters is meant)
    cut = prefix.rfind(separator)
    prefix = prefix[: cut + 1] if cut >= 0 else ""
    while prefix and any(len(d) <= len(prefix) for d in displays):
        cut = prefix[:-1].rfind(separator)
        prefix = prefix[: cut + 1] if cut >= 0 else ""
    return prefix
