"""``--min-severity``, ``--check`` and ``--fail-on``: the same findings in every format."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from exporter.cli.main import main
from tests.support.reports import AS_OF_TEXT, FIXTURES

REAL = str(FIXTURES / "reports" / "aws_real.csv")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", "--report-file", REAL, "--as-of", AS_OF_TEXT, *args])
    out, err = capsys.readouterr()
    return code, out, err


def json_doc(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "--format", "json", *args)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_min_severity_keeps_that_severity_and_worse(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json_doc(capsys, "--min-severity", "high")
    assert {f["severity"] for f in doc["findings"]} == {"critical", "high"}
    assert doc["summary"] == {"critical": 1, "high": 6, "medium": 0, "low": 0}
    assert doc["accounts"][0]["findings"] == 7


def test_check_is_repeatable_and_narrows_not_evaluated_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = json_doc(capsys, "--check", "user_inactive", "--check", "role_unused")
    assert {f["check"] for f in doc["findings"]} == {"user_inactive"}
    assert len(doc["findings"]) == 3
    # role_unused has no input in a report file: still said, the unasked checks are not.
    assert list(doc["accounts"][0]["not_evaluated"]) == ["role_unused"]


def test_filters_apply_to_csv_and_table_alike(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ("--check", "access_key_not_rotated", "--min-severity", "HIGH")
    _, out, _ = run(capsys, "--format", "csv", *flags)
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["kind"] == "finding"]
    assert sorted((r["user"], r["key"]) for r in rows) == [
        ("bob+ops", "1"), ("ci.deployer", "1"), ("ci.deployer", "2")
    ]  # fmt: skip
    _, table, _ = run(capsys, "--format", "table", *flags)
    assert "3 finding(s): 0 critical, 3 high, 0 medium, 0 low" in table
    assert "user_inactive" not in table


@pytest.mark.parametrize("spelling", ["critical", "CRITICAL", "Critical"])
def test_fail_on_takes_any_case(capsys: pytest.CaptureFixture[str], spelling: str) -> None:
    assert run(capsys, "--format", "json", "--fail-on", spelling)[0] == 1


def test_fail_on_sees_only_the_filtered_findings(capsys: pytest.CaptureFixture[str]) -> None:
    # The one critical finding is root_mfa_disabled: leaving it out passes --fail-on critical.
    assert run(capsys, "--format", "json", "--fail-on", "critical")[0] == 1
    code = run(capsys, "--format", "json", "--fail-on", "critical", "--check", "user_inactive")[0]
    assert code == 0


def test_help_gives_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--fail-on SEVERITY" in text and "(default: none," in text
    assert "--min-severity SEVERITY" in text and "--check ID" in text and "--demo" in text
