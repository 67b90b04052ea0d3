"""Organizations discovery, assume-role into each account, per-account isolation (moto)."""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from exporter.config import config_from_dict
from exporter.config.accounts import AccountSpec, parse_accounts
from exporter.core.report import parse_report
from exporter.core.sharding import Shard
from exporter.sources.aws.account_source import AwsAccountSource
from exporter.sources.aws.assume_role import assume_role_session
from exporter.sources.aws.clients import ClientSettings
from exporter.sources.aws.directory import AccountDirectory, account_sources
from exporter.sources.aws.organizations import discover_accounts
from exporter.sources.base import SourceError
from tests.support.org import MEMBERS, Org

pytestmark = pytest.mark.slow


def org_config(**extra: object) -> dict[str, object]:
    return {"organizations": {"region": "us-east-1", **extra}}


def test_discovery_lists_active_members_with_role_arns(org: Org) -> None:
    cfg = parse_accounts(org_config())
    assert cfg.organizations is not None
    found = discover_accounts(boto3.client("organizations"), cfg.organizations)
    ids = {s.account_id: s for s in found}
    assert set(ids) == {org.management_id, *org.members.values()}
    assert org.suspended_id not in ids  # closed accounts are SUSPENDED in moto
    prod = ids[org.members["prod"]]
    assert prod.name == "prod"
    assert prod.role_arn == f"arn:aws:iam::{org.members['prod']}:role/iam-credential-exporter"


def test_include_and_exclude_by_ou_and_id(org: Org) -> None:
    client = boto3.client("organizations")
    cfg = parse_accounts(org_config(include={"ous": [org.ou_id]}))
    assert cfg.organizations is not None
    names = {s.name for s in discover_accounts(client, cfg.organizations)}
    assert names == {"staging", "prod"}
    cfg = parse_accounts(
        org_config(
            include={"ous": [org.root_id]},  # the root: every account, nested OUs included
            exclude={"ous": [org.ou_id], "accounts": [org.management_id]},
        )
    )
    assert cfg.organizations is not None
    names = {s.name for s in discover_accounts(client, cfg.organizations)}
    assert names == {"dev", "sandbox"}


def test_assume_role_into_each_account_reads_its_own_report(org: Org) -> None:
    directory = AccountDirectory(
        parse_accounts(org_config(exclude={"accounts": [org.management_id]}))
    )
    resolved = directory.refresh()
    assert [s.name for s in resolved.owned] == sorted(
        MEMBERS, key=lambda n: org.members[n]
    )  # sorted by account id
    for spec in resolved.owned:
        report = parse_report(directory.source(spec).fetch().content)
        users = sorted(r.user for r in report.users)
        expected = [f"{spec.name}-user-{n}" for n in range(MEMBERS.index(spec.name) + 1)]
        assert users == expected
        assert report.account_id == spec.account_id
    # The source is cached per account: credentials and clients live across refreshes.
    spec = resolved.owned[0]
    assert directory.source(spec) is directory.source(spec)


def denied_sts(account_id: str) -> object:
    """An STS client that answers AssumeRole with AccessDenied, as AWS does for a role
    that is missing or does not trust the caller. moto assumes any role ARN (its
    documented behaviour), so this one fault is injected with botocore's Stubber."""
    client = botocore.session.Session().create_client("sts", region_name="us-east-1")
    stubber = Stubber(client)
    message = (
        f"User: arn:aws:iam::123456789012:user/exporter is not authorized to perform: "
        f"sts:AssumeRole on resource: arn:aws:iam::{account_id}:role/iam-credential-exporter"
    )
    for _ in range(4):
        stubber.add_client_error("assume_role", "AccessDenied", message, 403)
    stubber.activate()
    return lambda *args, **kwargs: client


def test_a_missing_role_fails_only_its_account(org: Org) -> None:
    broken = org.members["staging"]
    directory = AccountDirectory(
        parse_accounts(org_config(exclude={"accounts": [org.management_id]})),
        sts_client_creator=lambda spec: denied_sts(broken) if spec.account_id == broken else None,
    )
    results: dict[str, object] = {}
    for spec in directory.refresh().owned:
        try:
            results[spec.name] = parse_report(directory.source(spec).fetch().content).account_id
        except SourceError as err:
            results[spec.name] = err
    err = results.pop("staging")
    assert isinstance(err, SourceError) and err.reason == "role_missing"
    assert f"arn:aws:iam::{broken}:role/iam-credential-exporter" in str(err)
    assert results == {n: org.members[n] for n in MEMBERS if n != "staging"}
    # The same account's roles and facts fail with the same reason, recorded per part.
    spec = next(s for s in directory.refresh().owned if s.account_id == broken)
    details = directory.source(spec).fetch_details()
    assert details.roles is None and details.facts is None
    assert {(part, reason) for part, reason, _ in details.errors} == {
        ("roles", "role_missing"),
        ("account", "role_missing"),
    }


