"""Access Advisor calls (moto has none): botocore's Stubber on a real IAM client."""

from __future__ import annotations

from datetime import datetime, timezone

import botocore.session
import pytest
from botocore.stub import Stubber

from exporter.config.accounts import AccountSpec
from exporter.core.records import ServiceUse
from exporter.sources.aws.access_advisor import poll_job, start_job
from exporter.sources.aws.account_source import AwsAccountSource
from exporter.sources.base import SourceError

ARN = "arn:aws:iam::123456789012:role/app"
JOB = "examplejobid-0000-0000-0000-000000000000"
WHEN = datetime(2026, 10, 1, tzinfo=timezone.utc)


def stubbed() -> tuple[object, Stubber]:
    iam = botocore.session.Session().create_client(
        "iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(iam)
    stubber.activate()
    return iam, stubber


def page(status: str, *services: dict[str, object], marker: str | None = None) -> dict[str, object]:
    answer: dict[str, object] = {
        "JobStatus": status, "JobCreationDate": WHEN, "ServicesLastAccessed": list(services),
        "IsTruncated": marker is not None,
        # Required by the model even while the job runs.
        "JobCompletionDate": WHEN,
    }  # fmt: skip
    if marker:
        answer["Marker"] = marker
    return answer


def test_start_asks_for_service_level_details() -> None:
    iam, stubber = stubbed()
    stubber.add_response(
        "generate_service_last_accessed_details", {"JobId": JOB},
        {"Arn": ARN, "Granularity": "SERVICE_LEVEL"},
    )  # fmt: skip
    assert start_job(iam, ARN) == JOB
    stubber.assert_no_pending_responses()


def test_poll_reads_every_page_once_completed() -> None:
    iam, stubber = stubbed()
    stubber.add_response("get_service_last_accessed_details", page("IN_PROGRESS"), {"JobId": JOB})
    s3 = {"ServiceName": "Amazon S3", "ServiceNamespace": "s3", "LastAuthenticated": WHEN}
    sqs = {"ServiceName": "Amazon SQS", "ServiceNamespace": "sqs"}
    stubber.add_response("get_service_last_accessed_details", page("COMPLETED", s3, marker="m1"),
                         {"JobId": JOB})  # fmt: skip
    stubber.add_response("get_service_last_accessed_details", page("COMPLETED", sqs),
                         {"JobId": JOB, "Marker": "m1"})  # fmt: skip
    assert poll_job(iam, JOB) is None
    assert poll_job(iam, JOB) == (
        ServiceUse("s3", "Amazon S3", WHEN),
        ServiceUse("sqs", "Amazon SQS", None),
    )
    stubber.assert_no_pending_responses()


def test_a_failed_job_is_a_job_failed_error_with_aws_message() -> None:
    iam, stubber = stubbed()
    failed = {**page("FAILED"), "Error": {"Message": "internal", "Code": "InternalError"}}
    stubber.add_response("get_service_last_accessed_details", failed, {"JobId": JOB})
    with pytest.raises(SourceError, match="InternalError: internal") as err:
        poll_job(iam, JOB)
    assert err.value.reason == "job_failed"


def test_the_source_classifies_throttling() -> None:
    iam, stubber = stubbed()
    stubber.add_client_error("generate_service_last_accessed_details", "Throttling", "slow", 400)
    source = AwsAccountSource(AccountSpec("123456789012", "a", "123456789012"),
                              botocore.session.Session())  # fmt: skip
    source._client = lambda: iam  # type: ignore[method-assign]
    with pytest.raises(SourceError) as err:
        source.start_access_advisor_job(ARN)
    assert err.value.reason == "throttled"
