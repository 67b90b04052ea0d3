"""The fault proxy against a real moto server, through the exporter's own AWS fetcher.

Each fault leaves the fetcher as a ``SourceError`` whose ``reason`` names the fault
class; this is what ends up in the ``reason`` label of the refresh metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from exporter.config import Config
from exporter.core.analyse import analyse
from exporter.core.report import ReportFormatError
from exporter.sources.aws import ClientSettings, IamReportFetcher, make_client
from exporter.sources.base import SourceError, failure_reason
from tests.support.fault_proxy import FaultProxy, reset_moto
from tests.support.report_faults import drop_column, garble, truncate

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    reset_moto(moto_endpoint)  # moto's backends live in this process, shared by tests
    with FaultProxy(moto_endpoint) as p:
        monkeypatch.setenv("AWS_ENDPOINT_URL", p.url)
        yield p


@pytest.fixture
def fetcher(proxy: FaultProxy) -> IamReportFetcher:
    settings = ClientSettings(max_attempts=1, connect_timeout=1, read_timeout=1)
    client = make_client("iam", settings=settings)
    client.create_user(UserName="alice")
    return IamReportFetcher(client, deadline_seconds=1.5, first_delay=0.1, max_delay=0.2)


def _reason(fetcher: IamReportFetcher) -> str:
    with pytest.raises((SourceError, ReportFormatError)) as info:
        analyse(fetcher.fetch(), Config(), datetime.now(timezone.utc))
    return failure_reason(info.value)


FAULTS: list[tuple[str, dict[str, Any], str]] = [
    ("throttle", {}, "throttled"),
    ("throttle_429", {}, "throttled"),
    ("server_error", {}, "server_error"),
    ("reset", {}, "connection_error"),
    ("refuse", {}, "connection_error"),
    ("slow", {"delay": 3}, "timeout"),
    ("in_progress", {}, "report_in_progress"),
    ("error", {"code": "AccessDenied", "status": 403}, "access_denied"),
    ("error", {"code": "ExpiredToken", "status": 403}, "expired_credentials"),
    ("error", {"code": "InvalidClientTokenId", "status": 403}, "expired_credentials"),
    (
        "error",
        {"code": "ReportExpired", "status": 410, "actions": ["GetCredentialReport"]},
        "report_expired",
    ),
    (
        "error",
        {"code": "ReportNotPresent", "status": 410, "actions": ["GetCredentialReport"]},
        "report_not_present",
    ),
    ("rewrite", {"transform": drop_column("mfa_active")}, "invalid_report"),
    ("rewrite", {"transform": truncate}, "invalid_report"),
    ("rewrite", {"transform": garble}, "invalid_report"),
]


@pytest.mark.parametrize(
    ("mode", "options", "reason"), FAULTS, ids=[f"{m}-{o.get('code', '')}" for m, o, _ in FAULTS]
)
def test_each_fault_is_classified_then_recovers(
    proxy: FaultProxy, fetcher: IamReportFetcher, mode: str, options: dict[str, Any], reason: str
) -> None:
    assert b"alice" in fetcher.fetch().content  # healthy through the proxy
    proxy.set(mode, **options)
    assert _reason(fetcher) == reason
    proxy.set("pass")
    assert b"alice" in fetcher.fetch().content


def test_report_expired_once_is_regenerated_within_one_fetch(
    proxy: FaultProxy, fetcher: IamReportFetcher
) -> None:
    fetcher.fetch()
    before = proxy.seen["GenerateCredentialReport"]
    proxy.set("error", code="ReportExpired", status=410, actions=["GetCredentialReport"], times=1)
    assert b"alice" in fetcher.fetch().content
    # The expired report made the fetcher ask for a new one instead of failing.
    assert proxy.seen["GenerateCredentialReport"] - before == 2


def test_faults_can_target_one_action(proxy: FaultProxy, fetcher: IamReportFetcher) -> None:
    proxy.set("throttle", actions=["GetCredentialReport"])
    assert _reason(fetcher) == "throttled"
    assert proxy.seen["GenerateCredentialReport"] >= 1  # passed through to moto
    # Throttled twice: botocore's legacy ``max_attempts`` counts retries, not attempts.
    assert proxy.seen["GetCredentialReport"] == 2


def test_unknown_mode_is_refused(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        proxy.set("explode")
