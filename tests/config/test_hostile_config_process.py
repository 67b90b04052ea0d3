"""The real CLI against hostile configuration: a one-line error naming the key, exit 2,
quickly, for ``serve`` and ``audit`` alike."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.config.hostile import alias_bomb
from tests.support.exporter_process import REPO

pytestmark = pytest.mark.slow

REPORT = REPO / "tests" / "fixtures" / "reports" / "aws_real.csv"

CONFIGS = {
    "alias bomb": (alias_bomb(), "flags.log.level["),
    "deep nesting": ("checks: " + "[" * 20_000 + "\n", "checks[0]"),
    "impossible date": (
        "exemptions:\n  - user: bob\n    reason: r\n    expires: 2027-02-30\n",
        "exemptions[0].expires: must be a date",
    ),
    "duplicate key": (
        "checks:\n  password_unused:\n    enabled: false\n  password_unused:\n    enabled: true\n",
        "checks.password_unused: duplicate key",
    ),
    "huge duration": ("flags:\n  refresh.interval: 999999999d\n", "flags.refresh.interval"),
    "unreachable path": ("flags:\n  web.telemetry-path: /metrics?x\n", "flags.web.telemetry-path"),
}


def run(*argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "exporter", *argv],
        check=False, capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    return out, time.monotonic() - start


def assert_one_line_error(out: subprocess.CompletedProcess[str], seconds: float, key: str) -> None:
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert key in lines[0] and len(lines[0]) < 400, lines[0][:400]
    assert seconds < 20


@pytest.mark.parametrize("case", CONFIGS)
@pytest.mark.parametrize("command", ["serve", "audit"])
def test_hostile_config_files_stop_with_a_one_line_error(
    tmp_path: Path, case: str, command: str
) -> None:
    text, key = CONFIGS[case]
    config = tmp_path / "config.yml"
    config.write_text(text)
    if command == "serve":
        argv = ["serve", "--demo", "--web.listen-address", "127.0.0.1:0"]
    else:
        argv = ["audit", "--report-file", str(REPORT), "--format", "json"]
    assert_one_line_error(*run(*argv, "--config", str(config)), key)


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--refresh.interval", "999999999d"), ("--refresh.interval", "9" * 5000 + "d"),
     ("--web.telemetry-path", "/metrics?x"), ("--web.telemetry-path", "/metrics#x")],
)  # fmt: skip
def test_hostile_flags_stop_with_a_one_line_error(flag: str, value: str) -> None:
    out, seconds = run("serve", "--demo", "--web.listen-address", "127.0.0.1:0", flag, value)
    assert_one_line_error(out, seconds, f"argument {flag}: ")
    assert value[:100] not in out.stderr or len(value) < 100  # a bounded excerpt of it


@pytest.mark.parametrize(
    ("text", "key"),
    [(alias_bomb("basic_auth_users"), "basic_auth_users["),
     ("basic_auth_users: " + "[" * 20_000 + "\n", "nested deeper than"),
     ("basic_auth_users:\n  bob: x\n  bob: y\n", "basic_auth_users.bob: duplicate key"),
     ("", "is empty")],
)  # fmt: skip
def test_hostile_web_config_files_stop_serve_with_a_one_line_error(
    tmp_path: Path, text: str, key: str
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(text)
    out, seconds = run("serve", "--demo", "--web.listen-address", "127.0.0.1:0",
                       "--web.config.file", str(web))  # fmt: skip
    assert_one_line_error(out, seconds, key)
