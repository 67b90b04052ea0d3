"""StatePersistence in process: save after success, restore, no change flood, errors contained."""

from __future__ import annotations

import inspect
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.config import Config
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.persistence import RecordingSource, StatePersistence, recording
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.state_store import StateStore
from exporter.sources.base import (
    AccountDetails,
    AccountDetailsSource,
    FetchedReport,
    FileReportSource,
)
from exporter.sources.demo import DemoSource

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


class DetailsSource:
    def fetch(self) -> FetchedReport:
        return DemoSource().fetch()

    def fetch_details(self) -> AccountDetails:
        raise NotImplementedError


def test_sources_with_account_details_keep_that_interface() -> None:
    wrapped = recording(DetailsSource())  # type: ignore[arg-type]
    assert isinstance(wrapped, AccountDetailsSource)
    # Python 3.12's Protocol isinstance looks attributes up statically.
    inspect.getattr_static(wrapped, "fetch_details")
    assert not isinstance(recording(DemoSource()), AccountDetailsSource)


def persistence(tmp_path: Path) -> StatePersistence:
    return StatePersistence(StateStore(tmp_path / "state"), Config(), ExpositionOptions())


def test_saved_reports_are_restored_and_the_next_refresh_does_not_flood(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(DemoSource().fetch().content)
    targets = [AccountTarget("", "demo", FileReportSource(str(report)))]

    first = persistence(tmp_path)
    refresher = Refresher(
        first.wrap(lambda: targets), Config(), hooks=[first.save], now=lambda: NOW
    )
    refresher.run()
    refresher.close()

    later = NOW + timedelta(hours=1)
    second = persistence(tmp_path)
    restored = second.restore(later)
    assert restored is not None
    (state,) = restored.accounts
    assert state.key == "demo" and state.account_id == "123456789012"
    assert state.analysis is not None and state.analysis.evaluation.findings
    assert state.last_success == NOW and not state.attempted
    assert b"aws_iam_users{" in restored.exposition.text

    refresher = Refresher(second.wrap(lambda: targets), Config(), hooks=[second.save],
                          now=lambda: later)  # fmt: skip
    refresher.install(restored)
    snapshot = refresher.run()
    refresher.close()
    assert snapshot.accounts[0].success
    assert sum(snapshot.accounts[0].changes_total.values()) == 0


def test_a_failing_disk_is_logged_and_the_refresh_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = persistence(tmp_path)
    p.store.directory = tmp_path / "gone" / "state"  # writes now fail whatever the user
    target = AccountTarget("", "demo", RecordingSource(DemoSource()))
    refresher = Refresher(lambda: [target], Config(), hooks=[p.save], now=lambda: NOW)
    with caplog.at_level(logging.ERROR, logger="exporter.state"):
        snapshot = refresher.run()
    refresher.close()
    assert snapshot.accounts[0].success
    assert "state not saved" in caplog.text


def test_nothing_saved_means_nothing_restored(tmp_path: Path) -> None:
    assert persistence(tmp_path).restore(NOW) is None


def test_state_of_accounts_no_longer_watched_is_pruned(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(DemoSource().fetch().content)
    p = persistence(tmp_path)
    p.prune_after = 0  # in production a week: a failed discovery must not lose state
    targets = [
        AccountTarget("", "kept", FileReportSource(str(report))),
        AccountTarget("", "dropped", FileReportSource(str(report))),
    ]
    refresher = Refresher(p.wrap(lambda: targets), Config(), hooks=[p.save],
                          on_snapshot=[p.prune], now=lambda: NOW)  # fmt: skip
    refresher.run()
    assert set(p.store.load_all()) == {"kept", "dropped"}
    restored = p.restore(NOW)
    assert restored is not None
    p.prune(restored)  # installing the restored snapshot prunes nothing
    assert set(p.store.load_all()) == {"kept", "dropped"}
    del targets[1]
    p.prune_after = 3600
    refresher.run()
    assert set(p.store.load_all()) == {"kept", "dropped"}  # not old enough yet
    p.prune_after = 0
    refresher.run()
    refresher.close()
    assert set(p.store.load_all()) == {"kept"}
