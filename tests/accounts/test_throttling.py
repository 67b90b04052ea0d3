"""Throttling is retried (botocore standard mode) and counted, not fatal.

A fault proxy in front of moto answers IAM's real Throttling error."""

from __future__ import annotations

import botocore.session
import pytest

from exporter.accounts import AccountSpec
from exporter.aws.account_source import AwsAccountSource
from exporter.aws.clients import ClientSettings
from exporter.sources import SourceError
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow


def source() -> AwsAccountSource:
    spec = AccountSpec("111111111111", "dev", "111111111111",
                       "arn:aws:iam::111111111111:role/iam-credential-exporter")  # fmt: skip
    return AwsAccountSource(spec, botocore.session.Session(), ClientSettings(max_attempts=4))


def test_throttled_calls_are_retried_and_counted(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultProxy(moto_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        proxy.set("throttle", actions={"GetAccountAuthorizationDetails"}, times=2)
        src = source()
        details = src.fetch_details()
        assert details.errors == () and details.roles is not None
        assert src.throttled_total == 2
        assert proxy.seen["GetAccountAuthorizationDetails"] == 3


def test_throttling_beyond_the_retries_fails_the_part_with_reason_throttled(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultProxy(moto_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        proxy.set("throttle", actions={"GetAccountSummary"})
        src = source()
        details = src.fetch_details()
        assert details.roles is not None  # the other part is unaffected
        assert [(p, r) for p, r, _ in details.errors] == [("account", "throttled")]
        # Every attempt was throttled and counted (botocore's retries "max_attempts"
        # does not include the first attempt: 1 + 4 requests).
        assert src.throttled_total == proxy.seen["GetAccountSummary"] == 5
        with pytest.raises(SourceError) as err:
            src.fetch_facts()
        assert err.value.reason == "throttled"
