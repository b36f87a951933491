"""Kaggle's leaderboard against the files handed in: is the file graded the file submitted?

Kaggle gives a competition host no way to download participants' files; it gives the
leaderboard (`kaggle competitions leaderboard SLUG --download`, or
`grader leaderboard download`): a zip holding one CSV with a byte-order mark.
Two column layouts are read (header names compared ignoring case):

* newer clients: `Rank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,`
  `TeamMemberUserNames`, one row per team, `TeamMemberUserNames` the members' user
  names separated by commas;
* older ones: `TeamId,TeamName,SubmissionDate,Score`, which may hold several rows per
  team (one per improvement of its best score): the latest row counts, by
  SubmissionDate read as ISO 8601 (Kaggle's `2026-11-28 10:00:00`; any other
  format is refused, never compared as text).

(tests/data/README.md says where these columns come from.) The zip, a bare CSV,
a BOM or none, `,` or Excel's `;` are all accepted (grader.core.text.csv_table, which
also refuses a quote never closed or a column named twice); a header without a
team is refused.

Teams are matched to participants by `TeamMemberUserNames` against the participant
key (ignoring case: Kaggle user names are case-insensitive), then by `TeamName`
(a display name the team chose: every such match is reported) against the
participant key, then against a roster student's `name`. A participant's Kaggle
score is reproduced when *any* of their scored files gives it, on the split the
board ranks by (Public before the private board is revealed, Private with
--final) and the ranking metric, at Kaggle's 5 decimals: |difference| <= 0.000005.

reconciliation.csv (review folder only: with --final it holds Private scores)
has one row per participant with files and per Kaggle team with none.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from grader.core import names
from grader.core.errors import UsageError
from grader.core.text import CsvError, csv_cell, csv_table, csv_text, terminal_text
from grader.score.entry import Entry, entry_value

TOLERANCE = 0.5e-5 + 1e-12  # half a unit of Kaggle's 5th decimal (plus float slack)
MAX_BYTES = 64 << 20  # a leaderboard of 100,000 teams is about 10 MB
NEW_COLUMNS = (
    "Rank",
    "TeamId",
    "TeamName",
    "LastSubmissionDate",
    "Score",
    "SubmissionCount",
    "TeamMemberUserNames",
)
OLD_COLUMNS = ("TeamId", "TeamName", "SubmissionDate", "Score")
# reconciliation.csv's status: a file gives the team's score; none does; a participant
# with files but no team; a team with no files.
ReconcileStatus = Literal["reproduced", "not reproduced", "no Kaggle entry", "no file"]
CSV_COLUMNS = [
    "participant",
    "student_id",
    "kaggle_team_id",
    "kaggle_team_name",
    "kaggle_members",
    "matched_by",
    "kaggle_score",
    "reproducing_files",
    "closest_file",
    "closest_kit_score",
    "status",
]


@dataclass(frozen=True)
class Team:
    """A Kaggle team's line on the leaderboard (its latest, in the older layout)."""

    team_id: str
    name: str
    members: tuple[str, ...]  # user names; () in the older layout
    score: float
    score_text: str
    line: int


@dataclass(frozen=True)
class KaggleBoard:
    """A leaderboard file as read."""

    path: Path
    layout: str  # "newer" | "older"
    teams: list[Team]


# ----------------------------------------------------------------------------
# Reading the download
# ----------------------------------------------------------------------------


def read_kaggle_board(path: Path, flag: str = "--kaggle-leaderboard") -> KaggleBoard:
    """The teams of a leaderboard download (.zip or .csv); UsageError names the file,
    the line and what to do."""
    where = f"{flag} {path}"
    if path.is_dir():
        raise UsageError(f"{where}: a folder, not a file. Pass the downloaded .zip or .csv.")
    if not path.is_file():
        raise UsageError(
            f"{where}: no such file. Download it with grader leaderboard download "
            "--competition SLUG (or kaggle competitions leaderboard SLUG --download)."
        )
    try:
        data, inner = _csv_bytes(path)
    except OSError as exc:
        raise UsageError(f"{where}: cannot be read ({exc.strerror or exc}).") from None
    except zipfile.BadZipFile as exc:
        raise UsageError(f"{where}: {exc}. Download it again.") from None
    where += f" ({inner})" if inner else ""
    if data is None:
        raise UsageError(f"{where}: larger than {MAX_BYTES >> 20} MB; not a Kaggle leaderboard.")
    try:
        header, rows = csv_table(data)
    except CsvError as exc:
        raise UsageError(f"{exc.at(where)} Pass the file as downloaded.") from None
    return _parse(path, header, rows, where)


