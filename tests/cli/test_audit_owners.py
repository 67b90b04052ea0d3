"""audit with --labels.owner-tag: an owner per finding in json, csv and the table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from exporter.cli.audit_accounts import audit_one
from exporter.cli.main import main
from exporter.cli.output import render_audit
from exporter.config import config_from_dict
from tests.daemon.test_owner_labels import TaggedSource
from tests.support.reports import AS_OF, AS_OF_TEXT, report, root_row, saved, user_row


def audited(owner_tags: list[str]) -> tuple[str, str, str]:
    config = config_from_dict({"flags": {"labels.owner-tag": owner_tags}} if owner_tags else {})
    audit, _ = audit_one("tagged", TaggedSource(), config, AS_OF)
    outs = (render_audit(fmt, AS_OF, [audit], order=["tagged"]) for fmt in ("json", "csv", "table"))
    js, cs, table = outs
    return js, cs, table


def test_json_has_each_findings_owner_first_tag_winning() -> None:
    doc = json.loads(audited(["team", "owner"])[0])
    owners = {(f["user"], role_name_of(f)): f["owner"] for f in doc["findings"]}
    assert owners[("alice", "")] == "payments"  # team before owner
    assert owners[("bob", "")] == "bob@example.com"
    assert owners[("carol", "")] == ""
    assert owners[("", "forgotten")] == "platform"  # the role's own tag
    assert owners[("", "orphan")] == ""


def role_name_of(finding: dict[str, object]) -> str:
    facts = finding["facts"]
    assert isinstance(facts, dict)
    return str(facts.get("role", ""))


def test_csv_has_an_owner_column_last() -> None:
    rows = list(csv.DictReader(io.StringIO(audited(["team"])[1])))
    assert list(rows[0])[-1] == "owner"
    alice = [r for r in rows if r["kind"] == "finding" and r["user"] == "alice"]
    assert alice and all(r["owner"] == "payments" for r in alice)
    assert all(r["owner"] == "" for r in rows if r["kind"] == "account")


def test_table_has_an_owner_column() -> None:
    table = audited(["team"])[2]
    header = next(line for line in table.splitlines() if line.startswith("SEVERITY"))
    assert header.split()[:5] == ["SEVERITY", "ACCOUNT", "USER", "OWNER", "CHECK"]
    assert any(" alice " in line and " payments " in line for line in table.splitlines())


def test_without_an_owner_tag_nothing_changes() -> None:
    js, cs, table = audited([])
    assert all("owner" not in f for f in json.loads(js)["findings"])
    assert "owner" not in cs.splitlines()[0]
    assert "OWNER" not in table


def test_a_report_file_has_no_tags_so_every_owner_is_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = saved(tmp_path / "r.csv", report(root_row(), user_row("dave", password_enabled="true")))
    code = main(["audit", "--report-file", str(path), "--as-of", AS_OF_TEXT, "--format", "json",
                 "--labels.owner-tag", "team"])  # fmt: skip
    assert code == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert findings and all(f["owner"] == "" for f in findings)


def test_the_config_files_owner_tag_applies_to_audit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = saved(tmp_path / "r.csv", report(root_row(), user_row("dave", password_enabled="true")))
    cfg = tmp_path / "c.yml"
    cfg.write_text("flags:\n  labels.owner-tag: [team]\n", encoding="utf-8")
    code = main(["audit", "--report-file", str(path), "--as-of", AS_OF_TEXT, "--format", "json",
                 "--config", str(cfg)])  # fmt: skip
    assert code == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert findings and all(f["owner"] == "" for f in findings)


def screen_of(owner_tags: list[str], width: int = 120) -> list[str]:
    from exporter.cli.audit_screen import render_screen
    from exporter.cli.terminal import Terminal

    config = config_from_dict({"flags": {"labels.owner-tag": owner_tags}} if owner_tags else {})
    audit, _ = audit_one("tagged", TaggedSource(), config, AS_OF)
    return render_screen(Terminal(width, False), AS_OF, [audit], order=["tagged"]).splitlines()


def test_the_terminal_table_has_an_owner_column_after_the_user() -> None:
    lines = screen_of(["team", "owner"])
    header = next(line for line in lines if line.strip().startswith("USER"))
    assert header.split()[:3] == ["USER", "OWNER", "KEY"]
    owner_at = header.index("OWNER")
    rows = {line.split()[0]: line for line in lines if line.startswith("  ") and line.strip()}
    assert rows["alice"][owner_at:].split()[0] == "payments"  # team before owner
    assert rows["bob"][owner_at:].split()[0] == "bob@example.com"
    assert rows["role/forgotten"][owner_at:].split()[0] == "platform"
    # No tag: an empty cell, so the next column (KEY or MESSAGE) starts where it always does.
    assert rows["carol"][owner_at : owner_at + len("OWNER")].strip() == ""


def test_the_terminal_table_has_no_owner_column_without_an_owner_tag() -> None:
    assert not any("OWNER" in line for line in screen_of([]))
