"""End to end for the alerts on a rise: the real Prometheus, with the project's rules,
scrapes a real ``serve --report-file`` process; the report file then changes the way
an account does (a new console user without MFA and with a never-used key, MFA
removed from a user) and the "increased" and change alerts must fire, while the
unchanged numbers (root, not_rotated keys) must not fire theirs.

The refresh interval is one second and Prometheus scrapes and evaluates every
second, so the alerts' production rules apply unchanged (they have no ``for:``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.sources.demo import demo_report_csv
from tests.artefacts.rules.promql import RULE_FILES
from tests.support.exporter_process import exporter_process
from tests.support.prometheus import PrometheusServer, prometheus

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
NEW_USER = "mallory@corp"


def baseline_report() -> bytes:
    generated = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    return demo_report_csv(generated)


def risen_report(before: bytes) -> bytes:
    """The same account after a bad hour: alice@corp lost MFA, and a new console user
    without MFA appeared with an access key that was never used."""
    rows = list(csv.DictReader(io.StringIO(before.decode())))
    fields = list(rows[0])
    alice = next(r for r in rows if r["user"] == "alice@corp")
    assert alice["mfa_active"] == "true" and alice["password_enabled"] == "true"
    alice["mfa_active"] = "false"
    created = (datetime.now(timezone.utc) - timedelta(days=3)).replace(microsecond=0)
    new = dict.fromkeys(fields, "N/A")
    new.update(
        {
            "user": NEW_USER,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{NEW_USER}",
            "user_creation_time": created.isoformat(),
            "password_enabled": "true",
            "password_last_used": "no_information",
            "password_last_changed": created.isoformat(),
            "mfa_active": "false",
            "access_key_1_active": "true",
            "access_key_1_last_rotated": created.isoformat(),
            "access_key_2_active": "false",
            "cert_1_active": "false",
            "cert_2_active": "false",
        }
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows([*rows, new])
    return out.getvalue().encode()


def value(prom: PrometheusServer, expr: str) -> float:
    (sample,) = prom.query(expr)
    return float(sample["value"][1])


@pytest.fixture(scope="module")
def risen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    report = tmp_path_factory.mktemp("report") / "report.csv"
    before = baseline_report()
    report.write_bytes(before)
    with (
        exporter_process("--report-file", str(report), "--refresh.interval", "1s") as exp,
        prometheus([f"127.0.0.1:{exp.port}"], RULE_FILES) as prom,
    ):
        console = f'aws_iam_findings{{account_id="{ACCOUNT}", check="console_without_mfa"}}'
        # A few evaluations of the baseline, so the rise is measured against it.
        prom.wait_for_data(f"count_over_time({console}[1m]) >= 3")
        never_used = 'account_id_reason:aws_iam_stale_access_keys:sum{reason="never_used"}'
        prom.wait_for_data(f"count_over_time({never_used}[1m]) >= 3")
        baseline = value(prom, console)
        _write_atomically(report, risen_report(before))
        prom.wait_for_data(f"{console} == {baseline + 2}")
        yield prom


def _write_atomically(path: Path, content: bytes) -> None:
    # The exporter re-reads the file every second; never let it see half a file.
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)


RISE_ALERTS = {
    "AwsIamConsoleUsersWithoutMfaIncreased",
    "AwsIamStaleAccessKeysIncreased",
    "AwsIamUserCreated",
    "AwsIamMfaRemoved",
}


def test_rises_fire_the_increase_and_change_alerts(risen: PrometheusServer) -> None:
    firing: dict[str, list[dict[str, str]]] = {}
    for alert in risen.wait_for_alerts(RISE_ALERTS):
        firing.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
    assert {a["account_id"] for name in RISE_ALERTS for a in firing[name]} == {ACCOUNT}
    # Only the never_used count rose; the other reasons stayed as they were.
    assert [a["reason"] for a in firing["AwsIamStaleAccessKeysIncreased"]] == ["never_used"]
    assert [a["change"] for a in firing["AwsIamUserCreated"]] == ["user_created"]
    assert [a["change"] for a in firing["AwsIamMfaRemoved"]] == ["mfa_disabled"]


def test_the_exporter_counted_the_changes(risen: PrometheusServer) -> None:
    changes = risen.query_values(
        f'aws_iam_credential_changes_total{{account_id="{ACCOUNT}", '
        'change=~"user_created|mfa_disabled"}'
    )
    assert sorted(v for v in changes.values()) == [1.0, 1.0]


def test_the_new_user_is_in_the_findings_table_query(risen: PrometheusServer) -> None:
    rows = risen.query(f'aws_iam_finding{{account_id="{ACCOUNT}", user="{NEW_USER}"}}')
    checks = {r["metric"]["check"] for r in rows}
    assert {"console_without_mfa", "access_key_never_used"} <= checks
