"""Every AWS fault against the real serve process: it stays up, keeps the last good
data, reports success 0 with a reason naming the fault, and recovers by itself.

One exporter (ambient account) refreshes every second through a fault proxy in
front of moto; each test switches a fault on, watches the metrics, switches it off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.aws_exporter import (
    FAST_AWS_FLAGS,
    errors,
    findings_total,
    moto_behind_proxy,
    success,
    users,
    wait_samples,
)
from tests.support.exporter_process import ExporterProcess, exporter_process
from tests.support.fault_proxy import FaultProxy
from tests.support.moto import aws_env
from tests.support.report_faults import drop_column, garble, truncate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[ExporterProcess, FaultProxy]]:
    with (
        moto_behind_proxy(users=3) as (_, proxy),
        exporter_process(*FAST_AWS_FLAGS, env=aws_env(proxy.url), ready=False) as exp,
    ):
        yield exp, proxy


FAULTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("throttling", "throttle", {}, "throttled"),
    ("throttling-429", "throttle_429", {}, "throttled"),
    ("5xx", "server_error", {}, "server_error"),
    ("connection-refused", "refuse", {}, "connection_error"),
    ("connection-reset", "reset", {}, "connection_error"),
    ("slow-past-timeout", "slow", {"delay": 4}, "timeout"),
    ("report-in-progress-forever", "in_progress", {}, "report_in_progress"),
    ("report-expired", "error", {"code": "ReportExpired", "status": 410,
                                 "actions": ["GetCredentialReport"]}, "report_expired"),
    ("report-not-present", "error", {"code": "ReportNotPresent", "status": 410,
                                     "actions": ["GetCredentialReport"]}, "report_not_present"),
    ("access-denied", "error", {"code": "AccessDenied", "status": 403}, "access_denied"),
    ("expired-credentials", "error", {"code": "ExpiredToken", "status": 403},
     "expired_credentials"),
    ("missing-column", "rewrite", {"transform": drop_column("mfa_active")}, "invalid_report"),
    ("truncated-report", "rewrite", {"transform": truncate}, "invalid_report"),
    ("garbled-report", "rewrite", {"transform": garble}, "invalid_report"),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "options", "reason"), [f[1:] for f in FAULTS],
                         ids=[f[0] for f in FAULTS])  # fmt: skip
def test_fault_keeps_last_data_reports_reason_and_recovers(
    setup: tuple[ExporterProcess, FaultProxy], mode: str, options: dict[str, Any], reason: str
) -> None:
    exp, proxy = setup
    good = wait_samples(exp, lambda s: success(s) == 1 and users(s) == 3, what="a good refresh")
    good_findings = findings_total(good)
    assert good_findings > 0
    before = errors(good, reason)

    proxy.set(mode, **options)
    try:
        failed = wait_samples(
            exp,
            lambda s: success(s) == 0 and errors(s, reason) > before,
            what=f"success 0 with reason {reason}",
        )
    finally:
        proxy.set("pass")
    # The last good data is still served while the refresh fails.
    assert users(failed) == 3
    assert findings_total(failed) == good_findings

    wait_samples(exp, lambda s: success(s) == 1, what="recovery")
    assert exp.proc.poll() is None
