"""Throttling is retried (botocore standard mode) and counted, not fatal; assumed-role
credentials refresh themselves. A fault proxy in front of moto answers IAM's real errors."""

from __future__ import annotations

import botocore.session
import pytest

from exporter.config.accounts import AccountSpec
from exporter.sources.aws.account_source import AwsAccountSource
from exporter.sources.aws.clients import ClientSettings
from exporter.sources.base import SourceError
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


def test_assumed_credentials_refresh_before_they_expire(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore refreshes the assumed-role credentials itself; no timer of ours."""
    from datetime import datetime, timedelta

    from dateutil.tz import tzutc

    with FaultProxy(moto_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        src = source()
        src.fetch_roles()
        src.fetch_roles()
        assert proxy.seen["AssumeRole"] == 1  # cached while valid
        creds = src._ensure_session().get_credentials()
        first_key = creds.get_frozen_credentials().access_key
        # Make the credentials (and the fetcher's cached STS answer) five minutes from
        # expiry, as if 55 minutes had passed: inside botocore's mandatory refresh window.
        soon = datetime.now(tzutc()) + timedelta(minutes=5)
        creds._expiry_time = soon
        for answer in creds._refresh_using.__self__._cache.values():
            answer["Credentials"]["Expiration"] = soon
        src.fetch_roles()
        assert proxy.seen["AssumeRole"] == 2
        assert creds.get_frozen_credentials().access_key != first_key
