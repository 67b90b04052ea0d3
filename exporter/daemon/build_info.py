"""What ``aws_iam_exporter_build_info`` says of the running build: the version (one
place: ``exporter.__version__``), the git revision it was built from, and the Python
version, as Prometheus's own exporters do (``version``, ``revision``, ``goversion``).

The revision comes from the ``REVISION`` file a build writes into the package (the
Dockerfile does, from ``--build-arg REVISION``), else from the git checkout the code
runs from (the demo, an editable install), else it is ``unknown``.
"""

from __future__ import annotations

import platform
import re
import subprocess
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
REVISION_FILE = PACKAGE / "REVISION"
_HASH = re.compile(r"[0-9a-f]{7,64}")


def python_version() -> str:
    return platform.python_version()


@cache
def revision() -> str:
    """Looked up once per process: a git call must not run at each rendering."""
    return _from_file(REVISION_FILE) or _from_git(PACKAGE.parent) or "unknown"


def _from_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text if _HASH.fullmatch(text) else ""


def _from_git(root: Path) -> str:
    if not (root / ".git").exists():  # a directory, or a file in a worktree
        return ""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    text = done.stdout.strip()
    return text if done.returncode == 0 and _HASH.fullmatch(text) else ""
