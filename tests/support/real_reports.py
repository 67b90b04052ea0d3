"""Credential reports published by other projects, read where they are: ``shared/real-reports``.

They are not copied into the repository (see that folder's README for each file's
origin). CI clones the repository with ``shared/`` beside it; a git worktree lives
elsewhere, so the folder is also looked for beside the main checkout (the parent of
the git common dir), and at ``/work/shared``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.core.report import COLUMNS

REPO = Path(__file__).resolve().parents[2]


def _common_dir(repo: Path) -> Path | None:
    """The git common dir of ``repo`` (``.git`` of the main checkout for a worktree)."""
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git
    try:
        text = dot_git.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = (repo / text.removeprefix("gitdir:").strip()).resolve()
    try:
        common = (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir
    return (gitdir / common).resolve()


def real_reports_dir() -> Path | None:
    candidates = [REPO.parent / "shared" / "real-reports"]
    common = _common_dir(REPO)
    if common is not None:
        main_checkout = common.parent
        candidates += [
            main_checkout.parent / "shared" / "real-reports",
            main_checkout / "shared" / "real-reports",
        ]
    candidates.append(Path("/work/shared/real-reports"))
    return next((c for c in candidates if c.is_dir()), None)


def real_report(name: str) -> Path:
    """One of the files, or skip the test when the folder is not there."""
    folder = real_reports_dir()
    if folder is None:
        pytest.skip("shared/real-reports not found beside the repository")
    path = folder / name
    assert path.is_file(), f"{path} is missing from shared/real-reports"
    return path


def current_format_reports() -> list[Path]:
    """Every file with today's 22 columns (empty when the folder is not there)."""
    folder = real_reports_dir()
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("*.csv")):
        header = path.read_bytes().split(b"\n", 1)[0].decode("utf-8-sig").strip()
        if tuple(header.split(",")) == COLUMNS:
            found.append(path)
    return found
