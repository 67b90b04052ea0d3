"""Users' and roles' tags from GetAccountAuthorizationDetails (moto server mode)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest

from exporter.config.accounts import AccountSpec
from exporter.core.policy import RoleAudit
from exporter.sources.aws.account_source import AwsAccountSource

pytestmark = pytest.mark.slow

TRUST = '{"Version":"2012-10-17","Statement":[]}'


@pytest.fixture(autouse=True)
def clean_after(moto_endpoint: str) -> Iterator[None]:
    """Leave moto's per-process backends empty for the modules after this one."""
    yield
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", b"")).close()


def populate(endpoint: str) -> None:
    # moto's backends are per process, not per server: start from a clean slate.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", b"")).close()
    iam = boto3.client("iam")
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "payments"}])
    iam.create_user(UserName="bob")
    iam.create_role(
        RoleName="deployer", AssumeRolePolicyDocument=TRUST,
        Tags=[{"Key": "owner", "Value": "platform"}],
    )  # fmt: skip


def source(user_tags: bool, roles: bool = True) -> tuple[AwsAccountSource, list[list[str]]]:
    """A source on moto, and the Filter of every GetAccountAuthorizationDetails it sends."""
    src = AwsAccountSource(
        AccountSpec("ambient", "ambient"), botocore.session.Session(),
        roles=RoleAudit(enabled=roles), account_checks=False, user_tags=user_tags,
    )  # fmt: skip
    filters: list[list[str]] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        filters.append(list(params.get("Filter", [])))

    src._client().meta.events.register(
        "provide-client-params.iam.GetAccountAuthorizationDetails", seen
    )
    return src, filters


def test_user_tags_read_with_the_roles_in_one_call(moto_endpoint: str) -> None:
    populate(moto_endpoint)
    src, filters = source(user_tags=True)
    details = src.fetch_details()
    assert filters == [["Role", "User"]]
    assert details.users is not None and details.roles is not None
    users = {u.user: u.tags for u in details.users}
    assert users == {"alice": (("team", "payments"),), "bob": ()}
    roles = {r.name: r.tags for r in details.roles}
    assert roles["deployer"] == (("owner", "platform"),)


def test_user_tags_not_read_unless_configured(moto_endpoint: str) -> None:
    populate(moto_endpoint)
    src, filters = source(user_tags=False)
    details = src.fetch_details()
    assert filters == [["Role"]]
    assert details.users is None
    assert details.roles is not None  # role tags come with the roles at no extra cost
    assert {r.name: r.tags for r in details.roles}["deployer"] == (("owner", "platform"),)


def test_user_tags_alone_when_roles_are_off(moto_endpoint: str) -> None:
    populate(moto_endpoint)
    src, filters = source(user_tags=True, roles=False)
    details = src.fetch_details()
    assert filters == [["User"]]
    assert details.roles is None and details.users is not None
    assert {u.user for u in details.users} == {"alice", "bob"}


def test_a_failed_call_fails_both_parts(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    src = AwsAccountSource(
        AccountSpec("ambient", "ambient"), botocore.session.Session(),
        account_checks=False, user_tags=True,
    )  # fmt: skip
    details = src.fetch_details()
    assert details.roles is None and details.users is None
    assert [part for part, _, _ in details.errors] == ["roles", "users"]