def test_discovery_failure_keeps_the_last_good_list(org: Org) -> None:
    directory = AccountDirectory(parse_accounts(org_config()))
    first = directory.refresh()
    assert first.discovery_error is None and len(first.accounts) == len(MEMBERS) + 1
    # An Organizations endpoint that refuses connections: a real failure, not a stub.
    from tests.support.net import free_port

    dead = boto3.client(
        "organizations",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=ClientSettings(max_attempts=1, connect_timeout=1).boto_config(),
    )
    directory._org_client = dead
    second = directory.refresh()
    assert second.discovery_error is not None
    assert second.discovery_error.reason == "connection_error"
    assert second.accounts == first.accounts
    assert (directory.discovery_attempts, directory.discovery_failures) == (2, 1)


def test_shards_cover_every_discovered_account_once(org: Org) -> None:
    cfg = parse_accounts(org_config())
    owned: list[str] = []
    for index in range(3):
        resolved = AccountDirectory(cfg, Shard(index, 3)).refresh()
        owned.extend(s.key for s in resolved.owned)
        all_keys = [s.key for s in resolved.accounts]
    assert sorted(owned) == sorted(all_keys) and len(all_keys) == len(MEMBERS) + 1


def test_roles_used_and_unused_from_moto(org: Org) -> None:
    account = org.members["dev"]
    iam = org.session(account).client("iam")
    trust = '{"Version":"2012-10-17","Statement":[]}'
    iam.create_role(RoleName="ci-deploy", AssumeRolePolicyDocument=trust)
    iam.create_role(RoleName="forgotten", AssumeRolePolicyDocument=trust)
    iam.create_role(
        RoleName="AWSServiceRoleForSupport",
        Path="/aws-service-role/support.amazonaws.com/",
        AssumeRolePolicyDocument=trust,
    )
    # Using the role's credentials makes moto record RoleLastUsed, as AWS does.
    org.session(account, "ci-deploy").client("iam").list_users()
    spec = AccountSpec(account, "dev", account, f"arn:aws:iam::{account}:role/reader")
    source = AwsAccountSource(spec, botocore.session.Session())
    roles = {r.name: r for r in source.fetch_roles()}
    assert roles["ci-deploy"].last_used is not None
    assert roles["forgotten"].last_used is None
    assert roles["AWSServiceRoleForSupport"].path.startswith("/aws-service-role/")

    from datetime import timedelta

    from exporter.core.evaluate import evaluate_details
    from exporter.core.findings import role_name

    later = roles["forgotten"].created + timedelta(days=100)
    ev = evaluate_details(account, tuple(roles.values()), None, config_from_dict({}), later)
    messages = {role_name(f): f.message for f in ev.findings}
    idle = (later - roles["ci-deploy"].last_used).days  # 99: it was used after its creation
    assert messages["ci-deploy"] == f"Role ci-deploy unused for {idle} days"
    assert messages["forgotten"] == "Role forgotten never used; created 100 days ago"
    assert "AWSServiceRoleForSupport" not in messages


def test_account_facts_and_root_mfa_from_moto(org: Org) -> None:
    account = org.members["prod"]
    spec = AccountSpec(account, "prod", account, f"arn:aws:iam::{account}:role/reader")
    facts = AwsAccountSource(spec, botocore.session.Session()).fetch_facts()
    assert facts.account_id == account
    assert facts.summary["Users"] == 3  # the three users created in prod only
    assert facts.root_mfa_enabled is False and facts.root_virtual_mfa is False


def test_audit_sources_include_every_owned_account(org: Org) -> None:
    config = config_from_dict({"accounts": org_config(exclude={"accounts": [org.management_id]})})
    labels = [label for label, _ in account_sources(config)]
    assert labels == [f"{n} ({org.members[n]})" for n in sorted(MEMBERS, key=org.members.get)]


def test_assume_role_session_in_china_partition(moto_endpoint: str) -> None:
    arn = "arn:aws-cn:iam::111111111111:role/iam-credential-exporter"
    session = assume_role_session(
        arn, botocore.session.Session(), ClientSettings(region="cn-north-1"), "exporter-test"
    )
    identity = session.client("sts", region_name="cn-north-1").get_caller_identity()
    assert identity["Account"] == "111111111111"
    assert identity["Arn"].startswith("arn:aws-cn:sts::111111111111:assumed-role/")
