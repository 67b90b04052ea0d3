"""``audit --demo``: the demo accounts of ``serve --demo``, audited offline."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from exporter.cli.main import main
from exporter.core.checks import CHECKS
from exporter.sources.demo import DEMO_ACCOUNTS


def test_audit_demo_lists_both_accounts_and_every_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit", "--demo", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [a["source"] for a in doc["accounts"]] == [a.name for a in DEMO_ACCOUNTS]
    assert [a["account_id"] for a in doc["accounts"]] == [a.account_id for a in DEMO_ACCOUNTS]
    assert doc["failed_accounts"] == []
    # Roles and account facts come with the demo; Access Advisor answers only for the
    # member account's roles, whose root is centrally managed (its root MFA checks do not
    # apply). Every other check is evaluated, and every check fires somewhere.
    not_evaluated = {a["source"]: sorted(a["not_evaluated"]) for a in doc["accounts"]}
    assert not_evaluated == {
        "demo-production": ["role_unused_services"],
        "demo-sandbox": ["role_unused_services"],
        "demo-member": ["root_hardware_mfa_missing", "root_mfa_disabled"],
    }
    assert {f["check"] for f in doc["findings"] + doc["exempted"]} == set(CHECKS)
    # The demo's exemptions, as serve --demo has them: one expired, some findings exempted.
    assert doc["exempted"] and len(doc["expired_exemptions"]) == 1


def test_audit_demo_reaches_no_aws() -> None:
    code = (
        "import sys\n"
        "from exporter.cli.main import main\n"
        "rc = main(['audit', '--demo', '--format', 'csv', '--fail-on', 'critical'])\n"
        "assert 'exporter.sources.aws.directory' not in sys.modules\n"
        "sys.exit(rc)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # demo-production's root has no MFA
    assert proc.stderr == ""
    assert "root_mfa_disabled" in proc.stdout


def test_audit_demo_refuses_report_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--demo", "--report-file", "x.csv"]) == 2
    assert "--demo cannot be combined with --report-file" in capsys.readouterr().err


def test_audit_demo_shows_each_of_the_newer_checks_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit", "--demo", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # Owners: the demo's team tag, without --labels.owner-tag; "" for the untagged.
    owners = {(f["user"], f["check"]): f["owner"] for f in doc["findings"]}
    assert owners[("ci-deploy", "access_key_not_rotated")] == "platform"
    assert owners[("<root_account>", "root_mfa_disabled")] == ""
    # An upcoming finding: a key rotated 85 days ago, due under the 90-day rule.
    assert ("sec-scanner", "access_key_not_rotated") in {(u["user"], u["check"])
                                                         for u in doc["upcoming"]}  # fmt: skip
    # One centrally managed member account, and unused services from Access Advisor.
    member = next(a for a in doc["accounts"] if a["source"] == "demo-member")
    assert "root_mfa_disabled" in member["not_evaluated"]
    unused = [f for f in doc["findings"] if f["check"] == "role_unused_services"]
    assert unused and {f["account_id"] for f in unused} == {member["account_id"]}


def test_an_owner_tag_given_to_the_demo_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--demo", "--format", "json", "--labels.owner-tag", "managed-by"]) == 0
    owners = {f["user"]: f["owner"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert owners["ci-deploy"] == "demo"  # the managed-by tag, not the team tag
