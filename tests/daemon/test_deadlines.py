"""Each account refreshes on its own, within one deadline: a hung source times out
alone, keeps its last good data, is never restarted while stuck, and never delays
the publication of the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from exporter.config import Config
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.workers import Attempt, Workers
from exporter.sources.base import FetchedReport
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.sample_reports import NOW, sample_report

A, B = "111111111111", "222222222222"
DEADLINE = timedelta(seconds=0.5)


class Hanging:
    """A source that answers at once until ``hang()``; then each fetch blocks until
    ``release()``, like a socket read of a response that trickles in."""

    def __init__(self, account: str) -> None:
        self.content = sample_report(2, account)
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0

    def hang(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def fetch(self) -> FetchedReport:
        self.calls += 1
        self.gate.wait(30)
        return FetchedReport(self.content, NOW - timedelta(hours=1))


@pytest.fixture
def sources() -> Iterator[tuple[Hanging, Hanging]]:
    a, b = Hanging(A), Hanging(B)
    yield a, b
    a.release()
    b.release()


def refresher(*sources: Hanging, workers: int = 4) -> Refresher:
    targets = [AccountTarget(acc, acc, s) for acc, s in zip((A, B), sources, strict=False)]
    return Refresher(lambda: targets, Config(), now=lambda: NOW, workers=workers,
                     deadline=DEADLINE)  # fmt: skip


def value(r: Refresher, name: str, **labels: str) -> float | None:
    assert r.snapshot is not None
    return sample_value(parse_samples(r.snapshot.exposition.text.decode()), name, **labels)


@pytest.fixture
def stuck(sources: tuple[Hanging, Hanging]) -> Iterator[tuple[Refresher, Hanging, Hanging]]:
    """A refresher whose accounts both have data, and whose source B now hangs."""
    a, b = sources
    r = refresher(a, b)
    try:
        r.run()
        b.hang()
        yield r, a, b
    finally:
        r.close()


def test_a_hung_account_times_out_alone_and_keeps_its_data(
    stuck: tuple[Refresher, Hanging, Hanging],
) -> None:
    r, _, _ = stuck
    started = time.monotonic()
    snapshot = r.run()  # returns at B's deadline, not when B answers
    assert time.monotonic() - started < DEADLINE.total_seconds() + 2
    stuck_state, fine = snapshot.account(B), snapshot.account(A)
    assert stuck_state is not None and fine is not None
    assert fine.success and not stuck_state.success and stuck_state.last_error_reason == "timeout"
    assert "within its deadline of 0.5s" in (stuck_state.last_error_message or "")
    assert value(r, "aws_iam_exporter_refresh_success", account_id=B) == 0
    assert value(r, "aws_iam_exporter_refresh_errors_total",
                 account_id=B, reason="timeout") == 1  # fmt: skip
    assert value(r, "aws_iam_users", account_id=B) == 2  # the last good data stays


def test_a_stuck_attempt_is_not_restarted_and_counts_as_timed_out_again(
    stuck: tuple[Refresher, Hanging, Hanging],
) -> None:
    r, a, b = stuck
    r.run()
    calls, other_calls = b.calls, a.calls
    second = r.run()  # B's first attempt is still blocked: no second one
    assert b.calls == calls
    # ...while the other account's next refresh runs as scheduled.
    assert a.calls == other_calls + 1 and second.account(A).success  # type: ignore[union-attr]
    stuck_state = second.account(B)
    assert stuck_state is not None and dict(stuck_state.errors_total) == {"timeout": 2}
    assert "still running" in (stuck_state.last_error_message or "")
    b.release()  # the stuck call returns: its result is dropped...
    deadline = time.monotonic() + 10
    while r._pool.current(B) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert r.snapshot is not None and not r.snapshot.account(B).success  # type: ignore[union-attr]
    recovered = r.run().account(B)  # ...and the next round starts afresh
    assert recovered is not None and recovered.success
    assert dict(recovered.errors_total) == {"timeout": 2}


def test_the_healthy_account_is_published_while_the_other_hangs(
    sources: tuple[Hanging, Hanging],
) -> None:
    a, b = sources
    b.hang()
    r = refresher(a, b)
    r.publisher.slow_seconds = 0.1  # 5 s in production: B is slow sooner here
    try:
        r.tick()  # what the scheduler calls: it returns at once
        deadline = time.monotonic() + 5
        while r.snapshot is None:
            assert time.monotonic() < deadline, "A was not published while B hung"
            time.sleep(0.01)
        assert [s.account_id for s in r.snapshot.accounts] == [A]
        assert not r.snapshot.ready  # B has neither data nor a failure yet
        while not r.snapshot.ready:  # B's deadline: a recorded failure
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert value(r, "aws_iam_exporter_refresh_success", account_id=B) == 0
        assert value(r, "aws_iam_exporter_refresh_success", account_id=A) == 1
    finally:
        r.close()


def test_stuck_threads_free_their_slot_but_stay_one_per_account() -> None:
    gates = {k: threading.Event() for k in "abc"}
    ran: list[str] = []
    expired: list[str] = []

    def job(attempt: Attempt) -> None:
        ran.append(attempt.key)
        gates[attempt.key].wait(30)

    pool = Workers(1, 0.2, lambda a: expired.append(a.key))
    try:
        first = pool.submit("a", job)
        assert first is not None and pool.submit("a", job) is None  # one per key
        later = [pool.submit("b", job), pool.submit("c", job)]
        assert all(later)
        for attempt in (first, *later):
            assert attempt is not None and attempt.done.wait(5)  # each expired in turn
        assert ran == ["a", "b", "c"] and expired == ["a", "b", "c"]
        assert pool.submit("a", job) is None  # still stuck in its call
        assert not pool.wait_idle(0.1)
        for gate in gates.values():
            gate.set()
        assert pool.wait_idle(5)
        assert pool.submit("a", job) is not None
    finally:
        for gate in gates.values():
            gate.set()
        pool.close()


def test_a_result_is_committed_or_dropped_never_both() -> None:
    commits: list[str] = []
    gate = threading.Event()

    def job(attempt: Attempt) -> None:
        gate.wait(30)
        pool.finish(attempt, lambda: commits.append(attempt.key))

    pool = Workers(2, 0.1, lambda a: None)
    try:
        late = pool.submit("late", job)
        assert late is not None and late.done.wait(5) and late.expired
        gate.set()
        assert pool.wait_idle(5) and commits == []
        quick = pool.submit("quick", lambda a: pool.finish(a, lambda: commits.append(a.key)))
        assert quick is not None and quick.done.wait(5) and commits == ["quick"]
    finally:
        gate.set()
        pool.close()
