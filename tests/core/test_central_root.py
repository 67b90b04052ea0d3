"""A root that AWS Organizations manages centrally: when the root MFA checks do not apply."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from exporter.config import Config
from exporter.core.central_root import (
    CENTRALLY_MANAGED,
    WITHHELD,
    apply_central_root,
    withhold,
)
from exporter.core.evaluate import evaluate, evaluate_details, merge
from exporter.core.exemptions import Exemption
from exporter.core.policy import default_checks
from exporter.core.records import AccountFacts, CredentialReport
from exporter.core.report import parse_report
from tests.support import reports
from tests.support.sample_reports import ACCOUNT, NOW, report_csv, root_row, user_row

NO_CREDENTIALS = {
    "AccountMFAEnabled": 0,
    "AccountPasswordPresent": 0,
    "AccountAccessKeysPresent": 0,
    "AccountSigningCertificatesPresent": 0,
}


def facts(org: bool | None = True, **summary: int) -> AccountFacts:
    counts = {**NO_CREDENTIALS, **summary}
    mfa = counts["AccountMFAEnabled"] > 0
    return AccountFacts(ACCOUNT, mfa, mfa, counts, org_root_management=org)


def report(**root: str) -> CredentialReport:
    row = {**root_row(mfa=False), "password_last_used": "N/A", **root}
    return parse_report(report_csv(row, user_row("alice", password_used=3, mfa=True)))


def audited(account: AccountFacts, rep: CredentialReport, config: Config | None = None) -> Any:
    config = config or Config()
    merged = merge(evaluate(rep, config, NOW), evaluate_details(ACCOUNT, (), account, config, NOW))
    return apply_central_root(merged, account, rep, config.enabled_checks)


def test_a_member_root_without_any_credential_is_centrally_managed() -> None:
    evaluation, managed = audited(facts(), report())
    assert managed is True
    assert not [f for f in evaluation.findings if f.check in WITHHELD]
    assert {c: evaluation.not_evaluated[c] for c in WITHHELD} == dict.fromkeys(
        WITHHELD, CENTRALLY_MANAGED
    )


def test_without_central_management_the_same_root_is_a_critical_finding() -> None:
    evaluation, managed = audited(facts(org=False), report())
    assert managed is False
    assert [f.severity for f in evaluation.findings if f.check == "root_mfa_disabled"] == [
        "critical"
    ]
    assert "root_mfa_disabled" not in evaluation.not_evaluated


@pytest.mark.parametrize(
    "summary",
    [
        {"AccountPasswordPresent": 1},
        {"AccountAccessKeysPresent": 1},
        {"AccountSigningCertificatesPresent": 1},
    ],
    ids=["password", "access_key", "certificate"],
)
def test_a_root_that_still_holds_a_credential_keeps_its_findings(summary: dict[str, int]) -> None:
    evaluation, managed = audited(facts(**summary), report())
    assert managed is False
    assert "root_mfa_disabled" in {f.check for f in evaluation.findings}


@pytest.mark.parametrize(
    "root",
    [
        reports.key(1, active="true", rotated="2026-01-01T00:00:00+00:00"),
        {"cert_1_active": "true", "cert_1_last_rotated": "2026-01-01T00:00:00+00:00"},
        {"password_enabled": "true"},
    ],
    ids=["active_key", "active_certificate", "password"],
)
def test_a_credential_in_the_report_row_keeps_the_findings(root: dict[str, str]) -> None:
    """The summary says 0, the report disagrees: the credential wins."""
    evaluation, managed = audited(facts(), report(**root))
    assert managed is False
    assert "root_mfa_disabled" in {f.check for f in evaluation.findings}


def test_a_summary_without_the_root_counts_is_unknown() -> None:
    account = AccountFacts(
        ACCOUNT, False, False, {"AccountMFAEnabled": 0}, org_root_management=True
    )
    evaluation, managed = audited(account, report())
    assert managed is None
    assert "root_mfa_disabled" in {f.check for f in evaluation.findings}


@pytest.mark.parametrize("account", [None, facts(org=None)], ids=["no_facts", "org_unknown"])
def test_unknown_organisation_or_facts_change_nothing(account: AccountFacts | None) -> None:
    rep = report()
    before = evaluate(rep, Config(), NOW)
    after, managed = apply_central_root(before, account, rep, Config().enabled_checks)
    assert managed is None and after == before


def test_a_virtual_mfa_on_a_managed_root_is_withheld_too() -> None:
    """MFA left on a root whose password was removed: nothing left for it to protect."""
    account, rep = facts(AccountMFAEnabled=1), report(mfa_active="true")
    unmanaged, _ = audited(account._replace(org_root_management=False), rep)
    assert [f.check for f in unmanaged.findings if f.check in WITHHELD] == [
        "root_hardware_mfa_missing"
    ]
    evaluation, managed = audited(account, rep)
    assert managed is True and not [f for f in evaluation.findings if f.check in WITHHELD]


def test_only_enabled_checks_are_listed_as_not_evaluated() -> None:
    checks = default_checks()
    checks["root_hardware_mfa_missing"] = replace(
        checks["root_hardware_mfa_missing"], enabled=False
    )
    evaluation, _ = audited(facts(), report(), Config(checks=checks))
    assert "root_mfa_disabled" in evaluation.not_evaluated
    assert "root_hardware_mfa_missing" not in evaluation.not_evaluated


def test_withhold_drops_exempted_findings_and_keeps_the_others() -> None:
    exempt = Exemption("<root_account>", False, frozenset({"root_mfa_disabled"}), "known")
    config = Config(exemptions=(exempt,))
    ev = evaluate(report(), config, NOW)
    assert [f.check for f in ev.exempted] == ["root_mfa_disabled"]
    kept = withhold(ev, {"root_mfa_disabled": CENTRALLY_MANAGED})
    assert kept.exempted == () and kept.findings == ev.findings
    assert kept.not_evaluated == {"root_mfa_disabled": CENTRALLY_MANAGED}
    assert withhold(ev, {}) is ev
