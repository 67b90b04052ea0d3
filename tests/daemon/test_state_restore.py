"""StatePersistence in process: save after success, restore, no change flood, errors
contained, and one state file per account id whatever the source."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.config import Config
from exporter.config.settings import Settings
from exporter.core.checks import ids_of_scope
from exporter.daemon import state_store
from exporter.daemon.app import Daemon
from exporter.daemon.compose import build_daemon
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.persistence import StatePersistence
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.state_store import SavedReport, StateStore
from exporter.sources.base import FileReportSource
from exporter.sources.demo import DEMO_ACCOUNTS, DemoSource
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.net import free_port, wait_http
from tests.support.sample_reports import sample_report

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
A, B = "111111111111", "222222222222"


def persistence(tmp_path: Path) -> StatePersistence:
    return StatePersistence(StateStore(tmp_path / "state"), Config(), ExpositionOptions())


def refresher(
    p: StatePersistence, targets: Sequence[AccountTarget], now: datetime = NOW, **kw: object
) -> Refresher:
    return Refresher(lambda: targets, Config(), on_report=[p.save], now=lambda: now, **kw)  # type: ignore[arg-type]


def test_saved_reports_are_restored_and_the_next_refresh_does_not_flood(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(DemoSource().fetch().content)
    targets = [AccountTarget("", "demo", FileReportSource(str(report)))]

    first = persistence(tmp_path)
    r = refresher(first, targets)
    r.run()
    r.close()

    later = NOW + timedelta(hours=1)
    second = persistence(tmp_path)
    restored = second.restore(later)
    assert restored is not None
    (state,) = restored.accounts
    assert state.name == "demo" and state.account_id == "123456789012"
    assert state.analysis is not None and state.analysis.evaluation.findings
    assert state.last_success == NOW and not state.attempted
    assert b"aws_iam_users{" in restored.exposition.text

    r = refresher(second, targets, later)
    r.install(restored)
    snapshot = r.run()
    r.close()
    assert snapshot.accounts[0].success
    assert sum(snapshot.accounts[0].changes_total.values()) == 0


def test_restored_accounts_leave_the_role_and_account_checks_out(tmp_path: Path) -> None:
    """A state file holds the report only: until the first refresh fetches roles and
    account facts, their checks are not evaluated, never a clean 0."""
    p = persistence(tmp_path)
    r = refresher(p, [AccountTarget("", "demo", DemoSource())])
    r.run()
    r.close()
    restored = p.restore(NOW)
    assert restored is not None
    samples = parse_samples(restored.exposition.text.decode())
    exported = {labels["check"] for labels, _ in samples["aws_iam_findings"]}
    details = set(ids_of_scope("role")) | set(ids_of_scope("account"))
    assert details and not details & exported
    assert "root_mfa_disabled" in exported  # the report's own checks are there
    (state,) = restored.accounts
    assert state.analysis is not None and details <= set(state.analysis.evaluation.not_evaluated)


def test_a_failing_disk_is_logged_and_the_refresh_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = persistence(tmp_path)
    p.store.directory = tmp_path / "gone" / "state"  # writes now fail whatever the user
    r = refresher(p, [AccountTarget("", "demo", DemoSource())])
    with caplog.at_level(logging.ERROR, logger="exporter.state"):
        snapshot = r.run()
    r.close()
    assert snapshot.accounts[0].success
    assert "state not saved" in caplog.text


def test_nothing_saved_means_nothing_restored(tmp_path: Path) -> None:
    assert persistence(tmp_path).restore(NOW) is None


def test_state_of_accounts_no_longer_watched_is_pruned(tmp_path: Path) -> None:
    for name, account in (("kept", A), ("dropped", B)):
        (tmp_path / f"{name}.csv").write_bytes(sample_report(2, account))
    p = persistence(tmp_path)
    p.prune_after = 0  # in production a week: a failed discovery must not lose state
    targets = [
        AccountTarget("", name, FileReportSource(str(tmp_path / f"{name}.csv")))
        for name in ("kept", "dropped")
    ]
    r = refresher(p, targets, on_snapshot=[p.prune])
    r.run()
    assert set(p.store.load_all()) == {A, B}  # by account id, not by source
    restored = p.restore(NOW)
    assert restored is not None
    p.prune(restored)  # installing the restored snapshot prunes nothing
    assert set(p.store.load_all()) == {A, B}
    del targets[1]
    p.prune_after = 3600
    r.run()
    assert set(p.store.load_all()) == {A, B}  # not old enough yet
    p.prune_after = 0
    r.run()
    r.close()
    assert set(p.store.load_all()) == {A}


def test_a_file_empty_at_start_up_saves_nothing_until_read_and_restarts_once(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(b"")
    targets = [AccountTarget("", str(report), FileReportSource(str(report)))]
    p = persistence(tmp_path)
    r = refresher(p, targets)
    empty = r.run()
    # The account is unknown: no state file, no series, the source is shown as pending.
    assert empty.accounts == () and not list(p.store.directory.glob("report-*"))
    assert [(s.name, s.reason) for s in empty.pending] == [(str(report), "invalid_report")]
    samples = parse_samples(empty.exposition.text.decode())
    assert sample_value(samples, "aws_iam_exporter_pending_sources", reason="invalid_report") == 1
    assert "aws_iam_exporter_refresh_success" not in samples
    assert empty.ready  # a recorded failure counts: /-/ready is 200

    report.write_bytes(sample_report(3, A))
    good = r.run()
    r.close()
    assert [s.account_id for s in good.accounts] == [A] and not good.pending
    assert [f.name for f in p.store.directory.glob("report-*")] == [p.store.path_for(A).name]

    restarted = persistence(tmp_path)
    restored = restarted.restore(NOW + timedelta(minutes=5))
    assert restored is not None and [s.account_id for s in restored.accounts] == [A]
    r = refresher(restarted, targets, NOW + timedelta(minutes=5))
    r.install(restored)
    report.unlink()  # the file is gone after the restart: the saved data stays, under A
    snapshot = r.run()
    r.close()
    samples = parse_samples(snapshot.exposition.text.decode())
    assert sample_value(samples, "aws_iam_users", account_id=A) == 3
    assert sample_value(samples, "aws_iam_exporter_refresh_success", account_id=A) == 0
    assert sample_value(samples, "aws_iam_exporter_refresh_errors_total",
                        account_id=A, reason="file_error") == 1  # fmt: skip
    assert len(list(p.store.directory.glob("report-*"))) == 1


def test_state_files_of_older_versions_named_by_path_give_no_duplicates(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    older, newer = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    # An older version keyed a report file's state by its path, later by its account.
    store.save_report(SavedReport("/srv/a.csv", sample_report(2, A), older, older, A, "/srv/a.csv"))
    store.save_report(SavedReport(A, sample_report(5, A), newer, newer, A, "/srv/a.csv"))
    restored = StatePersistence(store, Config(), ExpositionOptions()).restore(NOW)
    assert restored is not None
    (state,) = restored.accounts
    assert state.account_id == A and state.last_success == newer
    samples = parse_samples(restored.exposition.text.decode())
    assert sample_value(samples, "aws_iam_users", account_id=A) == 5  # one series, the newer


def test_a_failed_save_is_counted_in_a_metric_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(demo=True, state_dir=str(tmp_path / "state"),
                        web_listen_address="127.0.0.1:0")  # fmt: skip
    daemon = build_daemon(Config(settings=settings))

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(state_store.os, "write", disk_full)
    daemon.start(schedule=False)
    try:
        with caplog.at_level(logging.ERROR, logger="exporter.state"):
            daemon.refresher.run()
        monkeypatch.undo()
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/metrics") as resp:
            samples = parse_samples(resp.read().decode())
    finally:
        daemon.stop()
    saves = sample_value(samples, "aws_iam_exporter_state_save_errors_total")
    assert saves == len(DEMO_ACCOUNTS)  # one failed save per demo account
    assert "state not saved" in caplog.text and "No space left on device" in caplog.text


def test_the_server_listens_before_the_saved_reports_are_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    first = StatePersistence(StateStore(state), Config(), ExpositionOptions())
    r = refresher(first, [AccountTarget("", "demo", DemoSource())])
    r.run()
    r.close()
    first.store.close()

    release = threading.Event()
    restore = StatePersistence.restore

    def slow_restore(self: StatePersistence, now: datetime) -> object:
        release.wait(20)  # a big saved report takes seconds to parse
        return restore(self, now)

    monkeypatch.setattr(StatePersistence, "restore", slow_restore)
    port = free_port()
    settings = Settings(demo=True, state_dir=str(state), web_listen_address=f"127.0.0.1:{port}")
    built: list[Daemon] = []

    def build_and_start() -> None:
        built.append(build_daemon(Config(settings=settings)))
        built[0].start()

    starter = threading.Thread(target=build_and_start, daemon=True)
    starter.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/-/healthy", timeout=5)
        # Not ready, and no refresh has run: it waits for the saved state.
        time.sleep(0.5)
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=1, expect=503)
        wait_http(f"http://127.0.0.1:{port}/metrics", timeout=1, expect=503)
        release.set()
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=10)
    finally:
        release.set()
        starter.join(20)
        for daemon in built:
            daemon.stop()
