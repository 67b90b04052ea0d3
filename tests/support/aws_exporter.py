"""A moto server with a fault proxy in front, and helpers to watch a serve process recover."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3

from tests.support.exporter_process import ExporterProcess, Samples, parse_samples, sample_value
from tests.support.fault_proxy import FaultProxy, reset_moto
from tests.support.moto import FAKE_CREDENTIALS, moto_server

MOTO_ACCOUNT = "123456789012"
# Short AWS settings so that every fault ends a refresh within a few seconds.
FAST_AWS_FLAGS = (
    "--refresh.interval", "1s",
    "--aws.max-attempts", "1",
    "--aws.connect-timeout", "1s",
    "--aws.read-timeout", "1s",
    "--aws.poll-deadline", "2s",
    # moto's report has no <root_account> row.
    "--report.allow-incomplete",
)  # fmt: skip


@contextmanager
def moto_behind_proxy(users: int = 3) -> Iterator[tuple[str, FaultProxy]]:
    """(moto endpoint, proxy) with ``users`` IAM users, one of them with an access key."""
    with moto_server() as endpoint:
        reset_moto(endpoint)
        add_users(endpoint, [f"user{i}" for i in range(users)])
        with FaultProxy(endpoint) as proxy:
            yield endpoint, proxy


def iam(endpoint: str) -> object:
    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def add_users(endpoint: str, names: list[str]) -> None:
    client = iam(endpoint)
    for name in names:
        client.create_user(UserName=name)  # type: ignore[attr-defined]
        client.create_access_key(UserName=name)  # type: ignore[attr-defined]


def wait_samples(
    exp: ExporterProcess,
    condition: Callable[[Samples], bool],
    timeout: float = 60.0,
    what: str = "condition",
) -> Samples:
    """Scrape until ``condition(samples)`` holds; the process must stay up meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        assert exp.proc.poll() is None, f"the exporter exited:\n{exp.log()}"
        status, _, body = exp.get("/metrics")
        if status == 200:  # 503 until the first snapshot exists
            samples = parse_samples(body.decode("utf-8"))
            if condition(samples):
                return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s; log:\n{exp.log()[-4000:]}")
        time.sleep(0.2)


def success(samples: Samples, account: str = MOTO_ACCOUNT) -> float | None:
    return sample_value(samples, "aws_iam_exporter_refresh_success", account_id=account)


def errors(samples: Samples, reason: str, account: str = MOTO_ACCOUNT) -> float:
    value = sample_value(
        samples, "aws_iam_exporter_refresh_errors_total", account_id=account, reason=reason
    )
    return value or 0.0


def users(samples: Samples, account: str = MOTO_ACCOUNT) -> float | None:
    return sample_value(samples, "aws_iam_users", account_id=account)


def findings_total(samples: Samples, account: str = MOTO_ACCOUNT) -> float:
    return sum(v for lab, v in samples.get("aws_iam_findings", []) if lab["account_id"] == account)
