"""The package imports and the command line answers --version."""

from __future__ import annotations

import subprocess
import sys

from exporter import __version__


def test_module_entry_point_prints_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "exporter", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"iam-credential-exporter {__version__}"
