"""The README says which reader-policy actions can be dropped, and with which config keys:
those keys really stop those IAM calls (botocore sees every call made, against moto)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from exporter.config.accounts import AccountSpec, parse_accounts
from exporter.sources.aws.account_source import AwsAccountSource
from tests.artefacts.deploy.paths import REPO

ACCOUNT = "123456789012"  # moto's default account
ROLES = "GetAccountAuthorizationDetails"
FACTS = "GetAccountSummary"  # + ListVirtualMFADevices when root has MFA (not in moto)


def test_readme_names_the_switches_and_the_actions_they_drop() -> None:
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "`roles: {enabled: false}` stops `iam:GetAccountAuthorizationDetails`" in text
    assert (
        "`account_checks: false` stops `iam:GetAccountSummary` and `iam:ListVirtualMFADevices`"
        in text
    )


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ({}, {ROLES, FACTS}),
        ({"roles": {"enabled": False}}, {FACTS}),
        ({"account_checks": False}, {ROLES}),
        ({"roles": {"enabled": False}, "account_checks": False}, set()),
    ],
)
def test_switches_stop_the_role_and_account_calls(
    moto_endpoint: str, accounts: dict[str, Any], expected: set[str]
) -> None:
    cfg = parse_accounts({"ambient": True, **accounts})
    base = botocore.session.Session()
    calls: list[str] = []
    base.register("before-call.iam", lambda model, **_: calls.append(model.name))
    spec = AccountSpec(ACCOUNT, "moto", ACCOUNT)
    source = AwsAccountSource(spec, base, roles=cfg.roles, account_checks=cfg.account_checks)
    details = source.fetch_details()
    assert details.errors == ()
    assert set(calls) == expected
    assert (details.roles is None) == (ROLES not in expected)
    assert (details.facts is None) == (FACTS not in expected)
