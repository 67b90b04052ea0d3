"""The daemon over many accounts: moto organizations, shards, failures, roles, demo."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from exporter.config import config_from_dict
from exporter.config.accounts import parse_accounts
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Snapshot
from exporter.sources.aws.clients import ClientSettings
from exporter.sources.aws.directory import AccountDirectory
from exporter.sources.base import FileReportSource
from exporter.sources.demo import (
    DEMO_ACCOUNT_ID,
    DEMO_ACCOUNT_NAME,
    DEMO_ACCOUNTS,
    DEMO_MEMBER,
    DEMO_PRODUCTION,
    DEMO_SANDBOX,
    DemoSource,
)
from tests.sources.test_aws_accounts import denied_sts
from tests.support.exporter_process import parse_samples, sample_value, start_exporter
from tests.support.moto import aws_env
from tests.support.net import free_port
from tests.support.org import MEMBERS, Org

pytestmark = pytest.mark.slow
TRUST = '{"Version":"2012-10-17","Statement":[]}'


def refresher(wiring: AccountsWiring, config_raw: dict[str, object]) -> Refresher:
    return Refresher(
        wiring.targets,
        config_from_dict(config_raw),
        ExpositionOptions(collectors=(wiring.collector,)),
        workers=3,
        hooks=[wiring.state_hook],
        header=wiring.header,
    )


def text(snapshot: Snapshot) -> str:
    return snapshot.exposition.text.decode()


def org_raw(org: Org) -> dict[str, object]:
    return {
        "accounts": {"organizations": {"exclude": {"accounts": [org.management_id]}}},
        # moto's report has no <root_account> row.
        "flags": {"report.allow-incomplete": True},
    }


def test_one_denied_account_fails_alone_and_roles_are_exported(org: Org) -> None:
    broken = org.members["staging"]
    dev = org.members["dev"]
    org.session(dev).client("iam").create_role(RoleName="forgotten", AssumeRolePolicyDocument=TRUST)
    raw = org_raw(org)
    config = config_from_dict(raw)
    directory = AccountDirectory(
        parse_accounts(raw["accounts"]),
        sts_client_creator=lambda s: denied_sts(broken) if s.account_id == broken else None,
    )
    wiring = AccountsWiring(config, directory=directory)
    refresh = refresher(wiring, raw)
    snapshot = refresh.run()
    states = {s.account_id: s for s in snapshot.accounts}
    assert set(states) == set(org.members.values())
    assert not states[broken].success and states[broken].last_error_reason == "role_missing"
    assert all(s.success for a, s in states.items() if a != broken)
    samples = parse_samples(text(snapshot))
    assert sample_value(samples, "aws_iam_exporter_refresh_errors_total",
                        account_id=broken, reason="role_missing") == 1  # fmt: skip
    assert sample_value(samples, "aws_iam_users", account_id=org.members["prod"]) == 3
    # Roles: every member account has OrganizationAccountAccessRole (moto creates it);
    # dev also has "forgotten".
    assert sample_value(samples, "aws_iam_roles", account_id=dev) == 2
    assert sample_value(samples, "aws_iam_roles", account_id=broken) is None
    for account_id in org.members.values():
        labels = {"account_id": account_id, "check": "role_unused"}
        expected = None if account_id == broken else 0  # no data yet, or roles are new
        assert sample_value(samples, "aws_iam_findings", **labels) == expected
        labels = {"account_id": account_id, "shard": "0/1"}
        assert sample_value(samples, "aws_iam_exporter_account_owned", **labels) == 1
    assert sample_value(samples, "aws_iam_exporter_shard_accounts", shard="0/1") == len(MEMBERS)
    assert sample_value(samples, "aws_iam_exporter_discovery_success") == 1
    page_header = snapshot.header
    assert page_header.startswith("4 accounts configured.") and "replica" not in page_header


def test_role_findings_age_with_the_clock_and_discovery_failure_keeps_accounts(org: Org) -> None:
    dev = org.members["dev"]
    org.session(dev).client("iam").create_role(RoleName="forgotten", AssumeRolePolicyDocument=TRUST)
    raw = org_raw(org)
    clock = [datetime.now(timezone.utc)]
    directory = AccountDirectory(parse_accounts(raw["accounts"]))
    wiring = AccountsWiring(config_from_dict(raw), directory=directory)
    refresh = Refresher(
        wiring.targets, config_from_dict(raw), ExpositionOptions(collectors=(wiring.collector,)),
        now=lambda: clock[0], workers=3, hooks=[wiring.state_hook], header=wiring.header,
    )  # fmt: skip
    refresh.run()
    # 100 days later, Organizations is unreachable: the accounts stay, and roles age.
    directory._org_client = boto3.client(
        "organizations",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=ClientSettings(max_attempts=1, connect_timeout=1).boto_config(),
    )
    clock[0] += timedelta(days=100)
    snapshot = refresh.run()
    samples = parse_samples(text(snapshot))
    assert {s.account_id for s in snapshot.accounts} == set(org.members.values())
    assert sample_value(samples, "aws_iam_exporter_discovery_success") == 0
    assert sample_value(samples, "aws_iam_exporter_discovery_errors_total",
                        reason="connection_error") == 1  # fmt: skip
    # OrganizationAccountAccessRole and "forgotten", both never used, in dev; 1 elsewhere.
    assert sample_value(samples, "aws_iam_findings", account_id=dev, check="role_unused") == 2
    assert sample_value(samples, "aws_iam_role_finding", account_id=dev, role="forgotten") == 1
    # Role findings never appear in the per-user family with an empty user.
    assert not [lab for lab, _ in samples.get("aws_iam_finding", []) if lab["user"] == ""]
    assert "Organizations discovery failed (connection_error)" in snapshot.header


def test_demo_has_role_and_account_findings() -> None:
    targets: Sequence[AccountTarget] = [
        AccountTarget(a.account_id, a.name, DemoSource(account=a)) for a in DEMO_ACCOUNTS
    ]
    wiring = AccountsWiring(config_from_dict({}), fixed=targets)
    snapshot = refresher(wiring, {}).run()
    samples = parse_samples(text(snapshot))
    prod = {"account_id": DEMO_PRODUCTION.account_id}
    sandbox = {"account_id": DEMO_SANDBOX.account_id}
    assert sample_value(samples, "aws_iam_findings", **prod, check="role_unused") == 2
    assert sample_value(samples, "aws_iam_findings", **sandbox, check="role_unused") == 1
    # Production's root has no MFA at all (root_mfa_disabled), the sandbox's a virtual one.
    assert sample_value(samples, "aws_iam_findings", **prod, check="root_hardware_mfa_missing") == 0
    hw = sample_value(samples, "aws_iam_findings", **sandbox, check="root_hardware_mfa_missing")
    assert hw == 1
    roles = {(lab["account_id"], lab["role"]) for lab, _ in samples["aws_iam_role_finding"]}
    assert roles == {
        (DEMO_PRODUCTION.account_id, "legacy-etl-runner"),
        (DEMO_PRODUCTION.account_id, "vendor-audit-readonly"),
        (DEMO_SANDBOX.account_id, "old-experiment-lambda"),
        (DEMO_MEMBER.account_id, "migration-2023"),  # role_unused and role_unused_services
        (DEMO_MEMBER.account_id, "nightly-report-lambda"),  # role_unused_services
    }
    assert sample_value(samples, "aws_iam_roles", **prod) == 5
    assert sample_value(samples, "aws_iam_roles", **sandbox) == 3
    assert "aws_iam_exporter_discovery_success" not in samples  # no Organizations here


def test_checks_without_their_input_are_absent_not_zero() -> None:
    """A saved report carries no roles or account facts: role_unused and
    root_hardware_mfa_missing were not evaluated, so no series claims they are clean."""
    report = Path(__file__).resolve().parent.parent / "fixtures" / "reports" / "aws_real.csv"
    targets = [AccountTarget("", "saved", FileReportSource(str(report)))]
    wiring = AccountsWiring(config_from_dict({}), fixed=targets)
    samples = parse_samples(text(refresher(wiring, {}).run()))
    checks = {lab["check"] for lab, _ in samples["aws_iam_findings"]}
    assert "role_unused" not in checks and "root_hardware_mfa_missing" not in checks
    assert {"root_mfa_disabled", "access_key_not_rotated", "user_inactive"} <= checks


def test_rendered_metrics_pass_promtool(tmp_path: Path) -> None:
    targets = [AccountTarget(DEMO_ACCOUNT_ID, DEMO_ACCOUNT_NAME, DemoSource())]
    wiring = AccountsWiring(config_from_dict({}), fixed=targets)
    out = tmp_path / "metrics.txt"
    out.write_bytes(refresher(wiring, {}).run().exposition.text)
    lint = subprocess.run(
        ["promtool", "check", "metrics"], stdin=out.open("rb"), capture_output=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_two_serve_replicas_split_the_organization(org: Org, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("accounts:\n  organizations: {}\nflags:\n  report.allow-incomplete: true\n")
    env = aws_env(org.endpoint)
    seen: dict[str, list[int]] = {}
    for index in range(2):
        exp = start_exporter("--config", str(config), "--shard.index", str(index),
                             "--shard.count", "2", "--refresh.interval", "1h", env=env)  # fmt: skip
        try:
            samples = exp.samples()
            status, _, page = exp.get("/")
        finally:
            exp.stop()
        # moto's account ids are random: now and then one shard owns none of them.
        owned = [lab["account_id"] for lab, _ in samples.get("aws_iam_exporter_account_owned", [])]
        for account_id in owned:
            seen.setdefault(account_id, []).append(index)
            assert sample_value(samples, "aws_iam_exporter_refresh_success",
                                account_id=account_id) == 1  # fmt: skip
            assert sample_value(samples, "aws_iam_users", account_id=account_id) is not None
        assert sample_value(samples, "aws_iam_exporter_shard_accounts", shard=f"{index}/2") == len(
            owned
        )
        assert sample_value(samples, "aws_iam_exporter_configured_accounts") == len(MEMBERS) + 1
        assert status == 200 and f"This replica owns shard {index}/2" in page.decode()
    assert sorted(seen) == sorted([org.management_id, *org.members.values()])
    assert all(len(v) == 1 for v in seen.values())


def test_bad_shard_flags_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "serve", "--shard.index", "2", "--shard.count", "2"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--shard.index must be from 0 to 1" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_accounts_section_stops_serve_with_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "accounts:\n  list:\n    - {account_id: 111122223333,"
        " role_arn: 'arn:aws:iam::111122223333:role/x'}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "serve", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "accounts.list[0].account_id: quote the account id ('111122223333')" in proc.stderr
