"""An organization in a moto server: several member accounts, each with users and roles.

Users and roles are created in each account through a session that assumed a role
into it (moto keeps separate per-account state for assumed-role credentials).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest


@dataclass
class Org:
    endpoint: str
    management_id: str
    root_id: str
    members: dict[str, str] = field(default_factory=dict)  # name -> account id
    ou_id: str = ""
    suspended_id: str = ""

    def session(
        self, account_id: str, role: str = "OrganizationAccountAccessRole"
    ) -> boto3.Session:
        creds = boto3.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="test-setup"
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name="us-east-1",
        )


MEMBERS = ("dev", "staging", "prod", "sandbox")


@pytest.fixture
def org(moto_endpoint: str) -> Iterator[Org]:
    # moto's backends are per process, not per server: start from a clean slate.
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", b"")).close()
    client = boto3.client("organizations", region_name="us-east-1")
    mgmt = client.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    root_id = client.list_roots()["Roots"][0]["Id"]
    result = Org(moto_endpoint, mgmt, root_id)
    for name in MEMBERS:
        created = client.create_account(AccountName=name, Email=f"{name}@example.com")
        result.members[name] = created["CreateAccountStatus"]["AccountId"]
    ou = client.create_organizational_unit(ParentId=root_id, Name="workloads")
    result.ou_id = ou["OrganizationalUnit"]["Id"]
    for name in ("staging", "prod"):
        client.move_account(
            AccountId=result.members[name], SourceParentId=root_id, DestinationParentId=result.ou_id
        )
    gone = client.create_account(AccountName="closed", Email="closed@example.com")
    result.suspended_id = gone["CreateAccountStatus"]["AccountId"]
    client.close_account(AccountId=result.suspended_id)
    for name, account_id in result.members.items():
        iam = result.session(account_id).client("iam")
        for n in range(MEMBERS.index(name) + 1):  # dev 1 user, staging 2, prod 3, sandbox 4
            iam.create_user(UserName=f"{name}-user-{n}")
    yield result
