"""End to end: ``audit`` as a user runs it, against a moto server started here.

The exporter runs as a separate process and reaches moto only through
AWS_ENDPOINT_URL. Moto's credential report has no root row, so audit refuses it
unless --allow-incomplete (tests/support/moto.py makes its GeneratedTime the time of
the call); the users, passwords, MFA and keys in it are the ones created here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from tests.support.moto import aws_env, moto_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        iam = boto3.client(
            "iam", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        # A console user without MFA, with one key.
        iam.create_user(UserName="alice", Path="/people/")
        iam.create_login_profile(UserName="alice", Password="Secret-passw0rd!")
        iam.create_access_key(UserName="alice")
        # A console user with MFA: no console finding.
        iam.create_user(UserName="bob+mfa")
        iam.create_login_profile(UserName="bob+mfa", Password="Secret-passw0rd!")
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="bob")["VirtualMFADevice"]
        iam.enable_mfa_device(
            UserName="bob+mfa", SerialNumber=serial["SerialNumber"],
            AuthenticationCode1="123456", AuthenticationCode2="654321",
        )  # fmt: skip
        # A machine user with two keys, one deactivated.
        iam.create_user(UserName="ci.deploy", Path="/ops/ci/")
        first = iam.create_access_key(UserName="ci.deploy")["AccessKey"]["AccessKeyId"]
        iam.create_access_key(UserName="ci.deploy")
        iam.update_access_key(UserName="ci.deploy", AccessKeyId=first, Status="Inactive")
        yield url


def audit(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "audit", "--format", "json", *args],
        env=aws_env(endpoint), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_moto_report_has_no_root_row_and_is_refused(endpoint: str) -> None:
    proc = audit(endpoint)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr
    assert err.count("\n") == 1 and err.startswith("iam-credential-exporter: error: "), err
    assert "has no <root_account> row" in err and "--allow-incomplete" in err


def test_audit_of_the_live_account(endpoint: str) -> None:
    proc = audit(endpoint, "--allow-incomplete")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    found = {(f["user"], f["check"], f["key"]) for f in doc["findings"]}
    assert ("alice", "console_without_mfa", None) in found
    assert ("alice", "access_key_never_used", 1) in found
    assert ("ci.deploy", "access_key_never_used", 2) in found
    assert ("ci.deploy", "inactive_access_key_present", 1) in found
    assert not any(user == "bob+mfa" and check == "console_without_mfa" for user, check, _ in found)
    assert not any(check == "multiple_active_access_keys" for _, check, _ in found)
    alice = next(f for f in doc["findings"] if f["user"] == "alice")
    assert alice["arn"] == "arn:aws:iam::123456789012:user/people/alice"
    assert {f["account_id"] for f in doc["findings"]} == {"123456789012"}
    # Every dated finding is there: no date is later than the report.
    assert ("ci.deploy", "inactive_access_key_present", 1) in found and doc["problems"] == []
    [account] = doc["accounts"]
    assert account["complete"] is False and account["users"] == 3
    # audit runs no Access Advisor job: role_unused_services is not evaluated either.
    assert set(account["not_evaluated"]) == {
        "root_mfa_disabled", "root_access_key_active", "root_used_recently",
        "role_unused_services",
    }  # fmt: skip


def test_fail_on_against_the_live_account(endpoint: str) -> None:
    assert audit(endpoint, "--allow-incomplete", "--fail-on", "high").returncode == 1
    # moto's report has no root row: no root finding, the only critical one.
    proc = audit(endpoint, "--allow-incomplete", "--fail-on", "critical")
    assert proc.returncode == 0, proc.stderr