def _csv_bytes(path: Path) -> tuple[bytes | None, str]:
    """The CSV's bytes (None past MAX_BYTES) and, for a zip, the name of the CSV in it;
    zipfile.BadZipFile says what is wrong with a zip."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        if data.startswith(b"PK\x03\x04"):  # a zip's first entry, but no table of contents
            raise zipfile.BadZipFile(
                "a damaged zip file (it ends before its table of contents: an interrupted "
                "download?)"
            )
        return (data if len(data) <= MAX_BYTES else None), ""
    try:
        with zipfile.ZipFile(path) as archive:
            inside = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
            if len(inside) != 1:
                found = ", ".join(i.filename for i in archive.infolist()) or "nothing"
                raise zipfile.BadZipFile(
                    f"not a readable zip file (expected one .csv inside, found {found})"
                )
            if inside[0].file_size > MAX_BYTES:
                return None, inside[0].filename
            with archive.open(inside[0]) as f:
                data = f.read(MAX_BYTES + 1)
    except (zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise zipfile.BadZipFile(f"a damaged zip file ({exc})") from None
    except zipfile.BadZipFile as exc:
        if str(exc).startswith("not a readable"):
            raise
        raise zipfile.BadZipFile(f"a damaged zip file ({exc})") from None
    return (data if len(data) <= MAX_BYTES else None), inside[0].filename


def _parse(path: Path, header: list[str], rows: list[tuple[int, list[str]]], where: str):
    fields = [cell.lower() for cell in header]
    missing = [c for c in ("TeamName", "Score") if c.lower() not in fields]
    if missing:
        found = terminal_text(", ".join(header) or "nothing", 80)
        page = ", which looks like a web page, not the CSV" if found.startswith("<") else ""
        raise UsageError(
            f"{where} line 1: no {' or '.join(missing)} column, found {found}{page}. Expected "
            f"Kaggle's leaderboard download: {','.join(NEW_COLUMNS)} (or {','.join(OLD_COLUMNS)})."
        )
    if not rows:
        raise UsageError(
            f"{where} line 1: a header and no team. Has anyone submitted yet? Download it "
            "again when the leaderboard has teams."
        )
    column = {name: i for i, name in enumerate(fields)}
    layout = "newer" if "teammemberusernames" in column else "older"
    date = column.get("submissiondate")
    latest: dict[str, tuple[datetime, Team]] = {}
    for line, row in rows:

        def cell(name: str, row=row) -> str:
            i = column.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        team = Team(
            team_id=cell("teamid"),
            name=cell("teamname"),
            members=tuple(m.strip() for m in cell("teammemberusernames").split(",") if m.strip()),
            score=_score(cell("score"), where, line),
            score_text=cell("score"),
            line=line,
        )
        key = team.team_id or names.clash_key(team.name)
        if layout == "newer":  # one row per team
            latest[key] = (datetime.min, team)
            continue
        # Without a date column the last row of a team counts.
        when = datetime.min
        if date is not None and date >= len(row):
            raise UsageError(
                f"{where} line {line}: no SubmissionDate (the row has {len(row)} cells, the "
                f"header {len(header)} columns), by which each team's latest row is chosen. "
                "Pass the file as downloaded from Kaggle."
            )
        if date is not None:
            when = _date(row[date], where, line)
        if key not in latest or when >= latest[key][0]:
            latest[key] = (when, team)
    teams = sorted((team for _, team in latest.values()), key=lambda t: t.line)
    return KaggleBoard(path, layout, teams)


def _date(text: str, where: str, line: int) -> datetime:
    """A SubmissionDate of the older layout, as Kaggle writes it (ISO 8601:
    2026-11-28 10:00:00, fractions of seconds and a Z allowed), as a naive UTC time."""
    text = text.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{where} line {line}: SubmissionDate {text!r} is not a date as Kaggle writes it "
            "(2026-11-28 10:00:00), by which each team's latest row is chosen. Pass the file "
            "as downloaded from Kaggle."
        ) from None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def _score(text: str, where: str, line: int) -> float:
    try:
        value = float(text.replace(",", ".")) if text else float("nan")
    except ValueError:
        value = float("nan")
    if value != value:  # NaN: empty or not a number
        raise UsageError(
            f"{where} line {line}: Score {text!r} is not a number. Pass the file as "
            "downloaded from Kaggle."
        )
    return value


# ----------------------------------------------------------------------------
# Reconciling
# ----------------------------------------------------------------------------


@dataclass
class Reconciliation:
    """Rows of reconciliation.csv and the lists the terminal summary names."""

    board: KaggleBoard
    split: str
    rank_by: str
    rows: list[list] = field(default_factory=list)
    reproduced: list[str] = field(default_factory=list)
    not_reproduced: list[tuple[str, Team, str, float | None]] = field(default_factory=list)
    teams_without_file: list[Team] = field(default_factory=list)
    without_entry: list[str] = field(default_factory=list)
    by_name: list[tuple[Team, str, str]] = field(default_factory=list)  # team, participant, how
    hints: list[str] = field(default_factory=list)


def reconcile(
    board: KaggleBoard,
    entries: list[Entry],
    split: str,
    rank_by: str,
    students=(),
    staff: frozenset[str] = frozenset(),
) -> Reconciliation:
    """Match Kaggle's teams to participants and check each participant's files against
    their team's score (the module docstring's rule)."""
    own: dict[str, list] = {}
    for e in entries:
        if e.identified:
            own.setdefault(e.participant, [])
            if e.status == "scored":
                own[e.participant].append(e)
    team_of = _match_teams(board.teams, own, students)
    result = Reconciliation(board=board, split=split, rank_by=rank_by)
    result.by_name = [(t, p, how) for p, (t, how) in team_of.items() if how != "user name"]
    student_ids = {s.participant: s.student_id for s in students}
    missed_other: dict[str, int] = {}
    for participant in sorted(own):
        files = own[participant]
        student_id = student_ids.get(participant, "")
        if participant not in team_of:
            result.rows.append(
                _row(
                    participant=participant,
                    student_id=student_id,
                    team=None,
                    how="",
                    hits=[],
                    files=files,
                    split=split,
                    rank_by=rank_by,
                    status="no Kaggle entry",
                )
            )
            if participant not in staff:
                result.without_entry.append(participant)
            continue
        team, how = team_of[participant]
        hits = [e for e in files if _same(entry_value(e, split, rank_by), team.score)]
        status: ReconcileStatus = "reproduced" if hits else "not reproduced"
        result.rows.append(
            _row(
                participant=participant,
                student_id=student_id,
                team=team,
                how=how,
                hits=hits,
                files=files,
                split=split,
                rank_by=rank_by,
                status=status,
            )
        )
        if hits:
            result.reproduced.append(participant)
            continue
        closest = _closest(files, split, rank_by, team.score)
        result.not_reproduced.append(
            (
                participant,
                team,
                closest.file if closest else "",
                entry_value(closest, split, rank_by) if closest else None,
            )
        )
        for other in _alternatives(split, rank_by):
            if any(_same(entry_value(e, *other), team.score) for e in files):
                missed_other[f"{other[0]} {other[1]}"] = (
                    missed_other.get(f"{other[0]} {other[1]}", 0) + 1
                )
    matched = {id(t) for t, _ in team_of.values()}
    result.teams_without_file = [t for t in board.teams if id(t) not in matched]
    for team in result.teams_without_file:
        result.rows.append(_team_row(team))
    result.hints = _hints(missed_other, len(result.reproduced), split, rank_by)
    return result


def _alternatives(split: str, rank_by: str) -> list[tuple[str, str]]:
    """The other metric on the same split, and the same metric on the other split."""
    other_metric = "macro_f1" if rank_by == "accuracy" else "accuracy"
    other_split = "private" if split == "public" else "public"
    return [(split, other_metric), (other_split, rank_by)]


def _hints(missed: dict[str, int], reproduced: int, split: str, rank_by: str) -> list[str]:
    """Why nothing matches, when another metric or split reproduces more scores."""
    hints = []
    for what, count in sorted(missed.items()):
        if count > reproduced:
            other_split, other_metric = what.split(" ")
            flag = "--final" if other_split == "private" else "leaving out --final"
            if other_metric != rank_by:
                flag = f"--rank-by {other_metric}"
            hints.append(
                f"{count} of the participants not reproduced match Kaggle on the {other_split} "
                f"split's {other_metric}: is that the competition's metric and split? Try {flag}."
            )
    return hints


def _match_teams(teams: list[Team], own: dict[str, list], students) -> dict[str, tuple[Team, str]]:
    """participant -> (team, how): by member user name, then team name, then roster name."""
    folded = {p.casefold(): p for p in own}
    by_clash = {names.clash_key(p): p for p in own}
    roster_names: dict[str, list[str]] = {}
    for s in students:
        if s.name and s.participant in own:
            roster_names.setdefault(names.clash_key(s.name), []).append(s.participant)
    team_of: dict[str, tuple[Team, str]] = {}
    for team in teams:  # members first: the user name is an identity, a team name is not
        for member in team.members:
            p = folded.get(member.casefold())
            if p is not None and p not in team_of:
                team_of[p] = (team, "user name")
    matched = {id(t) for t, _ in team_of.values()}
    for team in teams:
        if id(team) in matched or not team.name:
            continue
        key = names.clash_key(team.name)
        candidates = [(by_clash.get(key), "team name")]
        if len(roster_names.get(key, [])) == 1:
            candidates.append((roster_names[key][0], "team name = roster name"))
        for p, how in candidates:
            if p is not None and p not in team_of:
                team_of[p] = (team, how)
                break
    return team_of


def _same(kit: float, kaggle: float) -> bool:
    return abs(kit - kaggle) <= TOLERANCE


def _closest(files, split: str, rank_by: str, score: float):
    return min(files, key=lambda e: abs(entry_value(e, split, rank_by) - score), default=None)


def _row(
    *,
    participant: str,
    student_id: str,
    team: Team | None,
    how: str,
    hits: list,
    files: list,
    split: str,
    rank_by: str,
    status: ReconcileStatus,
) -> list:
    closest = _closest(files, split, rank_by, team.score) if team else None
    closest = closest or (
        max(files, key=lambda e: entry_value(e, split, rank_by)) if files else None
    )
    return [
        participant,
        student_id,
        team.team_id if team else "",
        team.name if team else "",
        ",".join(team.members) if team else "",
        how,
        team.score_text if team else "",
        " | ".join(e.file for e in hits),
        closest.file if closest else "",
        f"{entry_value(closest, split, rank_by):.5f}" if closest else "",
        status,
    ]


def _team_row(team: Team) -> list:
    return [
        "",
        "",
        team.team_id,
        team.name,
        ",".join(team.members),
        "",
        team.score_text,
        "",
        "",
        "",
        "no file",
    ]


def reconciliation_csv(result: Reconciliation) -> str:
    """reconciliation.csv's text, every name neutralised for spreadsheets."""
    return csv_text(CSV_COLUMNS, [[csv_cell(str(c)) for c in row] for row in result.rows])


