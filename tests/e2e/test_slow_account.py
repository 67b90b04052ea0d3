"""Two accounts behind one local endpoint; every AWS answer to one of them trickles
in one byte per second, so no socket read ever times out. The other account stays
fresh, and the stuck one fails with ``timeout`` within its documented deadline."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from exporter.config.settings import Settings
from tests.support.aws_exporter import errors, success, users, wait_samples
from tests.support.exporter_process import ExporterProcess, exporter_process, sample_value
from tests.support.fault_proxy import FaultProxy, reset_moto
from tests.support.moto import FAKE_CREDENTIALS, aws_env, moto_server

pytestmark = pytest.mark.slow

HEALTHY, STUCK = "111111111111", "222222222222"
INTERVAL = 3.0
WATCH_SECONDS = 60.0
FLAGS = (
    "--refresh.interval", f"{INTERVAL:g}s",
    "--aws.max-attempts", "1", "--aws.connect-timeout", "1s",
    "--aws.read-timeout", "2s", "--aws.poll-deadline", "2s",
    "--report.allow-incomplete",  # moto's report has no <root_account> row
)  # fmt: skip
# A byte a second must never trip the read timeout: it is 2s, not 1s.
SETTINGS = Settings(
    aws_max_attempts=1, aws_connect_timeout=timedelta(seconds=1),
    aws_read_timeout=timedelta(seconds=2), aws_poll_deadline=timedelta(seconds=2),
)  # fmt: skip
CONFIG = f"""
accounts:
  ambient: false
  list:
    - {{account_id: '{HEALTHY}', name: healthy, role_arn: 'arn:aws:iam::{HEALTHY}:role/reader'}}
    - {{account_id: '{STUCK}', name: stuck, role_arn: 'arn:aws:iam::{STUCK}:role/reader'}}
"""


def add_users(endpoint: str, account: str, count: int) -> None:
    """Users in ``account``: moto keeps one state per account of assumed-role credentials."""
    keys = {"aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **keys)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup",
                            RoleSessionName="test-setup")["Credentials"]  # fmt: skip
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])  # fmt: skip
    for n in range(count):
        iam.create_user(UserName=f"user-{n}")


def watch(exp: ExporterProcess, launched: float) -> tuple[list[float], float | None]:
    """Scrape until WATCH_SECONDS after launch: (ages of the healthy account's data
    beyond two intervals, seconds from launch to the stuck account's timeout)."""
    stale: list[float] = []
    timed_out = None
    while time.monotonic() - launched < WATCH_SECONDS:
        s = exp.samples()
        last = sample_value(s, "aws_iam_exporter_last_refresh_success_timestamp_seconds",
                            account_id=HEALTHY)  # fmt: skip
        age = time.time() - (last or 0)
        if age > 2 * INTERVAL:
            stale.append(round(age, 1))
        if timed_out is None and errors(s, "timeout", STUCK) >= 1:
            timed_out = time.monotonic() - launched
            assert success(s, STUCK) == 0 and users(s, STUCK) is None  # never had data
            assert exp.get("/-/ready")[0] == 200  # a recorded failure
        time.sleep(0.5)
    return stale, timed_out


def test_a_trickling_account_times_out_while_the_other_stays_fresh(tmp_path: Path) -> None:
    deadline = SETTINGS.refresh_deadline.total_seconds()
    assert deadline == 2 + 6 * (2 * (1 + 2) + 1)  # README, "Refresh deadline": 44s
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    with moto_server() as endpoint:
        reset_moto(endpoint)
        add_users(endpoint, HEALTHY, 2)
        add_users(endpoint, STUCK, 3)
        with FaultProxy(endpoint) as proxy:
            proxy.trickle(STUCK)
            launched = time.monotonic()
            with exporter_process("--config", str(config), *FLAGS, env=aws_env(proxy.url),
                                  ready=False) as exp:  # fmt: skip
                first = wait_samples(exp, lambda s: success(s, HEALTHY) == 1, timeout=20,
                                     what="the healthy account served")  # fmt: skip
                assert users(first, HEALTHY) == 2
                assert success(first, STUCK) is None  # its first refresh is still running
                assert exp.get("/-/ready")[0] == 503  # neither data nor a failure for it yet
                stale, timed_out = watch(exp, launched)
                page = exp.get("/")[2].decode()
                log = exp.log()
            assert proxy.seen["trickled"] == 1, (proxy.seen, log)  # one stuck call, never a second
    assert not stale, f"the healthy account's data was older than two intervals: {stale}"
    assert timed_out is not None, log[-3000:]
    # The deadline runs from the attempt's start, a moment after the launch.
    assert deadline <= timed_out <= deadline + 8, timed_out
    assert "Last refresh failed: timeout" in page and "still running" in page
    assert f"did not finish within its deadline of {deadline:g}s" in log
    assert "skipped" not in log and "Traceback" not in log
