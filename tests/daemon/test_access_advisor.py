"""The Access Advisor pipeline against a local fake source: budget, concurrency,
throttling backoff, failures by reason, results carried over, and no delay to refreshes."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from exporter.config import config_from_dict
from exporter.core.records import RoleRecord, ServiceUse
from exporter.daemon.access_advisor import AccessAdvisor, Pacing
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.sources.base import SourceError
from exporter.sources.demo import DEMO_PRODUCTION, DemoSource
from tests.support.exporter_process import parse_samples, sample_value

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "123456789012"
FAST = Pacing(first_poll=0.001, max_poll=0.004, job_deadline=0.2, throttle_backoff=0.001,
              throttle_retries=3)  # fmt: skip


def roles(n: int, linked: int = 0) -> list[RoleRecord]:
    out = [RoleRecord(f"r{i}", f"arn:aws:iam::{ACCOUNT}:role/r{i}", "/", NOW - timedelta(days=400))
           for i in range(n)]  # fmt: skip
    out += [RoleRecord(f"AWSServiceRoleFor{i}", f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/"
                       f"x/AWSServiceRoleFor{i}", "/aws-service-role/x/", NOW - timedelta(days=400))
            for i in range(linked)]  # fmt: skip
    return out


class FakeAdvisorSource:
    """Answers like IAM: a job id, then IN_PROGRESS ``polls`` times, then its services.
    ``throttle`` calls are refused first; ``fail`` names roles whose job fails."""

    def __init__(self, polls: int = 1, throttle: int = 0, fail: set[str] | None = None,
                 block: threading.Event | None = None) -> None:  # fmt: skip
        self.polls, self.throttle, self.fail, self.block = polls, throttle, fail or set(), block
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.running = self.most_running = 0
        self._left: dict[str, int] = {}

    def start_access_advisor_job(self, arn: str) -> str:
        with self.lock:
            if self.throttle:
                self.throttle -= 1
                raise SourceError("throttled", "AWS throttled the request (Throttling)")
            self.started.append(arn)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self._left[arn] = self.polls
        return arn

    def poll_access_advisor_job(self, job_id: str) -> tuple[ServiceUse, ...] | None:
        if self.block is not None:
            self.block.wait(5)
        time.sleep(0.002)  # long enough for jobs to overlap
        with self.lock:
            if self._left[job_id] > 0:
                self._left[job_id] -= 1
                return None
            self.running -= 1
        if job_id.rsplit("/", 1)[1] in self.fail:
            raise SourceError("job_failed", "the Access Advisor job failed (InternalError)")
        return (ServiceUse("s3", "Amazon S3", NOW - timedelta(days=200)),)


def advisor(raw_flags: dict[str, object] | None = None, now: list[datetime] | None = None
            ) -> AccessAdvisor:  # fmt: skip
    clock = now or [NOW]
    config = config_from_dict({"flags": {"access-advisor.enabled": True, **(raw_flags or {})}})
    return AccessAdvisor(config, now=lambda: clock[0], pacing=FAST)


def metrics(a: AccessAdvisor) -> dict[str, list[tuple[dict[str, str], float]]]:
    registry = CollectorRegistry()
    registry.register(a.collector())
    return parse_samples(generate_latest(registry).decode())


def test_budget_per_account_per_run_and_bounded_concurrency() -> None:
    a = advisor({"access-advisor.jobs-per-account": 3, "access-advisor.concurrency": 2})
    source = FakeAdvisorSource(polls=2)
    a.observe(ACCOUNT, source, roles(7, linked=2))
    assert a.pending(ACCOUNT) == 7  # service-linked roles excluded
    a.run()
    assert len(source.started) == 3 and source.most_running <= 2
    assert a.pending(ACCOUNT) == 4
    a.run()
    a.run()
    assert len(set(source.started)) == 7 and a.pending(ACCOUNT) == 0
    assert not [arn for arn in source.started if "aws-service-role" in arn]
    a.run()  # every result is fresh: nothing to do until they are older than the interval
    assert len(source.started) == 7
    samples = metrics(a)
    assert sample_value(samples, "aws_iam_exporter_access_advisor_jobs_started_total",
                        account_id=ACCOUNT) == 7  # fmt: skip
    assert sample_value(samples, "aws_iam_exporter_access_advisor_jobs_completed_total",
                        account_id=ACCOUNT) == 7  # fmt: skip
    assert sample_value(samples, "aws_iam_exporter_access_advisor_principals_pending",
                        account_id=ACCOUNT) == 0  # fmt: skip


def test_stale_results_are_read_again_oldest_first() -> None:
    clock = [NOW]
    a = advisor({"access-advisor.jobs-per-account": 2, "access-advisor.interval": "24h"}, clock)
    source = FakeAdvisorSource(polls=0)
    a.observe(ACCOUNT, source, roles(2))
    a.run()
    clock[0] = NOW + timedelta(hours=24)
    a.run()
    assert len(source.started) == 4


def test_throttling_backs_off_and_then_succeeds() -> None:
    a = advisor()
    source = FakeAdvisorSource(throttle=2)
    a.observe(ACCOUNT, source, roles(1))
    a.run()
    assert a.completed[ACCOUNT] == 1 and not a.failed


def test_failures_are_counted_by_reason_and_the_last_result_is_kept() -> None:
    clock = [NOW]
    a = advisor({"access-advisor.interval": "1h"}, clock)
    a.observe(ACCOUNT, FakeAdvisorSource(), roles(2))
    a.run()
    before = a.attach(ACCOUNT, roles(2))
    assert all(r.services for r in before)
    clock[0] = NOW + timedelta(hours=2)
    # Now r0's job fails, r1's never completes, then AWS throttles for good.
    a.observe(ACCOUNT, FakeAdvisorSource(fail={"r0"}, polls=10_000), roles(2))
    a.run()
    a.observe(ACCOUNT, FakeAdvisorSource(throttle=100), roles(2))
    a.run()
    samples = metrics(a)
    failed = {
        lab["reason"]: v for lab, v in samples["aws_iam_exporter_access_advisor_jobs_failed_total"]
    }
    assert failed["job_timeout"] == 2 and failed["throttled"] == 2 and failed["access_denied"] == 0
    assert a.attach(ACCOUNT, roles(2)) == before  # carried over


def test_a_failing_job_is_job_failed() -> None:
    a = advisor()
    a.observe(ACCOUNT, FakeAdvisorSource(polls=0, fail={"r0"}), roles(1))
    a.run()
    assert a.failed == {(ACCOUNT, "job_failed"): 1}
    assert a.attach(ACCOUNT, roles(1))[0].services is None


def test_findings_reach_the_exposition_and_a_blocked_job_delays_no_refresh() -> None:
    config = config_from_dict({"flags": {"access-advisor.enabled": True}})
    a = AccessAdvisor(config, now=lambda: NOW, pacing=Pacing(first_poll=0.001, job_deadline=10))

    class Source(DemoSource):
        def __init__(self) -> None:
            super().__init__(lambda: NOW, DEMO_PRODUCTION)
            self.fake = FakeAdvisorSource(polls=0, block=gate)

        def start_access_advisor_job(self, arn: str) -> str:
            return self.fake.start_access_advisor_job(arn)

        def poll_access_advisor_job(self, job_id: str) -> tuple[ServiceUse, ...] | None:
            return self.fake.poll_access_advisor_job(job_id)

    gate = threading.Event()
    target = AccountTarget(DEMO_PRODUCTION.account_id, DEMO_PRODUCTION.name, Source())
    wiring = AccountsWiring(config, fixed=[target])
    wiring.advisor = a
    refresher = Refresher(wiring.targets, config, ExpositionOptions(collectors=(wiring.collector,)),
                          now=lambda: NOW, hooks=[wiring.state_hook])  # fmt: skip
    try:
        first = parse_samples(refresher.run().exposition.text.decode())
        aid = DEMO_PRODUCTION.account_id
        checks = {lab["check"] for lab, _ in first["aws_iam_findings"] if lab["account_id"] == aid}
        assert "role_unused_services" not in checks  # not evaluated: no answer yet
        run = threading.Thread(target=a.run)
        run.start()  # its jobs hang on the gate
        started = time.monotonic()
        refresher.run()  # a refresh while they hang
        assert run.is_alive(), "the Access Advisor run should still be blocked"
        assert time.monotonic() - started < 5
        gate.set()
        run.join(10)
        samples = parse_samples(refresher.run().exposition.text.decode())
    finally:
        gate.set()
        refresher.close()
    # Four non-service-linked production roles, each granted S3 unused for 200 days.
    assert sample_value(samples, "aws_iam_findings", account_id=aid,
                        check="role_unused_services") == 4  # fmt: skip
    series = [lab["role"] for lab, _ in samples["aws_iam_role_finding"]
              if lab["check"] == "role_unused_services"]  # fmt: skip
    assert "AWSServiceRoleForSupport" not in series and len(series) == 4


def test_compose_wires_it_only_for_aws_accounts_when_enabled() -> None:
    from exporter.daemon.app import Hooks
    from exporter.daemon.compose import with_access_advisor

    config = config_from_dict({"flags": {"access-advisor.enabled": True}})
    wiring = AccountsWiring(config)  # the ambient account: a directory, no AWS call yet
    hooks = with_access_advisor(Hooks(), wiring, config)
    assert list(hooks.services) == [wiring.advisor]
    assert len(hooks.live_collectors) == 1
    assert wiring.advisor.interval == timedelta(hours=24) and wiring.advisor.budget == 100


def test_its_schedule_starts_and_stops_with_the_daemon() -> None:
    from exporter.config import Config
    from exporter.config.settings import Settings
    from exporter.daemon.app import Daemon, Hooks

    class Service:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def start(self) -> None:
            self.calls.append("start")

        def stop(self) -> None:
            self.calls.append("stop")

    service = Service()
    config = Config(settings=Settings(web_listen_address="127.0.0.1:0"))
    daemon = Daemon(lambda: [], config, Hooks(services=[service]))
    daemon.start(schedule=True)
    try:
        assert service.calls == ["start"]
    finally:
        daemon.stop()
    assert service.calls == ["start", "stop"]
    a = advisor()
    a.start()
    assert a._scheduler.running
    a.stop()
    assert not a._scheduler.running


def test_the_demo_runs_its_answers_through_the_pipeline_when_enabled() -> None:
    from exporter.daemon.access_advisor import AccessAdvisor as Advisor
    from exporter.daemon.compose import build_daemon
    from exporter.sources.demo import DEMO_ACCOUNTS, DEMO_MEMBER

    flags = {"demo": True, "access-advisor.enabled": True, "web.listen-address": "127.0.0.1:0"}
    daemon = build_daemon(config_from_dict({"flags": flags}))
    daemon.start(schedule=False)  # (stopping a daemon never started waits for its server)
    try:
        wired = [s for s in daemon._services if isinstance(s, Advisor)]
        assert len(wired) == 1, "--demo --access-advisor.enabled runs the job pipeline"
    finally:
        daemon.stop()
    config = config_from_dict({"flags": {"access-advisor.enabled": True}})
    a = AccessAdvisor(config, now=lambda: NOW, pacing=Pacing(first_poll=0.001))
    targets = [AccountTarget(d.account_id, d.name, DemoSource(lambda: NOW, d))
               for d in DEMO_ACCOUNTS]  # fmt: skip
    wiring = AccountsWiring(config, fixed=targets)
    wiring.advisor = a
    refresher = Refresher(wiring.targets, config, ExpositionOptions(collectors=(wiring.collector,)),
                          now=lambda: NOW, hooks=[wiring.state_hook])  # fmt: skip
    try:
        refresher.run()
        a.run()
        samples = parse_samples(refresher.run().exposition.text.decode())
    finally:
        refresher.close()
    pipeline = metrics(a)
    done = pipeline["aws_iam_exporter_access_advisor_jobs_completed_total"]
    completed = {lab["account_id"]: v for lab, v in done}
    # Every role but the service-linked one, in each account; none failed or is pending.
    assert completed == {d.account_id: len([r for r in d.roles if "aws-service-role" not in r[1]])
                         for d in DEMO_ACCOUNTS}  # fmt: skip
    assert all(v == 0 for _, v in pipeline["aws_iam_exporter_access_advisor_jobs_failed_total"])
    assert all(v == 0 for _, v in pipeline["aws_iam_exporter_access_advisor_principals_pending"])
    unused = {lab["account_id"]: v for lab, v in samples["aws_iam_findings"]
              if lab["check"] == "role_unused_services"}  # fmt: skip
    # Now evaluated everywhere: the member's two roles, nothing unused elsewhere.
    assert unused == {d.account_id: (2 if d is DEMO_MEMBER else 0) for d in DEMO_ACCOUNTS}
