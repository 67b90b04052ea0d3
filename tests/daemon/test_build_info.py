"""aws_iam_exporter_build_info's labels: the version, the git revision (a REVISION file
written by the image build, else the checkout's HEAD, else unknown) and Python's."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import pytest

from exporter.daemon import build_info
from exporter.daemon.build_info import _from_file, _from_git, python_version, revision

REPO = Path(__file__).resolve().parents[2]
HEAD = "0123456789abcdef0123456789abcdef01234567"


def test_a_revision_file_wins(tmp_path: Path) -> None:
    (tmp_path / "REVISION").write_text(HEAD + "\n", encoding="ascii")
    assert _from_file(tmp_path / "REVISION") == HEAD


@pytest.mark.parametrize("content", ["", "unknown\n", "$(git rev-parse HEAD)", "é"])
def test_a_revision_file_that_holds_no_commit_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / "REVISION").write_text(content, encoding="utf-8")
    assert _from_file(tmp_path / "REVISION") == ""
    assert _from_file(tmp_path / "missing") == ""


def test_in_a_checkout_the_revision_is_its_head() -> None:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _from_git(REPO) == head and len(head) == 40


def test_outside_a_checkout_nothing_is_guessed(tmp_path: Path) -> None:
    assert _from_git(tmp_path) == ""
    (tmp_path / ".git").write_text("gitdir: /nonexistent\n")  # a broken worktree link
    assert _from_git(tmp_path) == ""


def test_unknown_when_neither_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_info, "REVISION_FILE", tmp_path / "REVISION")
    monkeypatch.setattr(build_info, "PACKAGE", tmp_path / "exporter")
    revision.cache_clear()
    try:
        assert revision() == "unknown"
        (tmp_path / "REVISION").write_text(HEAD)
        revision.cache_clear()
        assert revision() == HEAD
    finally:
        revision.cache_clear()


def test_python_version() -> None:
    assert python_version() == platform.python_version()
