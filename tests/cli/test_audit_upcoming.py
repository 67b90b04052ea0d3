"""``audit`` lists upcoming findings: in JSON, CSV and the table, within ``--upcoming``."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.cli.main import main
from tests.support.reports import (
    ACCOUNT,
    AS_OF,
    AS_OF_TEXT,
    key,
    report,
    root_row,
    saved,
    ts,
    user_row,
)

TODAY = AS_OF.date()


@pytest.fixture
def path(tmp_path: Path) -> str:
    rows = (
        root_row(),
        user_row("ci", **key(1, rotated=ts(80), used=ts(1))),  # due in 11 days
        user_row("batch", **key(1, rotated=ts(60), used=ts(1))),  # due in 31 days
        user_row("old", **key(1, rotated=ts(95), used=ts(1))),  # already a finding
    )
    return str(saved(tmp_path / "r.csv", report(*rows)))


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", "--as-of", AS_OF_TEXT, *args])
    out, err = capsys.readouterr()
    return code, out, err


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def test_json_lists_what_is_due_within_the_default_window(
    capsys: pytest.CaptureFixture[str], path: str
) -> None:
    code, out, _ = audit(capsys, "--report-file", path, "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["upcoming"] == [{
        "account_id": ACCOUNT, "user": "ci", "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
        "check": "access_key_not_rotated", "severity": "high", "key": 1, "due": days(11),
    }]  # fmt: skip
    # An upcoming finding is not a finding (the one already firing is).
    assert [f["user"] for f in doc["findings"] if f["check"] == "access_key_not_rotated"] == ["old"]
    date.fromisoformat(doc["upcoming"][0]["due"])


def test_the_flag_and_the_config_set_the_window(
    capsys: pytest.CaptureFixture[str], path: str, tmp_path: Path
) -> None:
    _, out, _ = audit(capsys, "--report-file", path, "--format", "json", "--upcoming", "31d")
    assert [(u["user"], u["due"]) for u in json.loads(out)["upcoming"]] == [
        ("ci", days(11)), ("batch", days(31))
    ]  # fmt: skip
    config = tmp_path / "c.yml"
    config.write_text("flags:\n  upcoming.window: 5d\n", encoding="utf-8")
    _, out, _ = audit(capsys, "--report-file", path, "--format", "json", "--config", str(config))
    assert json.loads(out)["upcoming"] == []
    # The command line wins over the file.
    args = ("--report-file", path, "--format", "json", "--config", str(config))
    _, out, _ = audit(capsys, *args, "--upcoming", "14d")
    assert [u["user"] for u in json.loads(out)["upcoming"]] == ["ci"]


def test_a_bad_window_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], path: str) -> None:
    with pytest.raises(SystemExit) as stop:  # argparse refuses it, as every bad flag
        audit(capsys, "--report-file", path, "--upcoming", "two weeks")
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--upcoming: not a duration" in err


def test_csv_has_upcoming_rows(capsys: pytest.CaptureFixture[str], path: str) -> None:
    _, out, _ = audit(capsys, "--report-file", path, "--format", "csv")
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["kind"] == "upcoming"]
    assert [(r["user"], r["check"], r["key"], json.loads(r["facts"])) for r in rows] == [
        ("ci", "access_key_not_rotated", "1", {"due": days(11)})
    ]


def test_the_table_shows_them_after_the_findings(
    capsys: pytest.CaptureFixture[str], path: str
) -> None:
    _, out, _ = audit(capsys, "--report-file", path, "--format", "table")
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Upcoming (1)"))
    assert at > next(i for i, line in enumerate(lines) if " finding(s): " in line)
    assert lines[at + 1].split() == ["DUE", "SEVERITY", "ACCOUNT", "USER", "CHECK", "KEY"]
    assert lines[at + 2].split() == [days(11), "HIGH", ACCOUNT, "ci", "access_key_not_rotated", "1"]


def test_filters_apply_to_upcoming_findings(capsys: pytest.CaptureFixture[str], path: str) -> None:
    _, out, _ = audit(
        capsys, "--report-file", path, "--format", "json", "--min-severity", "critical"
    )
    assert json.loads(out)["upcoming"] == []
    _, out, _ = audit(capsys, "--report-file", path, "--format", "json", "--check", "user_inactive")
    assert json.loads(out)["upcoming"] == []


def test_the_demo_shows_an_upcoming_finding(capsys: pytest.CaptureFixture[str]) -> None:
    # The demo's dates follow the real clock: the due date is 6 days after today.
    before = datetime.now(timezone.utc).date()
    assert main(["audit", "--demo", "--format", "json"]) == 0
    after = datetime.now(timezone.utc).date()
    doc = json.loads(capsys.readouterr().out)
    [due] = [u["due"] for u in doc["upcoming"] if u["user"] == "sec-scanner"]
    assert due in {(d + timedelta(days=6)).isoformat() for d in (before, after)}
    # Not a finding yet.
    assert not [f for f in doc["findings"] if f["user"] == "sec-scanner"]
