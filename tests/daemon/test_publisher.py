"""Publication is coalesced: at once after a round, early only for a slow account;
a scrape serves what was published."""

from __future__ import annotations

import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from exporter.config import Config
from exporter.config.settings import Settings
from exporter.daemon import refresh
from exporter.daemon.app import Daemon
from exporter.daemon.publisher import Publisher
from exporter.daemon.refresh import AccountTarget
from exporter.daemon.snapshot import Snapshot
from exporter.sources.base import FetchedReport
from tests.support.sample_reports import NOW, sample_report


def publisher(running: list[float | None]) -> tuple[Publisher, list[int]]:
    built: list[int] = []

    def build(generation: int) -> Snapshot:
        built.append(generation)
        return Snapshot((), datetime.now(timezone.utc), generation)

    return Publisher(build, lambda: running[0], slow_seconds=1.0), built


def wait_for(built: list[int], count: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while len(built) < count and time.monotonic() < end:
        time.sleep(0.01)
    return len(built) >= count


def test_a_change_is_published_at_once_when_no_refresh_runs() -> None:
    p, built = publisher([None])
    try:
        p.changed()
        assert wait_for(built, 1, 2) and p.snapshot is not None
        assert p.snapshot.generation == 1
    finally:
        p.close()


def test_changes_wait_for_the_end_of_a_round_that_goes_well() -> None:
    running: list[float | None] = [0.2]  # refreshes running, none slow
    p, built = publisher(running)
    try:
        p.changed()
        p.changed()
        assert not wait_for(built, 1, 0.5)
        running[0] = None  # the round is over: one rendering for both changes
        assert wait_for(built, 1, 2)
        assert not wait_for(built, 2, 0.3)
    finally:
        p.close()


def test_a_slow_refresh_does_not_hold_the_others_back() -> None:
    running: list[float | None] = [0.2]
    p, built = publisher(running)
    try:
        p.changed()
        assert not wait_for(built, 1, 0.3)
        running[0] = 1.5  # one refresh has run longer than slow_seconds
        assert wait_for(built, 1, 2)
    finally:
        p.close()


def test_flush_publishes_now_and_only_what_changed() -> None:
    p, built = publisher([5.0])
    try:
        assert p.flush() is None and built == []
        p.changed()
        first = p.flush()
        assert first is not None and first.generation == 1
        assert p.flush() is first and built == [1]
    finally:
        p.close()


def test_a_scrape_only_reads_the_published_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched, rendered = [], []

    class Counting:
        def fetch(self) -> FetchedReport:
            fetched.append(1)
            return FetchedReport(sample_report(3), NOW - timedelta(hours=1))

    render = refresh.render
    monkeypatch.setattr(refresh, "render", lambda *a, **k: rendered.append(1) or render(*a, **k))
    config = Config(settings=Settings(web_listen_address="127.0.0.1:0"))
    daemon = Daemon(lambda: [AccountTarget("111122223333", "prod", Counting())], config)
    daemon.start(schedule=False)
    try:
        snapshot = daemon.refresher.run()
        assert (len(fetched), len(rendered)) == (1, 1)
        for accept in ("text/plain", "application/openmetrics-text"):
            for encoding in ("identity", "gzip"):
                for path in ("/metrics", "/"):
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{daemon.port}{path}",
                        headers={"Accept": accept, "Accept-Encoding": encoding},
                    )
                    with urllib.request.urlopen(request, timeout=10) as resp:
                        body = resp.read()
                    if path == "/metrics" and accept == "text/plain" and encoding == "identity":
                        assert body.startswith(snapshot.exposition.text)
        assert (len(fetched), len(rendered)) == (1, 1)  # no AWS call, no rendering
        assert daemon.refresher.snapshot is snapshot
    finally:
        daemon.stop()


def test_news_is_published_while_refreshes_run_then_waits_for_the_gap() -> None:
    running: list[float | None] = [0.2]  # refreshes running, none slow
    p, built = publisher(running)
    try:
        p.changed(news=True)  # an account served for the first time
        assert wait_for(built, 1, 1)
        p.changed(news=True)  # more news: not before the gap since the last rendering
        assert not wait_for(built, 2, 0.5)
        assert wait_for(built, 2, 2)
        p.changed()  # an update of a served account waits for the round
        assert not wait_for(built, 3, 1.5)
    finally:
        p.close()


class _Slow:
    def __init__(self, account: str, seconds: float) -> None:
        self.account, self.seconds = account, seconds

    def fetch(self) -> FetchedReport:
        time.sleep(self.seconds)
        return FetchedReport(sample_report(5, self.account), NOW - timedelta(hours=1))


def test_the_first_account_is_served_while_the_others_still_refresh() -> None:
    targets = [AccountTarget("111111111111", "fast", _Slow("111111111111", 0.0)),
               AccountTarget("222222222222", "slow", _Slow("222222222222", 3.0))]  # fmt: skip
    r = refresh.Refresher(lambda: targets, Config(), now=lambda: NOW, workers=2)
    try:
        attempts = r.tick()
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            snap = r.snapshot
            fast = snap.account("111111111111") if snap is not None else None
            if fast is not None and fast.analysis is not None:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the fast account was not served while the slow one refreshed")
        assert not attempts[1].done.is_set()  # the slow one is still running
        assert snap is not None and not snap.ready  # the slow source has no data yet
    finally:
        for attempt in attempts:
            attempt.done.wait(5)
        r.close()


def test_only_the_first_data_served_is_news(monkeypatch: pytest.MonkeyPatch) -> None:
    # Once something is served, an account's first data is coalesced like any change:
    # each early rendering costs one of everything served so far.
    targets = [AccountTarget("111111111111", "a", _Slow("111111111111", 0.0))]
    r = refresh.Refresher(lambda: list(targets), Config(), now=lambda: NOW, workers=1)
    news: list[bool] = []
    real = r.publisher.changed

    def changed(news_flag: bool = False, **kw: bool) -> None:
        flag = kw.get("news", news_flag)
        news.append(flag)
        real(news=flag)

    monkeypatch.setattr(r.publisher, "changed", changed)
    try:
        r.run()
        assert news.count(True) == 1  # nothing was served: the first account is news
        news.clear()
        targets.append(AccountTarget("222222222222", "b", _Slow("222222222222", 0.0)))
        second = r.run()
    finally:
        r.close()
    assert True not in news and news
    assert second.account("222222222222").analysis is not None  # type: ignore[union-attr]
