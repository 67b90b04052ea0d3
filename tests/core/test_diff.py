"""``diff_reports`` and the ``diff`` command: one test per kind of change."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli.main import main
from exporter.core.diff import CHANGE_KINDS, Change, diff_reports
from exporter.core.report import parse_report
from tests.support.real_reports import real_report
from tests.support.reports import ACCOUNT, FIXTURES, key, report, root_row, ts, user_row

REPORTS = FIXTURES / "reports"
OLD, NEW = str(REPORTS / "diff_old.csv"), str(REPORTS / "diff_new.csv")
Rows = list[dict[str, str]]


def changes(
    old: list[dict[str, str]], new: list[dict[str, str]]
) -> list[tuple[str, str, int | None]]:
    got = diff_reports(parse_report(report(*old)), parse_report(report(*new)))
    return [(c.user, c.change, c.key) for c in got]


def test_user_created_and_deleted() -> None:
    assert changes([user_row("a")], [user_row("a"), user_row("b")]) == [("b", "user_created", None)]
    assert changes([user_row("a"), user_row("b")], [user_row("b")]) == [("a", "user_deleted", None)]


def test_user_deleted_and_created_again_under_the_same_name() -> None:
    old = [user_row("a", user_creation_time=ts(400), **key(1))]
    new = [user_row("a", user_creation_time=ts(2))]
    assert changes(old, new) == [("a", "user_deleted", None), ("a", "user_created", None)]


def test_mfa_enabled_and_disabled_root_included() -> None:
    assert changes([root_row(mfa_active="true")], [root_row(mfa_active="false")]) == [
        ("<root_account>", "mfa_disabled", None)
    ]
    assert changes([user_row("a")], [user_row("a", mfa_active="true")]) == [
        ("a", "mfa_enabled", None)
    ]


def test_password_enabled_and_disabled() -> None:
    on = user_row("a", password_enabled="true", password_last_used="no_information")
    assert changes([user_row("a")], [on]) == [("a", "password_enabled", None)]
    assert changes([on], [user_row("a")]) == [("a", "password_disabled", None)]


def test_access_key_created_new_or_rotated() -> None:
    assert changes([user_row("a")], [user_row("a", **key(2))]) == [("a", "access_key_created", 2)]
    old = [user_row("a", **key(1, rotated=ts(100)))]
    rotated = [user_row("a", **key(1, rotated=ts(1)))]
    assert changes(old, rotated) == [("a", "access_key_created", 1)]
    same_key_used = [user_row("a", **key(1, rotated=ts(100), used=ts(0)))]
    assert changes(old, same_key_used) == []


def test_access_key_activated_again() -> None:
    old = [user_row("a", **key(1, active="false", rotated=ts(100)))]
    new = [user_row("a", **key(1, rotated=ts(100)))]
    assert changes(old, new) == [("a", "access_key_activated", 1)]


def test_access_key_deactivated_and_deleted() -> None:
    old = [user_row("a", **key(1, rotated=ts(100)), **key(2, active="false", rotated=ts(50)))]
    new = [user_row("a", **key(1, active="false", rotated=ts(100)))]
    assert changes(old, new) == [("a", "access_key_deactivated", 1), ("a", "access_key_deleted", 2)]
    assert changes([user_row("a", **key(1))], [user_row("a")]) == [("a", "access_key_deleted", 1)]


def test_unreadable_values_are_not_changes() -> None:
    old = [user_row("a", mfa_active="true", **key(1, rotated=ts(9)))]
    new = [user_row("a", mfa_active="garbage", **key(1, rotated="garbage"))]
    assert changes(old, new) == []


def test_no_change_no_output_and_every_kind_is_declared() -> None:
    rows = [root_row(), user_row("a", **key(1))]
    assert changes(rows, rows) == []
    got = diff_reports(parse_report(Path(OLD).read_bytes()), parse_report(Path(NEW).read_bytes()))
    assert {c.change for c in got} == set(CHANGE_KINDS)
    assert all(isinstance(c, Change) and c.account_id == "111122223333" for c in got)


def test_cli_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", OLD, NEW, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["changes"]) == 13
    assert doc["changes"][0] == {
        "account_id": "111122223333", "user": "<root_account>",
        "arn": "arn:aws:iam::111122223333:root", "change": "mfa_disabled", "key": None,
        "detail": "MFA removed",
    }  # fmt: skip
    assert main(["diff", OLD, NEW, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["user"], r["change"]) for r in rows] == [
        (c["user"], c["change"]) for c in doc["changes"]
    ]
    assert main(["diff", OLD, NEW, "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["CHANGE", "ACCOUNT", "USER", "KEY", "DETAIL"]
    assert "access_key_activated" in table and table.endswith("13 change(s)\n")


def test_cli_reads_one_side_from_stdin() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "diff", "-", NEW, "--format", "json"],
        input=Path(OLD).read_bytes(), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["changes"]) == 13


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-", "-"], "only one of OLD and NEW can be standard input"),
        (["/nonexistent.csv", NEW], "cannot read /nonexistent.csv"),
        ([str(REPORTS / "missing_column.csv"), NEW],
         "missing_column.csv: the credential report is missing required column(s): mfa_active"),
        ([OLD], "the following arguments are required: NEW"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line(args: list[str], needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "diff", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr


def test_cli_refuses_reports_of_two_accounts(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    other = Path(str(tmp_path)) / "other.csv"
    other.write_bytes(report(root_row(arn="arn:aws:iam::999988887777:root")))
    assert main(["diff", OLD, str(other)]) == 2
    err = capsys.readouterr().err
    assert "is account 111122223333 but" in err and "is account 999988887777" in err


# -- keys are known by their creation date ---------------------------------------------


def test_a_key_moved_to_slot_2_and_a_new_key_in_slot_1_is_one_creation() -> None:
    old = [user_row("a", **key(1, rotated=ts(300)))]
    new = [user_row("a", **key(1, rotated=ts(5)), **key(2, rotated=ts(300)))]
    assert changes(old, new) == [("a", "access_key_created", 1)]


def test_a_key_moved_to_slot_1_when_key_1_is_deleted_is_one_deletion() -> None:
    old = [user_row("a", **key(1, rotated=ts(300)), **key(2, rotated=ts(100)))]
    new = [user_row("a", **key(1, rotated=ts(100)))]
    assert changes(old, new) == [("a", "access_key_deleted", 1)]


def test_a_moved_key_keeps_its_state_changes() -> None:
    old = [user_row("a", **key(1, rotated=ts(300)))]
    new = [user_row("a", **key(1, rotated=ts(5)), **key(2, active="false", rotated=ts(300)))]
    assert changes(old, new) == [
        ("a", "access_key_created", 1),
        ("a", "access_key_deactivated", 2),
    ]


def test_keys_that_dates_cannot_tell_apart_are_matched_by_slot() -> None:
    # Both keys created in the same second (insightwatch_964503621683.csv has such users).
    same = ts(100)
    old = [user_row("a", **key(1, rotated=same), **key(2, rotated=same))]
    new = [user_row("a", **key(1, rotated=same), **key(2, active="false", rotated=same))]
    assert changes(old, new) == [("a", "access_key_deactivated", 2)]
    # An active key without a creation date (a hand-made report).
    old = [user_row("a", **key(1, rotated="N/A"))]
    new = [user_row("a", **key(1, rotated="N/A"), **key(2))]
    assert changes(old, new) == [("a", "access_key_created", 2)]


def test_the_real_reports_where_aws_moved_kapils_key() -> None:
    before = parse_report(real_report("c7n_account_credential_report.csv").read_bytes())
    after = parse_report(real_report("c7n_multi_delete_2018.csv").read_bytes())
    kapil = [c for c in diff_reports(before, after) if c.user == "kapil"]
    created = [c for c in kapil if c.change == "access_key_created"]
    assert [(c.key, c.detail) for c in created] == [(1, "access key 1 created or rotated")]
    assert [c.change for c in kapil] == ["access_key_created"]


def test_root_is_never_created_nor_deleted() -> None:
    # A report without the root row is incomplete; root did not come or go.
    assert changes([root_row(), user_row("a")], [user_row("a")]) == []
    assert changes([user_row("a")], [root_row(), user_row("a")]) == []


def test_a_user_listed_twice_is_compared_by_its_first_row() -> None:
    old = [root_row(), user_row("a")]
    new = [root_row(), user_row("a"), user_row("a", mfa_active="true")]
    assert changes(old, new) == []


# -- the command: problems and incomplete reports --------------------------------------


def test_cli_lists_each_reports_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    new = tmp_path / "new.csv"
    new.write_bytes(report(root_row(), user_row("a"), user_row("a", mfa_active="maybe")))
    old = tmp_path / "old.csv"
    old.write_bytes(report(root_row(), user_row("a", mfa_active="maybe")))
    assert main(["diff", str(old), str(new), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["problems"] == [
        {"line": 3, "user": "a", "column": "mfa_active", "value": "maybe",
         "reason": "unreadable", "source": str(old)},
        {"line": 4, "user": "a", "column": "user", "value": "a",
         "reason": "duplicate_user", "source": str(new)},
    ]  # fmt: skip
    assert main(["diff", str(old), str(new), "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert "2 problem(s) in the reports:" in table
    assert f"  {new}: record 4, user 'a': listed again; only the user's first row" in table
    assert main(["diff", str(old), str(new), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["kind"], r["account_id"]) for r in rows] == [("problem", ACCOUNT)] * 2
    assert rows[1]["detail"].startswith(f"{new}: record 4, user 'a': listed again")


def test_cli_refuses_a_report_without_the_root_row_unless_allowed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = str(real_report("c7n_account_credential_report.csv"))
    after = str(real_report("c7n_multi_delete_2018.csv"))
    assert main(["diff", before, after]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"error: {after}: the credential report has no <root_account> row" in err
    assert "--allow-incomplete" in err
    assert main(["diff", before, after, "--allow-incomplete", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["change"] for c in doc["changes"]].count("access_key_created") == 1
    assert not any(c["user"] == "<root_account>" for c in doc["changes"])
    assert {(p["source"], p["reason"]) for p in doc["problems"]} == {
        (before, "duplicate_user"),
        (after, "no_root_row"),
    }
