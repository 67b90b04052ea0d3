"""``audit`` of a member account whose root AWS Organizations manages centrally."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from exporter.cli.audit_accounts import audit_accounts
from exporter.cli.output import render_audit
from exporter.config import config_from_dict
from exporter.core.central_root import CENTRALLY_MANAGED
from exporter.sources.demo import DEMO_MEMBER, DEMO_PRODUCTION, DemoSource

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def audit(fmt: str, raw: dict[str, object] | None = None) -> str:
    sources = [(a.name, DemoSource(lambda: NOW, a)) for a in (DEMO_PRODUCTION, DEMO_MEMBER)]
    results, failed = audit_accounts(sources, config_from_dict(raw or {}), NOW, io.StringIO())
    assert failed == []
    return render_audit(fmt, NOW, results, failed)


def test_json_lists_the_root_checks_as_not_evaluated_with_the_reason() -> None:
    doc = json.loads(audit("json"))
    by_account = {a["account_id"]: a for a in doc["accounts"]}
    member = by_account[DEMO_MEMBER.account_id]
    root_checks = {c: why for c, why in member["not_evaluated"].items() if c.startswith("root_")}
    assert root_checks == {
        "root_mfa_disabled": CENTRALLY_MANAGED,
        "root_hardware_mfa_missing": CENTRALLY_MANAGED,
    }
    assert "root_mfa_disabled" not in by_account[DEMO_PRODUCTION.account_id]["not_evaluated"]
    root = {(f["account_id"], f["check"]) for f in doc["findings"] if f["user"] == "<root_account>"}
    assert (DEMO_MEMBER.account_id, "root_mfa_disabled") not in root
    assert (DEMO_PRODUCTION.account_id, "root_mfa_disabled") in root  # still a finding there


def test_table_and_csv_say_so() -> None:
    table = audit("table")
    assert (
        f"  {DEMO_MEMBER.name}: not evaluated, {CENTRALLY_MANAGED}: "
        "root_mfa_disabled, root_hardware_mfa_missing"
    ) in table
    rows = list(csv.DictReader(io.StringIO(audit("csv"))))
    (member,) = [
        r for r in rows if r["kind"] == "account" and r["account_id"] == DEMO_MEMBER.account_id
    ]
    assert json.loads(member["facts"])["not_evaluated"]["root_mfa_disabled"] == CENTRALLY_MANAGED


def test_the_switch_off_audits_the_root_as_ever() -> None:
    doc = json.loads(audit("json", {"flags": {"organizations.central-root": False}}))
    member = next(a for a in doc["accounts"] if a["account_id"] == DEMO_MEMBER.account_id)
    assert "root_mfa_disabled" not in member["not_evaluated"]
    assert any(
        f["check"] == "root_mfa_disabled" and f["account_id"] == DEMO_MEMBER.account_id
        for f in doc["findings"]
    )
