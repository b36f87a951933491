"""The static leaderboard page, rendered by a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.scoring_fixtures import HOSTILE_FORMULA, HOSTILE_HTML
from tests.test_score import score_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="headless Chromium is not installed (.ci/run installs Debian's chromium)",
)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def page(mixed_folder: Path, competition: Path, out: Path, *extra: str) -> str:
    result = score_cli(
        mixed_folder,
        competition,
        out,
        *extra,
    )
    assert result.returncode == 1, result.stderr
    return (out / "index.html").read_text()


def test_the_page_escapes_every_name_and_holds_no_script(mixed_folder, competition, tmp_path):
    text = page(mixed_folder, competition, tmp_path / "board")
    tags = Tags()
    tags.feed(text)
    assert "script" not in tags.tags and "img" not in tags.tags
    visible = "".join(tags.text)
    assert HOSTILE_HTML in visible and HOSTILE_FORMULA in visible  # shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "private" not in text.lower()  # the public board shows public numbers only
    assert tags.tags.count("svg") == 4  # one error bar per ranked participant
    assert tags.tags.count("details") == 0  # per-class tables are opt-in
    detailed = page(mixed_folder, competition, tmp_path / "detailed", "--public-details")
    tags = Tags()
    tags.feed(detailed)
    assert tags.tags.count("details") == 4 and "Confusion matrix" in detailed
    assert "script" not in tags.tags and "img" not in tags.tags


def test_the_final_page_is_titled_as_such(mixed_folder, competition, tmp_path):
    text = page(mixed_folder, competition, tmp_path / "final", "--final")
    assert "<title>Final leaderboard</title>" in text and "Ranked by private accuracy" in text


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM or "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )


@needs_chromium
def test_chromium_renders_the_page_from_disk(mixed_folder, competition, tmp_path):
    page(mixed_folder, competition, tmp_path / "board", "--public-details")
    url = (tmp_path / "board" / "index.html").as_uri()
    dom = chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<img" not in dom.stdout  # the hostile name stayed text in the live DOM
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom.stdout
    assert dom.stdout.count("<tr") >= 5  # header + 4 ranked rows
    shot = tmp_path / "board.png"
    result = chromium("--window-size=1300,900", f"--screenshot={shot}", url)
    assert result.returncode == 0, result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (900, 1300)
    assert pixels.std() > 10  # text and bars, not a blank page
    assert (pixels < 100).mean() > 0.005  # dark text is drawn
