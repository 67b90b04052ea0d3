"""role_unused and root_hardware_mfa_missing: pure evaluation from realistic records.

RoleLastUsed values here mirror what GetAccountAuthorizationDetails returns on AWS:
a LastUsedDate with a Region, or an empty object for a role never used in the
tracking window. The moto tests run the real paginated call.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from exporter.config import config_from_dict
from exporter.core.evaluate import evaluate_details
from exporter.core.findings import role_name
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
    ev = evaluate_details(ACCOUNT, ROLES, None, config_from_dict({}), NOW)
    found = checks_of(ev.findings)
    assert found == {
        "old-ci": "Role old-ci unused for 91 days",
        "never-used-old": "Role never-used-old never used; created 120 days ago",
    }
    f = next(f for f in ev.findings if role_name(f) == "old-ci")
    assert (f.account_id, f.user, f.check, f.severity) == (ACCOUNT, "", "role_unused", "medium")
    assert f.arn == f"arn:aws:iam::{ACCOUNT}:role/old-ci" and f.facts["days_idle"] == 91
    assert f.facts == {"role": "old-ci", "days_idle": 91} and f.key is None


def test_roles_read_the_programmatic_threshold() -> None:
    human = config_from_dict({"checks": {"role_unused": {"human": {"max_idle_days": 5}}}})
    assert set(checks_of(evaluate_details(ACCOUNT, ROLES, None, human, NOW).findings)) == {
        "old-ci", "never-used-old"
    }  # fmt: skip
    machine = config_from_dict({"checks": {"role_unused": {"programmatic": {"max_idle_days": 5}}}})
    found = evaluate_details(ACCOUNT, ROLES, None, machine, NOW).findings
    assert "boundary" in checks_of(found)


def test_service_linked_roles_can_be_included() -> None:
    config = replace(config_from_dict({}), roles=RoleAudit(True, ()))
    ev = evaluate_details(ACCOUNT, ROLES, None, config, NOW)
    assert "AWSServiceRoleForSupport" in checks_of(ev.findings)


def test_excluded_paths_come_from_the_config() -> None:
    paths = ["/aws-service-role/", "/ci/"]
    config = config_from_dict({"accounts": {"roles": {"exclude_paths": paths}}})
    ci = role("ci-runner", 400, 200, "/ci/")
    ev = evaluate_details(ACCOUNT, (*ROLES, ci), None, config, NOW)
    assert set(checks_of(ev.findings)) == {"old-ci", "never-used-old"}
    config = config_from_dict({"accounts": {"roles": {"exclude_paths": []}}})
    ev = evaluate_details(ACCOUNT, (*ROLES, ci), None, config, NOW)
    assert {"AWSServiceRoleForSupport", "ci-runner"} <= set(checks_of(ev.findings))


def test_threshold_and_severity_from_config() -> None:
    config = config_from_dict({"checks": {"role_unused": {"max_idle_days": 5, "severity": "low"}}})
    ev = evaluate_details(ACCOUNT, ROLES, None, config, NOW)
    assert set(checks_of(ev.findings)) == {"old-ci", "boundary", "never-used-old", "never-used-new"}
    assert {f.severity for f in ev.findings} == {"low"}


def test_disabled_check_and_exemption_by_arn() -> None:
    config = config_from_dict({"checks": {"role_unused": {"enabled": False}}})
    assert evaluate_details(ACCOUNT, ROLES, None, config, NOW).findings == ()
    config = config_from_dict(
        {"exemptions": [{"arn": "arn:aws:iam::*:role/old-*", "reason": "kept for DR drills"}]}
    )
    ev = evaluate_details(ACCOUNT, ROLES, None, config, NOW)
    assert set(checks_of(ev.findings)) == {"never-used-old"}
    assert [role_name(f) for f in ev.exempted] == ["old-ci"]


@pytest.mark.parametrize(
    ("enabled", "virtual", "found"),
    [(True, True, True), (True, False, False), (False, False, False)],
)
def test_root_hardware_mfa(enabled: bool, virtual: bool, found: bool) -> None:
    facts = AccountFacts(ACCOUNT, enabled, virtual, {"AccountMFAEnabled": int(enabled)}, "aws-cn")
    ev = evaluate_details(ACCOUNT, None, facts, config_from_dict({}), NOW)
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
    ev = evaluate_details(ACCOUNT, None, None, config_from_dict({}), NOW)
    assert ev.findings == () and ev.exempted == ()


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_details(ACCOUNT, ROLES, None, config_from_dict({}), NOW.replace(tzinfo=None))
