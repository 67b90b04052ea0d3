"""IAM Access Advisor on its own schedule, apart from the credential-report refresh.

Access Advisor jobs are asynchronous and rate-limited, so they never run inside a
refresh. The state hook (accounts.py) tells ``AccessAdvisor`` each account's roles
(``observe``) and attaches the services known so far (``attach``); the scheduled job
(``run``) starts jobs for the roles whose result is missing or older than
``--access-advisor.interval``, at most ``--access-advisor.jobs-per-account`` per account
per run, ``--access-advisor.concurrency`` at a time, backing off on throttling. Results
are kept between runs (in memory), so one slow or failing job only leaves its own role's
result as it was. Roles under ``accounts.roles.exclude_paths`` (service-linked roles by
default) get no job.

The run is checked every ``min(interval, CHECK_EVERY)``: a new account or a role without
a result does not wait a whole interval for its first job.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.config import Config
from exporter.core.records import RoleRecord, ServiceUse
from exporter.sources.base import SourceError

log = logging.getLogger("exporter.access_advisor")

CHECK_EVERY = timedelta(minutes=15)
# The reasons a job fails with, each counted from 0.
FAIL_REASONS = ("throttled", "job_failed", "job_timeout", "access_denied", "error")


class AdvisorSource(Protocol):
    def start_access_advisor_job(self, arn: str) -> str: ...
    def poll_access_advisor_job(self, job_id: str) -> tuple[ServiceUse, ...] | None: ...


@dataclass(frozen=True)
class Pacing:
    """How a job waits: polls from ``first_poll`` doubling to ``max_poll`` seconds, up to
    ``job_deadline``; a throttled call is retried after ``throttle_backoff`` doubling,
    ``throttle_retries`` times."""

    first_poll: float = 2.0
    max_poll: float = 30.0
    job_deadline: float = 600.0
    throttle_backoff: float = 5.0
    throttle_retries: int = 4


class _Result:
    __slots__ = ("at", "services")

    def __init__(self, at: datetime, services: tuple[ServiceUse, ...]) -> None:
        self.at, self.services = at, services


def _age_key(result: _Result | None) -> datetime:
    return datetime.min.replace(tzinfo=timezone.utc) if result is None else result.at


class AccessAdvisor:
    def __init__(
        self,
        config: Config,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        pacing: Pacing | None = None,
    ) -> None:
        s = config.settings
        self.interval = s.access_advisor_interval
        self.budget = s.access_advisor_jobs_per_account
        self.concurrency = s.access_advisor_concurrency
        self.exclude_paths = config.roles.exclude_paths
        self.pacing = pacing or Pacing()
        self._now = now
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._run_lock = threading.Lock()
        self._sources: dict[str, AdvisorSource] = {}
        self._roles: dict[str, tuple[RoleRecord, ...]] = {}
        self._results: dict[str, dict[str, _Result]] = {}
        self.started: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()
        self._scheduler: Any = None

    # -- fed by the refresh's state hook ----------------------------------------------------

    def observe(self, account_id: str, source: Any, roles: Sequence[RoleRecord]) -> None:
        if not callable(getattr(source, "start_access_advisor_job", None)):
            return
        with self._lock:
            self._sources[account_id] = source
            self._roles[account_id] = tuple(roles)

    def attach(self, account_id: str, roles: Sequence[RoleRecord]) -> tuple[RoleRecord, ...]:
        """``roles`` with the services Access Advisor reported for each, where it did."""
        with self._lock:
            known = dict(self._results.get(account_id, {}))
        return tuple(
            r._replace(services=known[r.arn].services) if r.arn in known else r for r in roles
        )

    # -- the scheduled run ------------------------------------------------------------------

    def run(self) -> None:
        if not self._run_lock.acquire(blocking=False):
            return  # the previous run is still going
        try:
            plan = self._plan()
            if not plan:
                return
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="advisor") as pool:
                list(pool.map(lambda job: self._job(*job), plan))
        finally:
            self._run_lock.release()

    def _plan(self) -> list[tuple[str, AdvisorSource, str]]:
        """(account, source, role ARN) of the jobs of this run: per account, the roles
        never read first, then the oldest results, at most ``budget``."""
        stale = self._now() - self.interval
        plan: list[tuple[str, AdvisorSource, str]] = []
        with self._lock:
            for account_id, roles in self._roles.items():
                results = self._results.get(account_id, {})
                due = [r for r in self._eligible(roles)
                       if r.arn not in results or results[r.arn].at <= stale]  # fmt: skip
                # Never read first, then the oldest results.
                due.sort(key=lambda r: (r.arn in results, _age_key(results.get(r.arn)), r.arn))
                source = self._sources[account_id]
                plan.extend((account_id, source, r.arn) for r in due[: self.budget])
        return plan

    def _eligible(self, roles: Sequence[RoleRecord]) -> list[RoleRecord]:
        return [r for r in roles if not r.path.startswith(self.exclude_paths)]

    def _job(self, account_id: str, source: AdvisorSource, arn: str) -> None:
        if self._stop.is_set():
            return
        try:
            job_id = self._throttled(lambda: source.start_access_advisor_job(arn))
            with self._lock:
                self.started[account_id] += 1
            services = self._wait(source, job_id)
        except SourceError as err:
            reason = err.reason if err.reason in FAIL_REASONS else "error"
            with self._lock:
                self.failed[(account_id, reason)] += 1
            where = {"account_id": account_id, "reason": reason, "role": arn}
            log.warning("Access Advisor job failed: %s", err, extra=where)
            return
        except Exception as err:  # a bug must not end the run for the other roles
            with self._lock:
                self.failed[(account_id, "error")] += 1
            log.exception("Access Advisor job failed: %s", err, extra={"account_id": account_id})
            return
        with self._lock:
            self.completed[account_id] += 1
            self._results.setdefault(account_id, {})[arn] = _Result(self._now(), services)

    def _wait(self, source: AdvisorSource, job_id: str) -> tuple[ServiceUse, ...]:
        p = self.pacing
        waited, delay = 0.0, p.first_poll
        while True:
            services: tuple[ServiceUse, ...] | None = self._throttled(
                lambda: source.poll_access_advisor_job(job_id)
            )
            if services is not None:
                return services
            if waited + delay > p.job_deadline or self._stop.wait(delay):
                raise SourceError("job_timeout", f"the Access Advisor job {job_id} did not "
                                  f"complete within {p.job_deadline:g}s")  # fmt: skip
            waited += delay
            delay = min(delay * 2, p.max_poll)

    def _throttled(self, call: Callable[[], Any]) -> Any:
        """``call``, retried after a growing pause while AWS throttles it (botocore
        already retried it a few times: this is the slower, outer backoff)."""
        delay = self.pacing.throttle_backoff
        for attempt in range(self.pacing.throttle_retries + 1):
            try:
                return call()
            except SourceError as err:
                if err.reason != "throttled" or attempt == self.pacing.throttle_retries:
                    raise
            if self._stop.wait(delay):
                raise SourceError("throttled", "stopped while backing off")
            delay *= 2
        raise AssertionError("unreachable")

    # -- schedule and metrics ---------------------------------------------------------------

    def pending(self, account_id: str) -> int:
        """The account's eligible roles without any result yet."""
        with self._lock:
            results = self._results.get(account_id, {})
            return sum(1 for r in self._eligible(self._roles.get(account_id, ()))
                       if r.arn not in results)  # fmt: skip

    def start(self) -> None:
        every = max(1.0, min(self.interval, CHECK_EVERY).total_seconds())
        scheduler = BackgroundScheduler(timezone=timezone.utc)
        scheduler.add_job(self.run, "interval", seconds=every, id="access-advisor",
                          name="IAM Access Advisor jobs", max_instances=1, coalesce=True,
                          misfire_grace_time=int(every))  # fmt: skip
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)

    def collector(self) -> Collector:
        return _AdvisorCollector(self)


