"""``audit`` never passes an incomplete or doubtful report off as clean.

A report without the root row is refused unless --allow-incomplete; dates later than
the report, users listed twice and the pre-2015 format are said; every source is
listed with what was audited; two reports of one account are refused.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from exporter.cli.main import main
from exporter.core.evaluate import NO_KEY_USE, NO_ROOT_ROW
from tests.support.real_reports import real_report
from tests.support.reports import (
    AS_OF,
    AS_OF_TEXT,
    FIXTURES,
    SAVED_AT,
    key,
    report,
    root_row,
    saved,
    ts,
    user_row,
)

ROOT_CHECKS = {"root_mfa_disabled", "root_access_key_active", "root_used_recently"}
ERROR = "iam-credential-exporter: error: "


def audit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "exporter", "audit", "--as-of", AS_OF_TEXT, *args]
    return subprocess.run(
        cmd, input=None if stdin is None else stdin.decode(), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["audit", "--as-of", AS_OF_TEXT, "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def assert_refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(ERROR), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


# -- incomplete reports ----------------------------------------------------------------


def test_a_header_only_report_is_refused_naming_the_root_row_and_the_file(
    tmp_path: Path,
) -> None:
    path = saved(tmp_path / "header.csv", report())
    assert_refused(audit("--report-file", str(path)), str(path), "no <root_account> row",
                   "--allow-incomplete")  # fmt: skip


def test_a_report_cut_at_a_line_boundary_is_refused(tmp_path: Path) -> None:
    lines = (FIXTURES / "reports" / "aws_real.csv").read_bytes().splitlines(keepends=True)
    cut = saved(tmp_path / "cut.csv", b"".join([lines[0], *lines[2:5]]))
    assert_refused(audit("--report-file", str(cut), "--format", "table"), f"{cut}: the ")


def test_an_incomplete_report_from_stdin_is_refused_too() -> None:
    proc = audit("--report-file", "-", stdin=report(user_row("a")))
    assert_refused(proc, "-: the credential report has no <root_account> row")


def test_allow_incomplete_leaves_the_root_checks_out_as_not_evaluated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = str(saved(tmp_path / "u.csv", report(user_row("a", **key(1, rotated=ts(200))))))
    code, doc, _ = run_json(capsys, "--report-file", path, "--allow-incomplete")
    assert code == 0
    [account] = doc["accounts"]
    assert account["complete"] is False and account["result"] == "findings"
    assert {c for c, why in account["not_evaluated"].items() if why == NO_ROOT_ROW} == ROOT_CHECKS
    assert not any(f["user"] == "<root_account>" for f in doc["findings"])
    code = main(["audit", "--as-of", AS_OF_TEXT, "--format", "table", "--report-file", path,
                 "--allow-incomplete"])  # fmt: skip
    table = capsys.readouterr().out
    assert "no (no <root_account> row)" in table
    assert (
        f"  {path}: not evaluated, the report has no <root_account> row: root_mfa_disabled, "
        "root_access_key_active, root_used_recently"
    ) in table


def test_one_incomplete_file_among_others_is_listed_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = str(saved(tmp_path / "good.csv", report(root_row())))
    bad = str(saved(tmp_path / "bad.csv", report(user_row("a", arn="arn:aws:iam::2:user/a"))))
    code, doc, err = run_json(capsys, "--report-file", good, "--report-file", bad)
    assert code == 2
    assert [(a["source"], a["result"], a["reason"]) for a in doc["accounts"]] == [
        (good, "clean", None),
        (bad, "failed", "incomplete_report"),
    ]
    assert f"could not audit {bad} (incomplete_report): the credential report has no" in err


def test_an_incomplete_account_fails_the_audit_even_beside_good_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Live accounts that fail for a moment are listed and do not fail the audit; a report
    # without the root row is not of that kind.
    from exporter.cli import audit as audit_module
    from exporter.sources.base import FileReportSource

    good = saved(tmp_path / "g.csv", report(root_row()))
    bad = saved(tmp_path / "b.csv", report(user_row("a", arn="arn:aws:iam::2:user/a")))
    sources = [("good", FileReportSource(str(good))), ("bad", FileReportSource(str(bad)))]
    monkeypatch.setattr(audit_module, "audit_sources", lambda paths, config: sources)
    code, doc, _ = run_json(capsys)
    assert code == 2 and [a["result"] for a in doc["accounts"]] == ["clean", "failed"]


# -- what audit audited ----------------------------------------------------------------


def test_every_source_is_listed_clean_empty_with_findings_or_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    findings = saved(tmp_path / "f.csv", report(root_row(mfa_active="false")))
    empty = saved(tmp_path / "e.csv", report(root_row(arn="arn:aws:iam::2:root")))
    clean = saved(tmp_path / "c.csv", report(root_row(arn="arn:aws:iam::3:root"),
                                             user_row("ok", arn="arn:aws:iam::3:user/ok",
                                                      user_creation_time=ts(3))))  # fmt: skip
    gone = tmp_path / "gone.csv"
    args = [x for p in (findings, empty, gone, clean) for x in ("--report-file", str(p))]
    code, doc, _ = run_json(capsys, *args)
    assert code == 2  # a named file cannot be read
    summary = [(a["source"], a["account_id"], a["users"], a["result"]) for a in doc["accounts"]]
    assert summary == [
        (str(findings), "111122223333", 0, "findings"),
        (str(empty), "2", 0, "clean"),
        (str(gone), None, None, "failed"),
        (str(clean), "3", 1, "clean"),
    ]
    first = doc["accounts"][0]
    assert first["generated_time"] == SAVED_AT.isoformat().replace("+00:00", "Z")
    assert first["report_age_seconds"] == 3600 and first["complete"] is True
    assert first["findings"] == 1 and first["problems"] == 0
    main(["audit", "--as-of", AS_OF_TEXT, "--format", "table", *args])
    table = capsys.readouterr().out
    assert "Audited 4 report(s):" in table
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("SOURCE"))
    assert header.split() == ["SOURCE", "ACCOUNT", "USERS", "REPORT", "AGE", "COMPLETE", "RESULT"]
    row = next(line for line in lines if line.startswith(str(clean)))
    assert row.split() == [str(clean), "3", "1", "1h", "yes", "clean"]
    assert next(line for line in lines if line.startswith(str(gone))).endswith(
        "failed (file_error)"
    )


def test_a_report_from_stdin_has_no_known_age(capsys: pytest.CaptureFixture[str]) -> None:
    proc = audit("--report-file", "-", "--format", "json", stdin=report(root_row()))
    assert proc.returncode == 0, proc.stderr
    [account] = json.loads(proc.stdout)["accounts"]
    assert account["source"] == "-" and account["generated_time"] is None
    assert account["report_age_seconds"] is None


def test_two_reports_of_one_account_are_refused_naming_both(tmp_path: Path) -> None:
    a = saved(tmp_path / "a.csv", report(root_row()))
    b = saved(tmp_path / "b.csv", report(root_row(), user_row("x")))
    proc = audit("--report-file", str(a), "--report-file", str(b))
    assert_refused(proc, f"{a} and {b} are both reports of account 111122223333")


# -- report problems -------------------------------------------------------------------


def test_dates_later_than_the_report_are_listed_and_unknown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Root "used" after the file was written: without the limit, a negative age would
    # make root_used_recently fire.
    row = root_row(password_last_used=ts(hours=0.5))
    path = str(saved(tmp_path / "r.csv", report(row), AS_OF - timedelta(hours=2)))
    code, doc, _ = run_json(capsys, "--report-file", path)
    assert code == 0
    assert [(p["line"], p["column"], p["reason"], p["source"]) for p in doc["problems"]] == [
        (2, "password_last_used", "future", path)
    ]
    assert not any(f["check"] == "root_used_recently" for f in doc["findings"])
    assert doc["accounts"][0]["problems"] == 1


def test_a_report_dated_after_the_audit_is_a_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = str(saved(tmp_path / "r.csv", report(root_row()), AS_OF + timedelta(days=2)))
    code, doc, _ = run_json(capsys, "--report-file", path)
    assert code == 0
    assert [(p["line"], p["column"], p["reason"]) for p in doc["problems"]] == [
        (0, "generated_time", "future")
    ]
    assert doc["accounts"][0]["report_age_seconds"] == -2 * 86400
    main(["audit", "--as-of", AS_OF_TEXT, "--format", "table", "--report-file", path])
    table = capsys.readouterr().out
    late = "generated_time = '2026-11-26T12:00:00Z' is over an hour after the audit's time"
    assert f"{late} (now or --as-of)" in table
    assert " -2d " in table


def test_a_user_listed_twice_is_a_problem_in_every_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(real_report("c7n_account_credential_report.csv"))
    code, doc, _ = run_json(capsys, "--report-file", path)
    assert code == 0
    dup = [p for p in doc["problems"] if p["reason"] == "duplicate_user"]
    assert [(p["line"], p["user"], p["account_id"]) for p in dup] == [
        (10, "christopher", "644160558196")
    ]
    assert doc["accounts"][0]["users"] == 19  # 20 rows of users, christopher once
    main(["audit", "--as-of", AS_OF_TEXT, "--format", "table", "--report-file", path])
    assert "record 10, user 'christopher': listed again; only the user's first row counts" in (
        capsys.readouterr().out
    )


def test_csv_carries_the_problems_and_the_accounts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = (FIXTURES / "reports" / "malformed_value.csv").read_bytes()
    path = str(saved(tmp_path / "m.csv", data))
    assert main(["audit", "--as-of", AS_OF_TEXT, "--format", "csv", "--report-file", path]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["kind"] for r in rows] == ["finding", "problem", "problem", "account"]
    problem = rows[1]
    assert (problem["account_id"], problem["user"]) == ("111122223333", "mallory")
    assert problem["message"] == (
        "record 3, user 'mallory': password_last_used = 'yesterday' is unreadable (unknown)"
    )
    assert json.loads(problem["facts"]) == {
        "line": 3, "user": "mallory", "column": "password_last_used", "value": "yesterday",
        "reason": "unreadable", "source": path,
    }  # fmt: skip
    account = rows[3]
    assert account["account_id"] == "111122223333" and account["message"] == "1 finding(s)"
    facts = json.loads(account["facts"])
    assert facts["source"] == path and facts["complete"] is True and facts["problems"] == 2


# -- the pre-2015 format ---------------------------------------------------------------


def test_a_16_column_report_is_audited_and_says_what_was_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(real_report("awsdoc_powershell_restored.csv"))
    code, doc, _ = run_json(capsys, "--report-file", path)
    assert code == 0 and doc["failed_accounts"] == []
    [account] = doc["accounts"]
    assert account["complete"] is True and len(account["missing_columns"]) == 6
    key_use = {c for c, why in account["not_evaluated"].items() if why == NO_KEY_USE}
    assert key_use == {"access_key_never_used", "access_key_unused", "root_used_recently",
                       "user_inactive"}  # fmt: skip
    assert ("Administrator", "access_key_not_rotated") in {
        (f["user"], f["check"]) for f in doc["findings"]
    }
