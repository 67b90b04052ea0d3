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
