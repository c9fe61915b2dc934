"""The repository is self-contained: its documents link only inside it, and resolve.

Every relative link of README.md and docs/ names a file of the repository (and, with a
``#fragment``, a heading of it); every ``docs/<name>.md`` the code or the documents cite
exists; no file refers to the team's brief outside the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Written in two parts so that this file does not match what it looks for.
OUTSIDE = ".." + "/shared"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
CITED_DOC = re.compile(r"\bdocs/([\w-]+\.md)")


def repository_files() -> list[Path]:
    """The files git tracks, plus the untracked ones it does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings (outside code blocks)."""
    anchors, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"[a-z]+:", t)]  # not http:, mailto:, ...


def test_the_design_documents_exist_and_the_readme_links_them() -> None:
    names = {path.name for path in DOCUMENTS}
    expected = {"architecture.md", "http-api.md", "events.md", "recommenders.md"}
    assert expected | {"simulator.md", "statistics.md", "README.md"} <= names
    assert "docs/README.md" in relative_links(ROOT / "README.md")
    assert {f"{name}" for name in expected} <= set(relative_links(ROOT / "docs" / "README.md"))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_inside_the_repository(document: Path) -> None:
    for link in relative_links(document):
        target, _, fragment = link.partition("#")
        resolved = (document.parent / target).resolve() if target else document
        assert resolved.is_relative_to(ROOT), f"{document.name}: {link} leaves the repository"
        assert resolved.exists(), f"{document.name}: {link} does not exist"
        if fragment and resolved.suffix == ".md":
            anchors = heading_anchors(resolved)
            assert fragment in anchors, f"{document.name}: {link} names no heading"


def test_every_cited_design_document_exists() -> None:
    for path in repository_files():
        if path.suffix not in {".py", ".md", ".lua", ".toml"}:
            continue
        for name in CITED_DOC.findall(path.read_text(encoding="utf-8", errors="replace")):
            assert (ROOT / "docs" / name).is_file(), f"{path.relative_to(ROOT)} cites docs/{name}"


def test_no_file_refers_outside_the_repository() -> None:
    mentioning = [
        path.relative_to(ROOT).as_posix()
        for path in repository_files()
        if OUTSIDE in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert mentioning == []
