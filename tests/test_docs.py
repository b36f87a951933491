"""The docs hold together: the README stays short, every link and every cited file exists.

A reader who follows a pointer (a Markdown link, or a path such as
``grader/score/run.py`` named in a docstring or a page) must find something there:
these tests fail when a file moves and a pointer to it does not.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250

# A Markdown link or image: [text](target) / ![alt](target). Targets with a scheme are
# the web's business, not this test's.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# A path into the repository as code and prose cite it: a top-level folder of the
# project, then folders, then a file with one of the extensions the project keeps.
CITED_PATH = re.compile(
    r"(?<![\w./-])((?:\.ci|baseline|benchmarks|docs|grader|kernels|tests)/[\w./-]*?"
    r"\.(?:py|md|txt|json|csv|ipynb|toml|npz))(?![\w])"
)
# The team's notes beside the repository, never in it: a pointer to one must say
# where it is (../shared/DESIGN.md, ../shared/STYLE.md), or a reader looks here.
ROOT_FILE_CITE = re.compile(r"(?<![\w./-])(DESIGN\.md|STYLE\.md)")


def tracked_files() -> list[Path]:
    """Every file git tracks, as paths under ROOT."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


def markdown_files() -> list[Path]:
    """The README and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    """The fragments a page's headings (outside fenced code) can be linked by."""
    found: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(github_anchor(line.lstrip("#")))
    return found


def test_readme_stays_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it <= {README_MAX_LINES} "
        "and move the detail to a page under docs/"
    )


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    broken = []
    for page in markdown_files():
        fenced = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                fenced = not fenced
            if fenced:
                continue
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue
                path_part, _, fragment = target.partition("#")
                dest = (page.parent / path_part).resolve() if path_part else page
                where = f"{page.relative_to(ROOT)}:{number}: {target}"
                if not dest.exists():
                    broken.append(f"{where} (no such file)")
                elif fragment and dest.suffix == ".md" and fragment not in anchors_of(dest):
                    broken.append(f"{where} (no heading #{fragment})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_no_file_cites_a_path_the_repository_lacks() -> None:
    missing = []
    for path in tracked_files():
        if path.suffix not in {".py", ".md", ".toml", ".txt", ".cfg", ""} or not path.is_file():
            continue
        # Tests build fixture folders with made-up file names in their code: only
        # their comments and docstring lines are pointers for a reader.
        in_tests = path.relative_to(ROOT).parts[0] == "tests"
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if in_tests and not line.lstrip().startswith(("#", '"""')):
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            for cited in CITED_PATH.findall(line):
                # A placeholder (kernels/NAME/..., runs/<name>/...) names no one file.
                if "<" in cited or "*" in cited or any(p.isupper() for p in cited.split("/")):
                    continue
                if not (ROOT / cited).exists() and not (path.parent / cited).exists():
                    missing.append(f"{where}: {cited}")
            for cited in ROOT_FILE_CITE.findall(line):
                if "shared/" not in line:
                    missing.append(f"{where}: {cited} (lives in ../shared, not here)")
    assert not missing, "files cited but not in the repository:\n" + "\n".join(missing)
