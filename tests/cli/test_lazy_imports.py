"""The short commands import neither the AWS SDK nor the daemon: each costs start-up
time (a third of it, for the daemon) and nothing of them runs there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.reports import FIXTURES

pytestmark = pytest.mark.slow  # each test starts an interpreter

REPO = Path(__file__).resolve().parents[2]
# Packages that must not be loaded (nor any module under them).
HEAVY = (
    "boto3",
    "botocore",
    "exporter.sources.aws",
    "exporter.daemon",
    "prometheus_client",
    "apscheduler",
)
PROBE = """
import json, sys
from exporter.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as done:
    code = done.code
sys.stdout.flush()
print("\\n" + json.dumps(sorted(sys.modules)), file=sys.stderr)
raise SystemExit(code)
"""


def loaded_after(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules for h in HEAVY if m == h or m.startswith(h + ".")}


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("--help",),
        ("audit", "--help"),
        ("diff", "--help"),
        ("serve", "--help"),
        ("audit", "--format", "json", "--report-file", str(FIXTURES / "reports/aws_real.csv")),
    ],
    ids=" ".join,
)
def test_short_commands_import_no_aws_or_daemon_module(args: tuple[str, ...]) -> None:
    assert heavy(loaded_after(*args)) == set()


def test_the_probe_sees_a_daemon_import() -> None:
    # The same probe, on a command that needs the daemon, does see it: the empty sets
    # above are not an artefact of how modules are listed.
    out = subprocess.run(
        [sys.executable, "-c", "import json, sys, exporter.daemon.app; "
         "print(json.dumps(sorted(sys.modules)))"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert heavy(set(json.loads(out.stdout))) >= {"exporter.daemon", "prometheus_client"}