def reconciliation_text(result: Reconciliation, path: Path) -> str:
    """The terminal summary: what reproduces, what does not, and who is missing."""
    t = terminal_text
    with_entry = len(result.reproduced) + len(result.not_reproduced)
    lines = [
        f"Kaggle reconciliation ({t(str(result.board.path))}: {len(result.board.teams)} team(s), "
        f"{result.board.layout} column layout; compared on the {result.split} split's "
        f"{result.rank_by} at 5 decimals): {len(result.reproduced)} of {with_entry} "
        "participants with a Kaggle entry reproduce its score with a file handed in."
    ]
    if result.not_reproduced:
        lines.append(
            "  No file reproduces the Kaggle score (the file handed in is not the file "
            "submitted?): "
            + "; ".join(
                f"{t(p)} (Kaggle {team.score_text}"
                + (f", closest {t(file)} {value:.5f})" if file else ", no scored file)")
                for p, team, file, value in result.not_reproduced
            )
            + "."
        )
    if result.teams_without_file:
        lines.append(
            "  Kaggle teams with no file: "
            + ", ".join(
                repr(t(team.name))
                + (f" (members {t(','.join(team.members))})" if team.members else "")
                for team in result.teams_without_file
            )
            + "."
        )
    if result.without_entry:
        lines.append(
            "  Files but no Kaggle entry: " + ", ".join(t(p) for p in result.without_entry) + "."
        )
    for team, participant, how in result.by_name:
        lines.append(
            f"  Matched by {how} (a display name, check it): Kaggle team {t(team.name)!r} is "
            f"participant {t(participant)!r}."
        )
    lines += [f"  {hint}" for hint in result.hints]
    lines.append(f"  Per participant: {path}")
    return "\n".join(lines)
