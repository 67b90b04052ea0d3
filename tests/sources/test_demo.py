"""The built-in demo accounts: real AWS format, realistic, consistent, and every check fires."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timedelta

import pytest

from exporter.config import Config
from exporter.core.analyse import Analysis, analyse
from exporter.core.central_root import root_centrally_managed
from exporter.core.checks import CATALOGUE
from exporter.core.evaluate import evaluate_details
from exporter.core.records import ROOT_USER
from exporter.core.report import COLUMNS, parse_report
from exporter.sources.demo import (
    DEMO_ACCOUNT_ID,
    DEMO_ACCOUNTS,
    DEMO_MEMBER,
    DEMO_PRODUCTION,
    DEMO_SANDBOX,
    DemoAccount,
    DemoSource,
    demo_details,
    demo_report_csv,
)
from tests.support.sample_reports import NOW


def report_findings(account: DemoAccount, when: datetime = NOW) -> tuple[Analysis, Counter[str]]:
    analysis = analyse(DemoSource(lambda: when, account).fetch(), Config(), when)
    return analysis, Counter(f.check for f in analysis.evaluation.findings)


def account_findings(account: DemoAccount, when: datetime = NOW) -> Counter[str]:
    details = demo_details(account, when)
    evaluation = evaluate_details(account.account_id, details.roles, details.facts, Config(), when)
    return Counter(f.check for f in evaluation.findings)


def all_findings(account: DemoAccount, when: datetime = NOW) -> Counter[str]:
    return report_findings(account, when)[1] + account_findings(account, when)


def test_three_accounts_with_distinct_ids_and_names() -> None:
    ids = [a.account_id for a in DEMO_ACCOUNTS]
    assert ids == ["123456789012", "210987654321", "345678901234"]
    assert [a.name for a in DEMO_ACCOUNTS] == ["demo-production", "demo-sandbox", "demo-member"]
    assert DEMO_PRODUCTION.account_id == DEMO_ACCOUNT_ID


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda c: c.id)
def test_every_check_finds_something_across_the_demo(spec) -> None:  # type: ignore[no-untyped-def]
    assert sum(all_findings(a)[spec.id] for a in DEMO_ACCOUNTS) >= 1


def test_root_mfa_findings_match_each_account_root() -> None:
    # Production: no MFA at all (critical), so not the "virtual device" finding too.
    prod = all_findings(DEMO_PRODUCTION)
    assert prod["root_mfa_disabled"] == 1 and prod["root_hardware_mfa_missing"] == 0
    assert prod["root_access_key_active"] == 1 and prod["root_used_recently"] == 1
    # Sandbox: root has a virtual MFA device, no keys, and was not used this week.
    sandbox = all_findings(DEMO_SANDBOX)
    assert sandbox["root_hardware_mfa_missing"] == 1 and sandbox["root_mfa_disabled"] == 0
    assert sandbox["root_access_key_active"] == 0 and sandbox["root_used_recently"] == 0


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.name)
def test_report_and_account_facts_agree(account: DemoAccount) -> None:
    analysis, _ = report_findings(account)
    root = next(r for r in analysis.report.records if r.user == ROOT_USER)
    details = demo_details(account, NOW)
    assert details.account_id == account.account_id and details.facts is not None
    facts = details.facts
    assert facts.account_id == account.account_id
    assert facts.root_mfa_enabled is root.mfa_active
    assert facts.summary["AccountMFAEnabled"] == int(root.mfa_active is True)
    assert not (facts.root_virtual_mfa and not facts.root_mfa_enabled)
    root_keys = any(k.active is True for k in root.access_keys)
    assert facts.summary["AccountAccessKeysPresent"] == int(root_keys)
    assert details.roles
    for role in details.roles:
        assert role.arn.startswith(f"arn:aws:iam::{account.account_id}:role/")


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.name)
def test_findings_do_not_depend_on_when_the_demo_runs(account: DemoAccount) -> None:
    assert all_findings(account) == all_findings(account, NOW + timedelta(days=400))


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.name)
def test_report_is_in_the_real_aws_format(account: DemoAccount) -> None:
    raw = demo_report_csv(NOW, account).decode()
    rows = list(csv.reader(io.StringIO(raw)))
    assert tuple(rows[0]) == COLUMNS
    aid = account.account_id
    assert rows[1][0] == "<root_account>" and rows[1][1] == f"arn:aws:iam::{aid}:root"
    # Dates are ISO 8601 with an offset, as AWS writes them.
    assert rows[2][2].endswith("+00:00")
    report = parse_report(raw.encode())
    assert report.account_id == aid and report.problems == ()


def test_production_population_is_realistic() -> None:
    analysis, counts = report_findings(DEMO_PRODUCTION)
    users = analysis.report.users
    assert 30 <= len(users) <= 50
    humans = [u for u in users if u.is_human]
    with_mfa = [u for u in humans if u.mfa_active is True]
    assert len(humans) >= 15 and len(with_mfa) > len(humans) / 2
    programmatic = [
        u for u in users if not u.is_human and any(k.active is True for k in u.access_keys)
    ]
    assert len(programmatic) >= 10
    # A minority of users carry findings; the account is neglected, not a wreck.
    flagged = {f.user for f in analysis.evaluation.findings}
    assert len(flagged) < len(users)
    assert counts["root_mfa_disabled"] == 1 and counts["root_used_recently"] >= 1


def test_sandbox_is_a_smaller_population() -> None:
    analysis, _ = report_findings(DEMO_SANDBOX)
    users = analysis.report.users
    assert 5 <= len(users) < len(report_findings(DEMO_PRODUCTION)[0].report.users) / 3
    flagged = {f.user for f in analysis.evaluation.findings}
    assert len(flagged) < len(users)


def test_generated_time_is_recent_and_in_the_past() -> None:
    for account in DEMO_ACCOUNTS:
        fetched = DemoSource(lambda: NOW, account).fetch()
        assert fetched.generated_time is not None
        assert NOW - timedelta(hours=4) < fetched.generated_time < NOW


def test_each_account_has_used_and_unused_roles() -> None:
    for account in DEMO_ACCOUNTS:
        assert account_findings(account)["role_unused"] >= 1
        used = [r for r in account.roles if r[3] is not None and r[3] <= 90]
        assert used, account.name


def test_the_member_account_root_is_centrally_managed_and_the_sandbox_not() -> None:
    """The member's root has no password, key nor MFA; the sandbox is in the same kind of
    organisation but its root still has a password, so its root checks stay."""
    managed = {}
    for account in DEMO_ACCOUNTS:
        analysis, _ = report_findings(account)
        details = demo_details(account, NOW)
        managed[account.name] = root_centrally_managed(details.facts, analysis.report)
    assert managed == {"demo-production": False, "demo-sandbox": False, "demo-member": True}
    assert report_findings(DEMO_MEMBER)[1]["root_mfa_disabled"] == 1  # before withholding
