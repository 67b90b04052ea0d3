"""Every relative link of README.md, CONTRIBUTING.md and docs/*.md leads somewhere: the
file exists, and an anchor (``#...``) is a heading of the target, named as GitHub names
it. External links (``https://``) are not fetched: the tests run offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def prose(text: str) -> str:
    """The text without fenced blocks: a ``#`` line in a shell block is no heading."""
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (``_`` and ``-``
    kept), each space a hyphen."""
    text = heading.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file; a repeated heading gets ``-1``, ``-2``..."""
    seen: dict[str, int] = {}
    out = set()
    for heading in _HEADING.findall(prose(path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(path: Path) -> list[str]:
    text = _CODE_SPAN.sub("", prose(path.read_text(encoding="utf-8")))
    return _LINK.findall(text)


def broken(path: Path, root: Path = REPO) -> list[str]:
    """The links of ``path`` that lead nowhere, each with why."""
    out = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            out.append(f"{target}: no such file")
        elif anchor and dest.suffix != ".md":
            out.append(f"{target}: an anchor into a file that is not Markdown")
        elif anchor and anchor not in anchors(dest):
            out.append(f"{target}: {dest.relative_to(root)} has no heading #{anchor}")
    return out


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_resolves(path: Path) -> None:
    assert broken(path) == []


def test_the_documents_do_link() -> None:
    """The check sees the links: README.md links files and its own sections."""
    found = links(REPO / "README.md")
    assert "docs/checks.md" in found
    assert any(t.startswith("#") for t in found)
    assert any("#" in t and not t.startswith("#") for t in found)


def test_github_anchors() -> None:
    assert slug("IAM for an organisation (StackSet)") == "iam-for-an-organisation-stackset"
    assert slug("1. Permissions") == "1-permissions"
    assert slug("The `accounts:` section") == "the-accounts-section"
    assert slug("`root_mfa_disabled`") == "root_mfa_disabled"


def test_a_broken_link_or_anchor_is_caught(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Real section\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Twice\n\n## Twice\n\n"
        "[a](other.md#real-section) [b](other.md#gone) [c](missing.md) [d](#twice-1)\n"
        "[e](#nowhere) [f](https://example.com/x#y) `[g](ignored.md)`\n\n"
        "```sh\n# not-a-heading\n[h](also-ignored.md)\n```\n"
        "[i](#not-a-heading)\n",
        encoding="utf-8",
    )
    assert broken(page, root=tmp_path) == [
        "other.md#gone: other.md has no heading #gone",
        "missing.md: no such file",
        "#nowhere: page.md has no heading #nowhere",
        "#not-a-heading: page.md has no heading #not-a-heading",
    ]
