"""The README's `serve --help` block is the real output, not a stale copy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "$ iam-credential-exporter serve --help\n"


def test_readme_shows_the_current_serve_help() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index(MARKER) + len(MARKER)
    shown = text[start : text.index("```", start)]
    env = {**os.environ, "COLUMNS": "100"}
    real = subprocess.run(
        [sys.executable, "-m", "exporter", "serve", "--help"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    # argparse's layout differs between Python versions; the flags and defaults must not.
    pattern = r"--[a-z][a-z.-]*|\(default: [^)]*\)"
    assert sorted(re.findall(pattern, shown)) == sorted(re.findall(pattern, real)), (
        "README serve --help is stale: regenerate it with COLUMNS=100"
    )
