"""role_unused and root_hardware_mfa_missing: pure evaluation from realistic records.

RoleLastUsed values here mirror what GetAccountAuthorizationDetails returns on AWS:
a LastUsedDate with a Region, or an empty object for a role never used in the
tracking window. The moto tests run the real paginated call.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from exporter.config import config_from_dict
from exporter.core.account_checks import evaluate_account, role_name
from exporter.core.policy import RoleAudit
from exporter.core.records import AccountFacts, RoleRecord

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "111111111111"


def role(name: str, created_days: int, used_days: int | None, path: str = "/") -> RoleRecord:
    return RoleRecord(
        name=name,
        arn=f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
        path=path,
        created=NOW - timedelta(days=created_days),
        last_used=None if used_days is None else NOW - timedelta(days=used_days),
        last_used_region=None if used_days is None else "eu-west-1",
    )


ROLES = (
    role("deploy", 400, 3),  # used recently
    role("old-ci", 400, 91),  # idle past 90 days
    role("boundary", 400, 90),  # exactly 90: not past the threshold
    role("never-used-old", 120, None),
    role("never-used-new", 10, None),
    role("AWSServiceRoleForSupport", 900, None, "/aws-service-role/support.amazonaws.com/"),
)


def checks_of(findings: tuple[object, ...]) -> dict[str, str]:
    return {role_name(f): f.message for f in findings}  # type: ignore[attr-defined]


def test_role_unused_defaults() -> None:
    ev = evaluate_account(ACCOUNT, ROLES, None, config_from_dict({}), RoleAudit(), NOW)
    found = checks_of(ev.findings)
    assert found == {
        "old-ci": "Role old-ci unused for 91 days",
        "never-used-old": "Role never-used-old never used; created 120 days ago",
    }
    f = next(f for f in ev.findings if role_name(f) == "old-ci")
    assert (f.account_id, f.user, f.check, f.severity) == (ACCOUNT, "", "role_unused", "medium")
    assert f.arn == f"arn:aws:iam::{ACCOUNT}:role/old-ci" and f.facts["days_idle"] == 91


def test_service_linked_roles_can_be_included() -> None:
    ev = evaluate_account(ACCOUNT, ROLES, None, config_from_dict({}), RoleAudit(True, ()), NOW)
    assert "AWSServiceRoleForSupport" in checks_of(ev.findings)


def test_threshold_and_severity_from_config() -> None:
    config = config_from_dict({"checks": {"role_unused": {"max_idle_days": 5, "severity": "low"}}})
    ev = evaluate_account(ACCOUNT, ROLES, None, config, RoleAudit(), NOW)
    assert set(checks_of(ev.findings)) == {"old-ci", "boundary", "never-used-old", "never-used-new"}
    assert {f.severity for f in ev.findings} == {"low"}


def test_disabled_check_and_exemption_by_arn() -> None:
    config = config_from_dict({"checks": {"role_unused": {"enabled": False}}})
    assert evaluate_account(ACCOUNT, ROLES, None, config, RoleAudit(), NOW).findings == ()
    config = config_from_dict(
        {"exemptions": [{"arn": "arn:aws:iam::*:role/old-*", "reason": "kept for DR drills"}]}
    )
    ev = evaluate_account(ACCOUNT, ROLES, None, config, RoleAudit(), NOW)
    assert set(checks_of(ev.findings)) == {"never-used-old"}
    assert [role_name(f) for f in ev.exempted] == ["old-ci"]


@pytest.mark.parametrize(
    ("enabled", "virtual", "found"),
    [(True, True, True), (True, False, False), (False, False, False)],
)
def test_root_hardware_mfa(enabled: bool, virtual: bool, found: bool) -> None:
    facts = AccountFacts(ACCOUNT, enabled, virtual, {"AccountMFAEnabled": int(enabled)}, "aws-cn")
    ev = evaluate_account(ACCOUNT, None, facts, config_from_dict({}), RoleAudit(), NOW)
    assert bool(ev.findings) is found
    if found:
        (f,) = ev.findings
        assert (f.user, f.arn, f.check) == (
            "<root_account>",
            f"arn:aws-cn:iam::{ACCOUNT}:root",
            "root_hardware_mfa_missing",
        )
        assert f.severity == "medium"


def test_nothing_fetched_nothing_found() -> None:
    ev = evaluate_account(ACCOUNT, None, None, config_from_dict({}), RoleAudit(), NOW)
    assert ev.findings == () and ev.exempted == ()


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_account(
            ACCOUNT, ROLES, None, config_from_dict({}), RoleAudit(), NOW.replace(tzinfo=None)
        )
