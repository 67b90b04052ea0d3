"""The refresh schedule's settings, and the two log formats."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pytest

from exporter.daemon.logs import JsonFormatter, setup_logging
from exporter.daemon.scheduler import JOB_ID, jitter_for, start_scheduler


def test_job_runs_at_start_never_overlaps_and_coalesces() -> None:
    ran = threading.Event()
    scheduler = start_scheduler(ran.set, timedelta(hours=1))
    try:
        assert ran.wait(30), "the first refresh runs at start-up"
        job = scheduler.get_job(JOB_ID)
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time == 3600
        assert job.trigger.interval == timedelta(hours=1)
        assert job.trigger.jitter == 300
    finally:
        scheduler.shutdown(wait=True)


def test_a_failing_job_is_logged_and_the_schedule_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []
    second = threading.Event()

    def job() -> None:
        calls.append(1)
        if len(calls) >= 2:
            second.set()
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger="exporter.scheduler"):
        scheduler = start_scheduler(job, timedelta(seconds=1))
        try:
            assert second.wait(30)
        finally:
            scheduler.shutdown(wait=True)
    assert "refresh job failed" in caplog.text


def test_jitter_is_a_tenth_of_the_interval_at_most_five_minutes() -> None:
    assert jitter_for(timedelta(seconds=30)) == 3
    assert jitter_for(timedelta(days=1)) == 300


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord(
        "exporter.refresh", logging.WARNING, __file__, 1, "refresh failed: %s", ("x",), None
    )
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_the_extra_fields() -> None:
    doc = json.loads(JsonFormatter().format(record(account_id="123", reason="throttled")))
    assert doc["msg"] == "refresh failed: x" and doc["level"] == "warning"
    assert doc["account_id"] == "123" and doc["reason"] == "throttled"
    assert doc["logger"] == "exporter.refresh" and doc["time"].endswith("+00:00")


def test_setup_quietens_apscheduler_unless_debug() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info", "json")
        assert logging.getLogger("apscheduler").level == logging.WARNING
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        setup_logging("debug", "text")
        assert logging.getLogger("apscheduler").level == logging.DEBUG
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)
        logging.getLogger("botocore").setLevel(logging.NOTSET)
