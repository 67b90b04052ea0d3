"""End to end: owners from IAM user tags, read from a moto server by serve and audit."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from tests.support.exporter_process import exporter_process, sample_value
from tests.support.moto import aws_env, moto_server

pytestmark = pytest.mark.slow

PASSWORD = "Secret-passw0rd!"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        # moto's backends are per process, not per server: start from a clean slate,
        # and leave one to the modules after this one.
        _reset(url)
        iam = boto3.client(
            "iam", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        # Console users without MFA: a console_without_mfa finding each.
        iam.create_user(
            UserName="alice",
            Tags=[
                {"Key": "owner", "Value": "alice@example.com"},
                {"Key": "team", "Value": "payments"},
            ],
        )
        iam.create_user(UserName="bob")  # no tag: owner ""
        for user in ("alice", "bob"):
            iam.create_login_profile(UserName=user, Password=PASSWORD)
        try:
            yield url
        finally:
            _reset(url)


def _reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", b"")).close()


def test_serve_labels_findings_with_the_first_configured_tag(endpoint: str) -> None:
    args = (
        "--report.allow-incomplete",
        "--labels.owner-tag",
        "team",
        "--labels.owner-tag",
        "owner",
    )
    with exporter_process(*args, env=aws_env(endpoint)) as exp:
        s = exp.samples()
    console = {"check": "console_without_mfa"}
    assert sample_value(s, "aws_iam_finding", **console, user="alice", owner="payments") == 1
    assert sample_value(s, "aws_iam_finding", **console, user="bob", owner="") == 1
    by_owner = sample_value(s, "aws_iam_findings_by_owner", owner="payments", severity="high")
    assert by_owner is not None and by_owner >= 1


def test_serve_without_an_owner_tag_has_no_owner_label(endpoint: str) -> None:
    with exporter_process("--report.allow-incomplete", env=aws_env(endpoint)) as exp:
        s = exp.samples()
    assert s["aws_iam_finding"] and all("owner" not in lab for lab, _ in s["aws_iam_finding"])
    assert "aws_iam_findings_by_owner" not in s


def test_serve_owners_without_per_user_series(endpoint: str) -> None:
    args = ("--report.allow-incomplete", "--labels.owner-tag", "team", "--labels.user", "none")
    with exporter_process(*args, env=aws_env(endpoint)) as exp:
        s = exp.samples()
    assert not s.get("aws_iam_finding")
    assert sample_value(s, "aws_iam_findings_by_owner", owner="payments", severity="high") == 1
    assert sample_value(s, "aws_iam_findings_by_owner", owner="", severity="high") == 1


def test_audit_names_each_findings_owner(endpoint: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "audit", "--format", "json", "--allow-incomplete",
         "--labels.owner-tag", "team"],
        env=aws_env(endpoint), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    console = {f["user"]: f["owner"] for f in findings if f["check"] == "console_without_mfa"}
    assert console == {"alice": "payments", "bob": ""}
