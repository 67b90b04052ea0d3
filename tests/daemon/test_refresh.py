"""The refresh job: isolation of failures, carried counters, changes, atomic snapshots."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from exporter.config import Config
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import AccountState
from exporter.sources.base import FetchedReport, SourceError
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.sample_reports import NOW, report_csv, root_row, sample_report, user_row

A, B = "111111111111", "222222222222"


class Source:
    """A report source whose next answer the test chooses."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.error: Exception | None = None
        self.calls = 0

    def fetch(self) -> FetchedReport:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return FetchedReport(self.content, NOW - timedelta(hours=2))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def refresher(
    targets: list[AccountTarget], clock: Callable[[], datetime] = lambda: NOW, **kw: object
) -> Refresher:
    r = Refresher(lambda: targets, Config(), now=clock, **kw)  # type: ignore[arg-type]
    return r


def test_first_run_creates_a_snapshot_per_account() -> None:
    r = refresher(
        [
            AccountTarget(A, "prod", Source(sample_report(2, A))),
            AccountTarget(B, "dev", Source(sample_report(5, B))),
        ]
    )
    assert r.snapshot is None
    snap = r.run()
    assert r.snapshot is snap and snap.generation == 1
    a, b = snap.accounts
    assert (a.account_id, a.name, a.success) == (A, "prod", True)
    assert a.analysis is not None and len(a.analysis.report.users) == 2
    assert b.analysis is not None and len(b.analysis.report.users) == 5
    samples = parse_samples(snap.exposition.text.decode())
    assert sample_value(samples, "aws_iam_users", account_id=B) == 5
    r.close()


def test_a_failing_account_keeps_its_data_and_does_not_touch_the_others() -> None:
    bad = Source(sample_report(2, A))
    r = refresher(
        [AccountTarget(A, "prod", bad), AccountTarget(B, "dev", Source(sample_report(1, B)))]
    )
    first = r.run()
    bad.error = SourceError("throttled", "Rate exceeded")
    second = r.run()
    bad.error = RuntimeError("boom")
    third = r.run()
    a = third.account(A)
    assert a is not None and not a.success
    assert a.analysis == second.account(A).analysis  # type: ignore[union-attr]
    assert dict(a.errors_total) == {"throttled": 1, "error": 1}
    assert a.last_error_reason == "error" and "boom" in (a.last_error_message or "")
    assert a.last_success == first.account(A).last_success  # type: ignore[union-attr]
    other = third.account(B)
    assert other is not None and other.success and not other.errors_total
    samples = parse_samples(third.exposition.text.decode())
    assert sample_value(samples, "aws_iam_exporter_refresh_success", account_id=A) == 0
    assert sample_value(samples, "aws_iam_exporter_refresh_success", account_id=B) == 1
    assert sample_value(samples, "aws_iam_users", account_id=A) == 2
    assert (
        sample_value(
            samples, "aws_iam_exporter_refresh_errors_total", account_id=A, reason="throttled"
        )
        == 1
    )
    bad.error = None
    recovered = r.run().account(A)
    assert recovered is not None and recovered.success and recovered.errors_total == a.errors_total
    r.close()


def test_ages_move_with_the_clock_even_when_the_fetch_fails() -> None:
    # A key 89 days old is not stale; two days later it is, although AWS is down.
    content = report_csv(root_row(A), user_row("ci", A, key_age=89, key_used=1))
    source = Source(content)
    clock = Clock()
    r = refresher([AccountTarget(A, "prod", source)], clock)
    findings = lambda snap: {f.check for f in snap.accounts[0].analysis.evaluation.findings}  # noqa: E731
    assert "access_key_not_rotated" not in findings(r.run())
    clock.now = NOW + timedelta(days=2)
    source.error = SourceError("timeout", "slow")
    later = r.run()
    assert not later.accounts[0].success
    assert "access_key_not_rotated" in findings(later)
    assert later.accounts[0].evaluated_at == clock.now
    r.close()


def test_changes_between_reports_are_counted() -> None:
    source = Source(report_csv(root_row(A), user_row("alice", A, password_used=1)))
    r = refresher([AccountTarget(A, "prod", source)])
    r.run()
    source.content = report_csv(
        root_row(A),
        user_row("alice", A, password_used=1, mfa=True),
        user_row("bob", A),
        user_row("carol", A),
    )
    snap = r.run()
    changes = snap.accounts[0].changes_total
    assert (
        changes["user_created"] == 2
        and changes["mfa_enabled"] == 1
        and changes["user_deleted"] == 0
    )
    source.content = report_csv(root_row(A), user_row("alice", A, password_used=1, mfa=True))
    changes = r.run().accounts[0].changes_total
    assert changes["user_created"] == 2 and changes["user_deleted"] == 2
    r.close()


def test_account_id_is_learned_from_the_report_when_unknown() -> None:
    source = Source(sample_report(1, B))
    source.error = SourceError("file_error", "missing")
    r = refresher([AccountTarget("", "/data/report.csv", source)])
    first = r.run()
    # Not read yet: no account, so no series; the source is listed as pending.
    assert first.accounts == ()
    (pending,) = first.pending
    assert (pending.name, pending.reason, pending.failures) == ("/data/report.csv", "file_error", 1)
    source.error = None
    second = r.run()
    state = second.accounts[0]
    assert state.account_id == B and state.name == "/data/report.csv"
    assert dict(state.errors_total) == {} and not second.pending
    r.close()