class _AdvisorCollector(Collector):
    def __init__(self, advisor: AccessAdvisor) -> None:
        self.advisor = advisor

    def collect(self) -> Iterator[Metric]:
        a = self.advisor
        started = CounterMetricFamily(
            "aws_iam_exporter_access_advisor_jobs_started",
            "Access Advisor jobs started (GenerateServiceLastAccessedDetails).",
            labels=["account_id"],
        )
        completed = CounterMetricFamily(
            "aws_iam_exporter_access_advisor_jobs_completed",
            "Access Advisor jobs completed and their results kept.",
            labels=["account_id"],
        )
        failed = CounterMetricFamily(
            "aws_iam_exporter_access_advisor_jobs_failed",
            "Access Advisor jobs that failed, by reason (the role keeps its last result).",
            labels=["account_id", "reason"],
        )
        pending = GaugeMetricFamily(
            "aws_iam_exporter_access_advisor_principals_pending",
            "Roles Access Advisor has not reported on yet (service-linked roles excluded).",
            labels=["account_id"],
        )
        with a._lock:
            accounts = sorted(a._roles)
            counts = (dict(a.started), dict(a.completed), dict(a.failed))
        for account_id in accounts:
            started.add_metric([account_id], counts[0].get(account_id, 0))
            completed.add_metric([account_id], counts[1].get(account_id, 0))
            for reason in FAIL_REASONS:
                failed.add_metric([account_id, reason], counts[2].get((account_id, reason), 0))
            pending.add_metric([account_id], a.pending(account_id))
        yield from (started, completed, failed, pending)
