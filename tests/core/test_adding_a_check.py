"""A new check of any scope is one function and one catalogue entry, nothing else.

The fixture adds a temporary check of every scope to ``CHECKS`` (as a new entry in
``CATALOGUE`` would) and changes nothing else: the configuration accepts and
validates its settings, exemptions may name it, and evaluation runs it on the
subjects of its scope and attributes its findings as for the built-in checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from exporter.config import Config, ConfigError, config_from_dict
from exporter.core.checks import (
    CHECKS,
    SCOPES,
    CheckSpec,
    Hit,
    Thresholds,
    findings_of_scope,
    ids_of_scope,
)
from exporter.core.evaluate import evaluate, evaluate_details
from exporter.core.findings import Finding, role_name
from exporter.core.records import ROOT_USER, AccountFacts, RoleRecord
from exporter.core.report import parse_report
from tests.support.reports import ACCOUNT, AS_OF, report, root_row, user_row

# What each temporary check was called with: its subjects and thresholds.
Seen = dict[str, tuple[list[Any], Thresholds]]


def new_id(scope: str) -> str:
    return f"new_{scope}_check"


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    calls: Seen = {}

    def spec_of(scope: str) -> CheckSpec[Any]:
        cid = new_id(scope)

        def check(subjects: Sequence[Any], t: Thresholds, now: datetime) -> list[Hit[Any]]:
            calls[cid] = (list(subjects), t)
            return [(s, None, f"{cid} #{i}", {"index": i}) for i, s in enumerate(subjects)]

        check.__name__ = cid
        return CheckSpec(
            cid, "low", f"New {scope} check", "-", "Shows a check needs no registration.",
            scope, {"max_days": 30}, fn=check,
        )  # fmt: skip

    for scope in SCOPES:
        monkeypatch.setitem(CHECKS, new_id(scope), spec_of(scope))
    return calls


ROWS = report(root_row(), user_row("alice"), user_row("bob"))
ROLES = (
    RoleRecord("app", f"arn:aws:iam::{ACCOUNT}:role/app", "/", AS_OF - timedelta(days=9)),
    RoleRecord(
        "AWSServiceRoleForSupport",
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/x",
        "/aws-service-role/support.amazonaws.com/",
        AS_OF - timedelta(days=900),
    ),
)
FACTS = AccountFacts(ACCOUNT, root_mfa_enabled=True, root_virtual_mfa=False, partition="aws-cn")


def by_check(findings: Sequence[Finding], scope: str) -> list[Finding]:
    return [f for f in findings if f.check == new_id(scope)]


def test_the_configuration_knows_the_new_checks(seen: Seen) -> None:
    defaults = Config()
    for scope in SCOPES:
        cfg = defaults.checks[new_id(scope)]
        assert cfg.enabled and cfg.severity == "low"
        assert cfg.human == cfg.programmatic == {"max_days": 30}
    config = config_from_dict(
        {
            "checks": {
                new_id("user"): {"max_days": 3, "severity": "high"},
                new_id("role"): {"programmatic": {"max_days": 9}},
                new_id("account"): {"enabled": False},
            },
            "exemptions": [{"user": "alice", "reason": "r", "checks": [new_id("any")]}],
        }
    )
    user = config.checks[new_id("user")]
    assert user.severity == "high" and user.human == user.programmatic == {"max_days": 3}
    role = config.checks[new_id("role")]
    assert (role.human, role.programmatic) == ({"max_days": 30}, {"max_days": 9})
    assert not config.checks[new_id("account")].enabled
    assert config.exemptions[0].checks == {new_id("any")}
    with pytest.raises(ConfigError, match=f"checks.{new_id('role')}.max_idle_days"):
        config_from_dict({"checks": {new_id("role"): {"max_idle_days": 1}}})


def test_the_scope_helpers_list_the_new_checks(seen: Seen) -> None:
    assert ids_of_scope("role") == ("role_unused", "role_unused_services", new_id("role"))
    assert ids_of_scope("account") == ("root_hardware_mfa_missing", new_id("account"))
    assert ids_of_scope("user")[-1] == new_id("user")
    found = evaluate_details(ACCOUNT, ROLES, FACTS, Config(), AS_OF).findings
    assert {f.check for f in findings_of_scope(found, "role")} == {new_id("role")}


def test_report_scopes_run_on_their_rows(seen: Seen) -> None:
    config = config_from_dict({"checks": {new_id("user"): {"programmatic": {"max_days": 5}}}})
    findings = evaluate(parse_report(ROWS), config, AS_OF).findings
    users = {"root": [ROOT_USER], "user": ["alice", "bob"], "any": [ROOT_USER, "alice", "bob"]}
    for scope, expected in users.items():
        assert [r.user for r in seen[new_id(scope)][0]] == expected
        got = by_check(findings, scope)
        assert [(f.account_id, f.user, f.severity, f.key) for f in got] == [
            (ACCOUNT, u, "low", None) for u in expected
        ]
        assert got[0].arn == seen[new_id(scope)][0][0].arn
    assert seen[new_id("user")][1] == Thresholds({"max_days": 30}, {"max_days": 5})
    # The report evaluation does not run the checks of the other scopes.
    assert new_id("role") not in seen and new_id("account") not in seen


def test_role_and_account_scopes_run_on_the_details(seen: Seen) -> None:
    config = config_from_dict(
        {"exemptions": [{"arn": "arn:aws-cn:*:root", "reason": "r", "checks": [new_id("account")]}]}
    )
    ev = evaluate_details(ACCOUNT, ROLES, FACTS, config, AS_OF)
    # Service-linked roles are left out by policy.roles, for every role check.
    assert seen[new_id("role")][0] == [ROLES[0]]
    [role] = by_check(ev.findings, "role")
    assert (role.user, role.arn, role_name(role)) == ("", ROLES[0].arn, "app")
    assert role.facts == {"role": "app", "index": 0}
    assert seen[new_id("account")][0] == [FACTS]
    [account] = by_check(ev.exempted, "account")
    assert (account.user, account.arn) == (ROOT_USER, f"arn:aws-cn:iam::{ACCOUNT}:root")
    assert not by_check(ev.findings, "account")
    # The details evaluation does not run the report checks.
    assert not {new_id(s) for s in ("root", "user", "any")} & set(seen)


def test_details_not_fetched_are_not_evaluated(seen: Seen) -> None:
    assert evaluate_details(ACCOUNT, None, None, Config(), AS_OF).findings == ()
    assert seen == {}
    config = config_from_dict({"checks": {new_id("role"): {"enabled": False}}})
    evaluate_details(ACCOUNT, ROLES, None, config, AS_OF)
    assert seen == {}