def test_accounts_refresh_in_parallel() -> None:
    # Each fetch waits for the other two: this only completes if three run at once.
    barrier = threading.Barrier(3, timeout=30)

    class Waiting(Source):
        def fetch(self) -> FetchedReport:
            barrier.wait()
            return super().fetch()

    ids = ["100000000001", "100000000002", "100000000003"]
    r = refresher([AccountTarget(i, i, Waiting(sample_report(1, i))) for i in ids], workers=3)
    assert all(s.success for s in r.run().accounts)
    r.close()


def test_failing_account_list_keeps_the_previous_one() -> None:
    calls = {"n": 0}
    target = AccountTarget(A, "prod", Source(sample_report(1, A)))

    def targets() -> list[AccountTarget]:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("ListAccounts failed")
        return [target]

    r = Refresher(targets, Config(), now=lambda: NOW)
    r.run()
    assert [s.account_id for s in r.run().accounts] == [A]
    r.close()


def test_state_hooks_can_extend_and_failures_are_contained() -> None:
    def add_extra(target: AccountTarget, state: AccountState, now: datetime) -> AccountState:
        from dataclasses import replace

        return replace(state, unevaluated=frozenset({"role"}))

    def broken(target: AccountTarget, state: AccountState, now: datetime) -> AccountState:
        raise ValueError("bug in hook")

    seen = []
    r = refresher(
        [AccountTarget(A, "prod", Source(sample_report(1, A)))],
        hooks=[add_extra, broken],
        on_snapshot=[seen.append],
    )
    snap = r.run()
    assert snap.accounts[0].unevaluated == {"role"} and snap.accounts[0].success
    assert seen == [snap]
    r.close()


def test_snapshot_swap_is_all_or_nothing() -> None:
    # Readers racing with refreshes must always see one whole snapshot.
    source = Source(sample_report(1, A))
    r = refresher([AccountTarget(A, "prod", source)])
    r.run()
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            snap = r.snapshot
            assert snap is not None
            users = len(snap.accounts[0].analysis.report.users)  # type: ignore[union-attr]
            text = snap.exposition.text.decode()
            if f'aws_iam_users{{account_id="{A}"}} {float(users)}' not in text:
                bad.append(f"generation {snap.generation}: {users} users")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(40):
        source.content = sample_report(1 + i % 5, A)
        r.run()
    stop.set()
    for t in threads:
        t.join()
    assert not bad
    r.close()


@pytest.mark.parametrize("workers", [0, -3])
def test_worker_count_is_at_least_one(workers: int) -> None:
    r = refresher([AccountTarget(A, "prod", Source(sample_report(1, A)))], workers=workers)
    assert r.workers == 1 and r.run().accounts[0].success
    r.close()


def test_a_renamed_account_keeps_its_counters_under_the_new_name() -> None:
    source = Source(sample_report(1, A))
    targets = [AccountTarget(A, "old-name", source)]
    r = Refresher(lambda: targets, Config(), now=lambda: NOW)
    source.error = SourceError("throttled", "slow down")
    r.run()
    source.error = None
    targets[0] = AccountTarget(A, "new-name", source)
    state = r.run().accounts[0]
    assert state.name == "new-name" and dict(state.errors_total) == {"throttled": 1}
    r.close()


class _Overlap:
    """How many threads are inside a section at once, at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0

    def enter(self) -> None:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def test_fetches_overlap_but_one_account_is_computed_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parsing and evaluating hold the GIL: threads doing it at once only take turns,
    and keep a scrape waiting longer. Reading (which releases it) still overlaps."""
    from exporter.daemon import refresh

    fetching, computing = _Overlap(), _Overlap()
    all_fetching = threading.Barrier(3, timeout=10)

    class Slow(Source):
        def fetch(self) -> FetchedReport:
            fetching.enter()
            try:
                all_fetching.wait()  # the three fetches are under way together
                return super().fetch()
            finally:
                fetching.leave()

    real = refresh.analyse

    def analyse(*args: object) -> object:
        computing.enter()
        try:
            threading.Event().wait(0.02)  # give another thread the chance to come in
            return real(*args)  # type: ignore[arg-type]
        finally:
            computing.leave()

    monkeypatch.setattr(refresh, "analyse", analyse)
    accounts = [f"{n:012d}" for n in (1, 2, 3)]
    targets = [AccountTarget(a, a, Slow(sample_report(3, a))) for a in accounts]
    r = refresher(targets, workers=3)
    snap = r.run()
    r.close()
    assert all(s.success for s in snap.accounts)
    assert fetching.most == 3
    assert computing.most == 1


def test_attempts_that_never_stop_overlapping_still_let_the_collector_run() -> None:
    """Each attempt pauses the cyclic collector until it ends; attempts that always
    overlap would keep it paused for good. Between attempts, the young objects are
    then collected anyway, at most every ``starved_seconds``."""
    from exporter.core.report import gc_paused

    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    r = refresher([AccountTarget(A, "prod", Source(sample_report(2, A)))])
    r.starved_seconds = 0.0
    gc.callbacks.append(seen)
    try:
        with gc_paused():  # another attempt that never ends
            r.run()
            r.run()
    finally:
        gc.callbacks.remove(seen)
        r.close()
    assert collections and max(collections) == 1
