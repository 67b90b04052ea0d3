"""``audit`` on saved reports: formats, exit codes, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exporter.cli.main import main
from tests.support.reports import (
    AS_OF_TEXT,
    FIXTURES,
    key,
    report,
    root_row,
    saved,
    ts,
    user_row,
)

REPORTS = FIXTURES / "reports"
REAL = str(REPORTS / "aws_real.csv")
FINDING_KEYS = ["account_id", "user", "arn", "check", "severity", "key", "message", "facts"]


@pytest.fixture
def real(tmp_path: Path) -> str:
    """aws_real.csv saved an hour before AS_OF (a checkout dates it at the checkout)."""
    return str(saved(tmp_path / "aws_real.csv", Path(REAL).read_bytes()))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def audit_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "audit", "--as-of", AS_OF_TEXT, "--format", "json", *args)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "exporter", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)


def assert_one_line_error(proc: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("iam-credential-exporter"), err
    for needle in needles:
        assert needle in err, err


def test_json_is_one_object_with_as_of_and_findings(
    capsys: pytest.CaptureFixture[str], real: str
) -> None:
    doc = audit_json(capsys, "--report-file", real)
    assert doc["as_of"] == AS_OF_TEXT
    assert doc["findings"]
    for f in doc["findings"]:
        assert list(f) == FINDING_KEYS
        assert f["account_id"] == "111122223333"
        assert f["key"] in (1, 2, None)
        assert f["severity"] in ("critical", "high", "medium", "low")
        assert isinstance(f["facts"], dict)
    rot = [f for f in doc["findings"] if f["check"] == "access_key_not_rotated"]
    assert {(f["user"], f["key"], f["facts"]["age_days"]) for f in rot} == {
        ("bob+ops", 1, 327), ("ci.deployer", 1, 1027), ("ci.deployer", 2, 692)
    }  # fmt: skip
    assert doc["summary"] == {"critical": 1, "high": 6, "medium": 4, "low": 6}
    assert doc["problems"] == [] and doc["failed_accounts"] == []


def test_csv_has_the_same_findings(capsys: pytest.CaptureFixture[str]) -> None:
    doc = audit_json(capsys, "--report-file", REAL)
    code, out, _ = run(
        capsys, "audit", "--as-of", AS_OF_TEXT, "--format", "csv", "--report-file", REAL
    )
    every = list(csv.DictReader(io.StringIO(out)))
    # The finding columns first, as they were; then what each row is.
    assert code == 0 and list(every[0]) == [*FINDING_KEYS, "kind"]
    rows = [r for r in every if r["kind"] == "finding"]
    assert rows == every[: len(rows)]
    assert [(r["user"], r["check"], r["key"]) for r in rows] == [
        (f["user"], f["check"], "" if f["key"] is None else str(f["key"])) for f in doc["findings"]
    ]
    # The user with a comma in its name survives the round trip.
    assert any(r["user"] == "doe,john" for r in rows)
    assert json.loads(rows[1]["facts"]) == doc["findings"][1]["facts"]


def test_table_is_the_default_on_a_terminal() -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "audit", "--report-file", REAL, "--as-of", AS_OF_TEXT],
        stdout=secondary, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode()
    assert out.startswith(f"IAM credential audit as of {AS_OF_TEXT}")
    assert "SEVERITY" in out and "CRITICAL" in out
    assert "17 finding(s): 1 critical, 6 high, 4 medium, 6 low" in out


def test_json_is_the_default_when_piped() -> None:
    proc = cli("audit", "--report-file", REAL, "--as-of", AS_OF_TEXT)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["as_of"] == AS_OF_TEXT


@pytest.mark.parametrize(
    ("fail_on", "code"), [("critical", 1), ("low", 1), ("medium", 1), ("high", 1)]
)
def test_fail_on_when_a_finding_is_at_or_above(
    capsys: pytest.CaptureFixture[str], fail_on: str, code: int
) -> None:
    args = ("audit", "--report-file", REAL, "--as-of", AS_OF_TEXT, "--fail-on", fail_on)
    assert run(capsys, *args)[0] == code


def test_fail_on_below_the_worst_finding_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "medium.csv"
    # Only medium findings: an unused key and a never-used key.
    path.write_bytes(report(root_row(), user_row("svc", **key(1, rotated=ts(20), used=ts(95)))))
    args = ("audit", "--report-file", str(path), "--as-of", AS_OF_TEXT, "--format", "json")
    assert run(capsys, *args, "--fail-on", "high")[0] == 0
    assert run(capsys, *args, "--fail-on", "critical")[0] == 0
    assert run(capsys, *args, "--fail-on", "medium")[0] == 1
    assert run(capsys, *args)[0] == 0  # no --fail-on: findings alone never fail


def test_several_report_files_and_stdin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = report(root_row(arn="arn:aws:iam::999988887777:root", mfa_active="false"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(other)))
    doc = audit_json(capsys, "--report-file", REAL, "--report-file", "-")
    accounts = {f["account_id"] for f in doc["findings"]}
    assert accounts == {"111122223333", "999988887777"}
    roots = [f for f in doc["findings"] if f["check"] == "root_mfa_disabled"]
    assert len(roots) == 2


def test_stdin_twice_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "audit", "--report-file", "-", "--report-file", "-")
    assert code == 2 and out == ""
    assert err == (
        "iam-credential-exporter: error: --report-file - (standard input) can be given only once\n"
    )


def test_as_of_without_offset_is_utc(capsys: pytest.CaptureFixture[str]) -> None:
    doc = audit_json(capsys, "--report-file", REAL, "--as-of", "2026-11-24T12:00:00")
    assert doc["as_of"] == AS_OF_TEXT
    doc = audit_json(capsys, "--report-file", REAL, "--as-of", "2026-11-24T14:00:00+02:00")
    assert doc["as_of"] == AS_OF_TEXT


def test_exemptions_in_the_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "exemptions:\n"
        "  - user: 'ci.*'\n    reason: CI keys rotate yearly\n"
        "    checks: [access_key_not_rotated]\n"
        "  - arn: 'arn:aws:iam::*:user/ops/*'\n    reason: old\n    expires: 2026-01-01\n"
    )
    doc = audit_json(capsys, "--report-file", REAL, "--config", str(config))
    assert {(f["user"], f["key"]) for f in doc["exempted"]} == {
        ("ci.deployer", 1),
        ("ci.deployer", 2),
    }
    assert doc["expired_exemptions"] == [
        {
            "arn": "arn:aws:iam::*:user/ops/*",
            "checks": None,
            "reason": "old",
            "expires": "2026-01-01",
        }
    ]
    assert len(doc["findings"]) == 17 - 2
    _, out, _ = run(capsys, "audit", "--report-file", REAL, "--as-of", AS_OF_TEXT,
                    "--config", str(config), "--format", "table")  # fmt: skip
    assert "2 finding(s) exempted by the exemption list" in out
    expired_line = "expired exemption no longer applies: arn arn:aws:iam::*:user/ops/* "
    assert expired_line + "(all checks, until 2026-01-01): old" in out


def test_malformed_values_are_reported_not_raised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = str(saved(tmp_path / "m.csv", (REPORTS / "malformed_value.csv").read_bytes()))
    doc = audit_json(capsys, "--report-file", path)
    assert [{k: p[k] for k in list(p)[:5]} for p in doc["problems"]] == [
        {
            "line": 3,
            "user": "mallory",
            "column": "password_last_used",
            "value": "yesterday",
            "reason": "unreadable",
        },
        {
            "line": 3,
            "user": "mallory",
            "column": "mfa_active",
            "value": "maybe",
            "reason": "unreadable",
        },
    ]
    # The rest of mallory's row was still checked.
    assert [(f["user"], f["check"]) for f in doc["findings"]] == [
        ("mallory", "access_key_not_rotated")
    ]
    _, out, _ = run(
        capsys, "audit", "--report-file", path, "--as-of", AS_OF_TEXT, "--format", "table"
    )
    assert "2 problem(s) in the report(s):" in out
    assert f"  {path}: record 3, user 'mallory': mfa_active = 'maybe' is unreadable" in out


def test_missing_column_exits_2_naming_it() -> None:
    path = str(REPORTS / "missing_column.csv")
    assert_one_line_error(
        cli("audit", "--report-file", path), path, "missing required column(s): mfa_active"
    )


def test_unreadable_files_exit_2(tmp_path: Path) -> None:
    assert_one_line_error(cli("audit", "--report-file", str(tmp_path / "nope.csv")), "No such file")
    assert_one_line_error(cli("audit", "--report-file", str(tmp_path)), "Is a directory")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\xff\xfe garbage")
    assert_one_line_error(cli("audit", "--report-file", str(binary)), "not UTF-8")


def test_bad_flags_exit_2_with_one_line() -> None:
    assert_one_line_error(
        cli("audit", "--as-of", "last tuesday"), "--as-of", "not an ISO 8601 time"
    )
    assert_one_line_error(cli("audit", "--format", "xml"), "--format", "invalid choice")
    proc = cli("audit", "--as-of", "0001-01-01T00:00:00+14:00")
    assert_one_line_error(proc, "--as-of", "out of range")
    assert_one_line_error(cli("audit", "--as-of", "1900-01-01"), "out of range (1970 to 8999)")
    assert_one_line_error(cli("audit", "--fail-on", "huge"), "--fail-on", "invalid severity")
    assert_one_line_error(cli("audit", "--bogus"), "unrecognized arguments: --bogus")
    assert_one_line_error(cli(), "required: COMMAND")


def test_bad_config_exit_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("checks:\n  password_unused:\n    max_idle_days: -3\n")
    assert_one_line_error(
        cli("audit", "--report-file", REAL, "--config", str(config)),
        "checks.password_unused.max_idle_days",
    )
    assert_one_line_error(
        cli("audit", "--report-file", REAL, "--config", str(tmp_path / "none.yaml")),
        "cannot read config file",
    )
    config.write_text("checks: {password_unused: [\n")
    assert_one_line_error(
        cli("audit", "--report-file", REAL, "--config", str(config)), "not valid YAML"
    )


def test_one_bad_file_among_good_ones_still_prints_and_exits_2(tmp_path: Path) -> None:
    # A named file that cannot be read is an error; failing *accounts* are not.
    proc = cli("audit", "--report-file", REAL, "--report-file", str(tmp_path / "gone.csv"),
               "--as-of", AS_OF_TEXT)  # fmt: skip
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert len(doc["findings"]) == 17
    assert doc["failed_accounts"][0]["reason"] == "file_error"
    assert "could not audit" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


def test_output_to_a_closed_pipe_is_not_a_traceback() -> None:
    big = report(root_row(), *(user_row(f"u{i}", **key(1, rotated=ts(400))) for i in range(3000)))
    proc = subprocess.run(
        f"{sys.executable} -m exporter audit --report-file - --format table | head -c 10",
        shell=True, input=big, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.stdout == b"IAM creden"
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr
