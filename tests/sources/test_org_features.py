"""Whether Organizations manages the members' root: iam:ListOrganizationsFeatures.

moto has no such API, so the IAM answers come from botocore's Stubber on a real client;
the discovery itself (ListAccounts) is moto's in the end-to-end test."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from exporter.config.accounts import AccountSpec, parse_accounts
from exporter.sources.aws.account_source import AwsAccountSource
from exporter.sources.aws.directory import AccountDirectory
from exporter.sources.aws.org_features import (
    OrgRootManagement,
    management_account,
    root_credentials_management,
)
from tests.support.org import Org

MANAGEMENT = "111111111111"
MEMBER = "222222222222"
OTHER = "333333333333"


def client(service: str) -> Any:
    return botocore.session.Session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def features(*answers: dict[str, Any] | str) -> tuple[Any, Stubber]:
    """An IAM client answering ListOrganizationsFeatures with each answer in turn (a
    string is an error code)."""
    iam = client("iam")
    stubber = Stubber(iam)
    for answer in answers:
        if isinstance(answer, str):
            stubber.add_client_error("list_organizations_features", answer, "no", 400)
        else:
            stubber.add_response("list_organizations_features", answer, {})
    stubber.activate()
    return iam, stubber


def enabled(*names: str) -> dict[str, Any]:
    return {"OrganizationId": "o-exampleorgid", "EnabledFeatures": list(names)}


def arn(account: str) -> str:
    return f"arn:aws:organizations::{MANAGEMENT}:account/o-exampleorgid/{account}"


def listed(*accounts: str) -> dict[str, Any]:
    return {
        "Accounts": [
            {"Id": a, "Arn": arn(a), "Name": f"n{a[0]}", "Email": f"{a}@example.com",
             "Status": "ACTIVE"}
            for a in accounts
        ]
    }  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (enabled("RootCredentialsManagement", "RootSessions"), True),
        (enabled("RootSessions"), False),
        (enabled(), False),
        ("ServiceAccessNotEnabledException", False),
        ("OrganizationNotInAllFeaturesModeException", False),
    ],
    ids=["enabled", "sessions_only", "none", "no_trusted_access", "not_all_features"],
)
def test_the_feature_is_read_from_the_enabled_features(answer: Any, expected: bool) -> None:
    iam, stubber = features(answer)
    assert root_credentials_management(iam) is expected
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code", ["AccountNotManagementOrDelegatedAdministratorException", "AccessDenied"]
)
def test_an_unanswered_question_is_raised_not_taken_for_off(code: str) -> None:
    iam, _ = features(code)
    with pytest.raises(Exception, match=code):
        root_credentials_management(iam)


def test_the_management_account_is_the_one_in_the_account_arns() -> None:
    assert management_account(listed(MEMBER, MANAGEMENT)["Accounts"]) == MANAGEMENT
    assert management_account([{"Id": MEMBER, "Arn": "not-an-arn"}]) is None
    mixed = [*listed(MEMBER)["Accounts"], {"Id": OTHER, "Arn": arn(OTHER).replace("1", "4")}]
    assert management_account(mixed) is None


def test_status_per_account() -> None:
    on = OrgRootManagement(True, MANAGEMENT, frozenset({MANAGEMENT, MEMBER}))
    assert on.status(MEMBER) is True
    assert on.status(MANAGEMENT) is False  # its root is never managed this way
    assert on.status(OTHER) is None  # not a member we listed
    assert OrgRootManagement(False, MANAGEMENT, on.members).status(MEMBER) is False
    assert OrgRootManagement(True, None, on.members).status(MEMBER) is None


def org_client(*pages: dict[str, Any]) -> Any:
    org = client("organizations")
    stubber = Stubber(org)
    for page in pages:
        stubber.add_response("list_accounts", page, {})
    stubber.activate()
    return org


def directory(org: Any, iam: Any, central_root: bool = True) -> AccountDirectory:
    cfg = parse_accounts({"organizations": {"region": "us-east-1"}})
    return AccountDirectory(cfg, org_client=org, org_iam_client=iam, central_root=central_root)


def test_discovery_reads_the_feature_and_keeps_the_last_good_answer() -> None:
    page = listed(MANAGEMENT, MEMBER)
    iam, stubber = features(enabled("RootCredentialsManagement"), "AccessDenied")
    found = directory(org_client(page, page), iam)
    assert found.refresh().discovery_error is None
    assert (found.root_status(MEMBER), found.root_status(MANAGEMENT)) == (True, False)
    # The next read is denied: discovery still succeeds, the last answer stays.
    assert found.refresh().discovery_error is None
    assert found.root_status(MEMBER) is True
    stubber.assert_no_pending_responses()


def test_a_first_failed_read_leaves_root_unknown() -> None:
    iam, _ = features("AccountNotManagementOrDelegatedAdministratorException")
    found = directory(org_client(listed(MANAGEMENT, MEMBER)), iam)
    found.refresh()
    assert found.root_status(MEMBER) is None


def test_the_switch_off_makes_no_call() -> None:
    iam, stubber = features()  # any call would fail: nothing is stubbed
    found = directory(org_client(listed(MANAGEMENT, MEMBER)), iam, central_root=False)
    assert found.refresh().discovery_error is None
    assert found.root_status(MEMBER) is None
    stubber.assert_no_pending_responses()


def stubbed_summary(source: AwsAccountSource, summary: dict[str, int]) -> Stubber:
    iam = client("iam")
    stubber = Stubber(iam)
    stubber.add_response("get_account_summary", {"SummaryMap": summary}, {})
    stubber.activate()
    # The client the source would have made (after assuming its role), answering from the stub.
    source._client = lambda: iam  # type: ignore[method-assign]
    return stubber


def test_the_member_facts_carry_the_organisation_status() -> None:
    page = listed(MANAGEMENT, MEMBER)
    iam, _ = features(enabled("RootCredentialsManagement"))
    found = directory(org_client(page), iam)
    specs = {s.account_id: s for s in found.refresh().owned}
    source = found.source(specs[MEMBER])
    summary = {"AccountMFAEnabled": 0, "AccountPasswordPresent": 0,
               "AccountAccessKeysPresent": 0, "AccountSigningCertificatesPresent": 0}  # fmt: skip
    stubbed_summary(source, summary)
    facts = source.fetch_facts()
    assert facts.account_id == MEMBER and facts.org_root_management is True
    assert facts.summary["AccountPasswordPresent"] == 0


@pytest.mark.slow
def test_end_to_end_with_moto_discovery(org: Org) -> None:
    """ListAccounts and each member's GetAccountSummary from moto, the feature stubbed."""
    iam, _ = features(enabled("RootCredentialsManagement"))
    cfg = parse_accounts({"organizations": {"region": "us-east-1"}})
    found = AccountDirectory(cfg, org_client=boto3.client("organizations"), org_iam_client=iam)
    owned = {s.account_id: s for s in found.refresh().owned}
    assert set(owned) == {org.management_id, *org.members.values()}
    member = found.source(owned[org.members["dev"]]).fetch_details()
    assert member.errors == () and member.facts is not None
    assert member.facts.org_root_management is True
    management = found.source(owned[org.management_id]).fetch_details().facts
    assert management is not None and management.org_root_management is False


def test_a_source_without_the_directory_leaves_it_unknown() -> None:
    source = AwsAccountSource(AccountSpec(MEMBER, "m", MEMBER), botocore.session.Session())
    stubbed_summary(source, {"AccountMFAEnabled": 0})
    assert source.fetch_facts().org_root_management is None
