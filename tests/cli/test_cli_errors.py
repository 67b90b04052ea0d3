"""Every error on stderr starts with ``iam-credential-exporter: error:``, argparse's and
the configuration's included, and a mistyped check id suggests the closest one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.reports import FIXTURES

REAL = str(FIXTURES / "reports" / "aws_real.csv")
PREFIX = "iam-credential-exporter: error: "


def error_of(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(PREFIX), proc.stderr
    return proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "--bogus"],  # the sub-command's parser
        ["--bogus"],  # the top-level parser
        ["diff", "only-one.csv"],
        ["serve", "--refresh.interval", "soon"],
        ["audit", "--min-severity", "urgent"],
    ],
)
def test_argparse_errors_have_the_one_prefix(args: list[str]) -> None:
    error_of(*args)


def test_a_mistyped_check_suggests_the_closest() -> None:
    err = error_of("audit", "--report-file", REAL, "--check", "pasword_unused")
    assert "unknown check 'pasword_unused' (did you mean 'password_unused'?)" in err


def test_a_check_id_far_from_any_lists_them() -> None:
    err = error_of("audit", "--report-file", REAL, "--check", "zzz")
    assert "unknown check 'zzz' (known: root_mfa_disabled, " in err


def test_config_check_names_suggest_the_closest(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("checks:\n  acess_key_unused: {enabled: false}\n")
    err = error_of("audit", "--report-file", REAL, "--config", str(config))
    assert err.startswith(f"{PREFIX}checks.acess_key_unused: unknown check")
    assert "(did you mean 'access_key_unused'?)" in err
    config.write_text("exemptions:\n- user: x\n  reason: r\n  checks: [user_inactiv]\n")
    err = error_of("audit", "--report-file", REAL, "--config", str(config))
    assert (
        "exemptions[0].checks: unknown check 'user_inactiv' (did you mean 'user_inactive'?)" in err
    )


def test_every_failed_source_line_has_the_prefix(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "audit", "--report-file", REAL,
         "--report-file", str(tmp_path / "gone.csv"), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{PREFIX}could not audit {tmp_path / 'gone.csv'} (file_error)")
