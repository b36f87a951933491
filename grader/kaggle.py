"""`grader submit` and `grader leaderboard download`: the official Kaggle client.

`grader submit` checks a submission, then sends it.

The file is validated first with the same checker as `grader validate` and
`grader score`, so a broken file never burns one of the day's submissions.
The kaggle package is imported only here, and only after the credentials are
known to exist: `import kaggle` authenticates at import time and, without
credentials, prints a page of help instead of an error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.core.errors import GraderError, UsageError
from grader.core.fileio import write_bytes_atomically

KAGGLE_TOKEN_HELP = (
    "create an API token on kaggle.com (Settings > API > Create New Token) and put the "
    "downloaded kaggle.json in ~/.kaggle/ (chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY."
)


class SubmitError(GraderError):
    """Kaggle refused or could not be reached; nothing may have been submitted."""


@dataclass(frozen=True)
class Receipt:
    """What Kaggle answered to a successful submission."""

    message: str
    ref: int | None


def credentials_found(environ: dict[str, str] | None = None) -> bool:
    """Whether the kaggle client will find credentials (environment or kaggle.json)."""
    env = os.environ if environ is None else environ
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return True
    if env.get("KAGGLE_API_TOKEN"):
        return True
    home = Path(env.get("HOME", str(Path.home())))
    folders = (
        [Path(env["KAGGLE_CONFIG_DIR"])]
        if env.get("KAGGLE_CONFIG_DIR")
        else [home / ".kaggle", Path(env.get("XDG_CONFIG_HOME", home / ".config")) / "kaggle"]
    )
    names = ("kaggle.json", "access_token", "access_token.txt", "credentials.json")
    return any((folder / name).is_file() for folder in folders for name in names)


def submit(path: Path, competition: str, message: str) -> Receipt:
    """Send `path` to the Kaggle competition `competition` with `message`."""
    if not credentials_found():
        raise UsageError(f"no Kaggle credentials found: {KAGGLE_TOKEN_HELP}")
    import requests  # installed with kaggle

    api = client()
    try:
        response = api.competition_submit(str(path), message, competition)
    except requests.exceptions.HTTPError as exc:
        raise _http_error(exc, competition) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise SubmitError(
            f"could not reach Kaggle ({type(exc).__name__}). Check the internet connection "
            "and try again; see your competition's My Submissions page for what arrived."
        ) from None
    text = getattr(response, "message", "") or ""
    ref = getattr(response, "ref", None)
    if not ref and "Could not submit" in text:
        raise SubmitError(
            f"Kaggle's client could not upload {path.name} ({text}). Try again; nothing was "
            "submitted."
        )
    return Receipt(text, ref or None)


def client():
    """The authenticated KaggleApi, imported only now (its import authenticates)."""
    try:
        from kaggle import api
    except ImportError as exc:
        raise UsageError(
            f"the kaggle package is not installed ({exc}): pip install kaggle six"
        ) from None
    if not getattr(api, "_authenticated", True):
        api.authenticate()
    return api


def _http_error(exc, competition: str, download: bool = False) -> SubmitError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return SubmitError(
            f"Kaggle refused the credentials ({exc}). Check them: {KAGGLE_TOKEN_HELP}"
        )
    if status == 404 or "not found" in str(exc).lower():
        what = "whose leaderboard you can see" if download else "that accepts submissions"
        return SubmitError(
            f"Kaggle has no competition {competition!r} {what} ({exc}). Use "
            "the name in the competition's address: kaggle.com/competitions/<name>. Have you "
            "joined it (accepted its rules)?"
        )
    what = "the leaderboard download" if download else "the submission"
    return SubmitError(f"Kaggle refused {what} ({exc}).")


def download_leaderboard(competition: str, folder: Path) -> Path:
    """Save the competition's leaderboard as `folder/<competition>.zip` with the official
    client (the only per-participant data Kaggle's API gives a host); returns the path.

    The client writes the zip as its bytes arrive, so it writes into a hidden folder
    beside the target, and only a complete download replaces an earlier one."""
    if not credentials_found():
        raise UsageError(f"no Kaggle credentials found: {KAGGLE_TOKEN_HELP}")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: a file, not a folder. Choose a folder.")
    import requests  # installed with kaggle

    api = client()
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{competition}.download-", dir=folder))
    try:
        try:
            api.competition_leaderboard_download(competition, str(staging), quiet=True)
        except requests.exceptions.HTTPError as exc:
            raise _http_error(exc, competition, download=True) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise SubmitError(
                f"could not reach Kaggle ({type(exc).__name__}). Check the internet connection "
                "and try again."
            ) from None
        path = folder / f"{competition}.zip"
        downloaded = staging / path.name
        if not downloaded.is_file():
            raise SubmitError(f"Kaggle's client reported no error, but {path} was not written.")
        write_bytes_atomically(path, downloaded.read_bytes())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
