"""The live report fetch: generate, poll with backoff to a deadline, get.

Moto cannot produce ReportInProgress, ReportExpired, ReportNotPresent or
LimitExceeded, so these use botocore's Stubber on a real IAM client. The clock
and sleep are fakes: the tests check the backoff without waiting for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from exporter.sources.aws.report_fetch import IamReportFetcher
from exporter.sources.base import SourceError
from tests.support.reports import report, root_row

CONTENT = report(root_row())
GENERATED = datetime(2026, 11, 24, 11, 0, tzinfo=timezone.utc)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def iam() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def fetcher(client: object, fake: FakeTime, deadline: float = 30.0) -> IamReportFetcher:
    return IamReportFetcher(
        client, deadline_seconds=deadline, first_delay=0.5, max_delay=4.0,
        sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip


def generate(stubber: Stubber, state: str) -> None:
    stubber.add_response("generate_credential_report", {"State": state, "Description": state})


def get_ok(stubber: Stubber) -> None:
    stubber.add_response(
        "get_credential_report",
        {"Content": CONTENT, "ReportFormat": "text/csv", "GeneratedTime": GENERATED},
    )


def get_error(stubber: Stubber, code: str, status: int = 410) -> None:
    stubber.add_client_error("get_credential_report", code, code, status)


def test_polls_with_growing_delays_until_complete(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    generate(stubber, "STARTED")
    generate(stubber, "INPROGRESS")
    generate(stubber, "COMPLETE")
    get_ok(stubber)
    fake = FakeTime()
    got = fetcher(client, fake).fetch()
    assert got.content == CONTENT and got.generated_time == GENERATED
    assert fake.sleeps == [0.5, 1.0]  # backoff, not the seed's fixed sleep(10)


def test_report_in_progress_on_get_keeps_polling(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    generate(stubber, "COMPLETE")
    get_error(stubber, "ReportInProgress", 404)
    generate(stubber, "COMPLETE")
    get_ok(stubber)
    fake = FakeTime()
    assert fetcher(client, fake).fetch().content == CONTENT
    assert fake.sleeps == [0.5]


def test_expired_report_is_generated_again(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    generate(stubber, "COMPLETE")
    get_error(stubber, "ReportExpired")
    generate(stubber, "STARTED")
    generate(stubber, "COMPLETE")
    get_ok(stubber)
    assert fetcher(client, FakeTime()).fetch().content == CONTENT


def test_limit_exceeded_on_generate_then_complete(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    stubber.add_client_error("generate_credential_report", "LimitExceeded", "slow down", 409)
    generate(stubber, "COMPLETE")
    get_ok(stubber)
    fake = FakeTime()
    assert fetcher(client, fake).fetch().content == CONTENT
    assert fake.sleeps == [0.5]


def test_backoff_is_capped_and_the_deadline_is_reported(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    fake = FakeTime()
    for _ in range(7):  # 0.5 + 1 + 2 + 4 + 4 + 4 = 15.5s of sleep, then 4 more would pass 18s
        generate(stubber, "INPROGRESS")
    with pytest.raises(SourceError) as err:
        fetcher(client, fake, deadline=18).fetch()
    assert fake.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert err.value.reason == "report_in_progress"
    assert str(err.value) == (
        "the credential report was not ready after 18s (AWS was still generating it)"
    )


@pytest.mark.parametrize(
    ("code", "reason", "words"),
    [
        ("ReportExpired", "report_expired", "GetCredentialReport kept answering ReportExpired"),
        ("ReportNotPresent", "report_not_present", "kept answering ReportNotPresent"),
        ("ReportInProgress", "report_in_progress", "AWS was still generating it"),
    ],
)
def test_stuck_get_errors_are_named_at_the_deadline(
    iam: tuple[object, Stubber], code: str, reason: str, words: str
) -> None:
    client, stubber = iam
    for _ in range(3):  # 0.5 + 1 sleeps fit in 2s; the third round hits the deadline
        generate(stubber, "COMPLETE")
        get_error(stubber, code)
    with pytest.raises(SourceError) as err:
        fetcher(client, FakeTime(), deadline=2).fetch()
    assert err.value.reason == reason
    assert words in str(err.value) and "not ready after 2s" in str(err.value)


def test_limit_exceeded_until_the_deadline(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    for _ in range(3):
        stubber.add_client_error("generate_credential_report", "LimitExceeded", "no", 409)
    with pytest.raises(SourceError) as err:
        fetcher(client, FakeTime(), deadline=2).fetch()
    assert err.value.reason == "throttled"
    assert "GenerateCredentialReport kept answering LimitExceeded" in str(err.value)


def test_access_denied_fails_at_once(iam: tuple[object, Stubber]) -> None:
    client, stubber = iam
    stubber.add_client_error("generate_credential_report", "AccessDenied", "not allowed", 403)
    fake = FakeTime()
    with pytest.raises(SourceError) as err:
        fetcher(client, fake).fetch()
    assert err.value.reason == "access_denied" and "not allowed" in str(err.value)
    assert fake.sleeps == []
