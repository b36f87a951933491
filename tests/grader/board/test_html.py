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

from tests.helpers import score_cli
from tests.scoring_fixtures import HOSTILE_FORMULA, HOSTILE_HTML

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


def scripts(text: str) -> list[str]:
    return [part.split("</script>")[0] for part in text.split("<script>")[1:]]


def test_the_page_escapes_every_name_and_its_one_script_writes_no_html(
    mixed_folder, competition, tmp_path
):
    text = page(mixed_folder, competition, tmp_path / "board")
    tags = Tags()
    tags.feed(text)
    assert tags.tags.count("script") == 1 and "img" not in tags.tags
    (script,) = scripts(text)
    assert "<script src" not in text and "innerHTML" not in script and "write" not in script
    assert HOSTILE_HTML not in script and "alert" not in script  # no name in the script
    assert 'data-name="&lt;img src=x onerror=alert(1)&gt;"' in text
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
    assert tags.tags.count("script") == 1 and "img" not in tags.tags


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


@pytest.mark.slow
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


@pytest.mark.slow  # scores 200 files and renders them: ~11 s
@needs_chromium
def test_two_hundred_participants_get_readable_intervals_on_a_light_page(tmp_path):
    from benchmarks.bench_score import make_folder
    from tests.helpers import grader

    folder = make_folder(tmp_path, 200)
    out = tmp_path / "board"
    solution = tmp_path / "competition" / "private" / "solution.csv"
    result = grader(
        "score", str(folder), "--solution", str(solution), "--out", str(out),
        "--review", str(tmp_path / "review"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    html = out / "index.html"
    assert html.stat().st_size < 500_000
    text = html.read_text()
    assert text.count('<tr class="axis">') == 8  # 200 rows, 25 to an axis
    assert "Rows 1&ndash;25: intervals drawn from " in text
    shot = tmp_path / "page.png"
    run = chromium("--window-size=1400,6200", "--hide-scrollbars", f"--screenshot={shot}",
                   html.as_uri())  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    # Bar pixels: the line (#4a6fd6) and the dot (#1d3fa0). Per drawn bar, its extent.
    line = (np.abs(rgb - (74, 111, 214)).sum(axis=2) < 40) | (
        np.abs(rgb - (29, 63, 160)).sum(axis=2) < 40
    )
    widths, rows = [], np.flatnonzero(line.any(axis=1))
    for bar in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1):  # runs of pixel rows
        xs = np.flatnonzero(line[bar].any(axis=0))
        widths.append(int(xs.max() - xs.min() + 1))
    assert len(widths) >= 150, len(widths)  # most of the 200 bars are on the screenshot
    assert np.median(widths) >= 20, sorted(widths)[:20]
