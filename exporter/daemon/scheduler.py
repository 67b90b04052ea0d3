"""The refresh schedule: an APScheduler 3.x interval job that also runs at start-up.

The job (``Refresher.tick``) only queues each account's refresh and returns, so a
slow account never makes the scheduler skip a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("exporter.scheduler")

JOB_ID = "refresh"


def jitter_for(interval: timedelta) -> float:
    """Up to 10% of the interval, at most 5 minutes: spreads replicas without drifting far."""
    return min(interval.total_seconds() * 0.1, 300.0)


def start_scheduler(job: Callable[[], Any], interval: timedelta) -> Any:
    """Start a background scheduler running ``job`` now and then every ``interval``.

    Runs never overlap (max_instances=1); runs missed while one was too slow are
    merged into one (coalesce) and may start late by up to a whole interval
    without APScheduler warning about every missed second.
    """
    scheduler = BackgroundScheduler(timezone=timezone.utc)
    seconds = max(interval.total_seconds(), 1.0)
    scheduler.add_job(
        _guard(job),
        "interval",
        seconds=seconds,
        jitter=jitter_for(interval) or None,
        id=JOB_ID,
        name="refresh credential reports",
        next_run_time=datetime.now(timezone.utc),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(seconds)),
    )
    scheduler.start()
    return scheduler


def _guard(job: Callable[[], Any]) -> Callable[[], None]:
    # The refresh job already isolates account failures; this catches bugs so that
    # APScheduler's own traceback logging does not become the only trace.
    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("refresh job failed")

    return run
