"""Exemptions in serve: counted by state, each expiry exported, logged once, listed on
the landing page with the findings each one matches."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.config import Config, config_from_dict
from exporter.core.exemptions import Exemption
from exporter.core.findings import Finding
from exporter.daemon.compose import build_daemon
from exporter.daemon.exemptions import ExpiryLog, ends_at, matched, statuses
from exporter.daemon.landing import render_landing
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.stored import StoredAnalysis, summarise, summary_of
from exporter.sources.base import FetchedReport
from exporter.sources.demo import DEMO_ACCOUNTS, DemoSource
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.sample_reports import NOW, sample_report

A, B = "111111111111", "222222222222"
TODAY = NOW.date()  # 2026-11-24, noon UTC


def config(*entries: dict[str, object]) -> Config:
    return config_from_dict({"exemptions": list(entries)})


# user0..user2 each have console_without_mfa and access_key_not_rotated (sample_report).
CONFIG = config(
    {"id": "user0-all", "user": "user0", "reason": "r"},
    {"id": "keys", "user": "user*", "checks": ["access_key_not_rotated"], "reason": "r",
     "expires": (TODAY + timedelta(days=3)).isoformat()},
    {"user": "user1", "reason": "lapsed", "expires": (TODAY - timedelta(days=1)).isoformat()},
    {"id": "nobody", "user": "nobody", "reason": "r", "expires": TODAY.isoformat()},
)  # fmt: skip


class Source:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def fetch(self) -> FetchedReport:
        return FetchedReport(self.content, NOW - timedelta(hours=1))


def refresher(cfg: Config, *targets: AccountTarget, now: datetime = NOW) -> Refresher:
    return Refresher(lambda: list(targets), cfg, now=lambda: now)


def two_accounts(cfg: Config = CONFIG, now: datetime = NOW) -> Refresher:
    return refresher(
        cfg,
        AccountTarget(A, "prod", Source(sample_report(3, A))),
        AccountTarget(B, "dev", Source(sample_report(2, B))),
        now=now,
    )


def finding(user: str, check: str) -> Finding:
    return Finding(A, user, f"arn:aws:iam::{A}:user/{user}", check, "high", None, "m", {})


def test_ends_at_is_the_midnight_after_the_expires_day_in_utc() -> None:
    assert ends_at(date(2027, 6, 30)) == datetime(2027, 7, 1, tzinfo=timezone.utc)
    assert ends_at(None) is None
    exemption = Exemption("u", False, None, "r", date(2027, 6, 30))
    last_moment = datetime(2027, 6, 30, 23, 59, 59, tzinfo=timezone.utc)
    # The same instant core's expired() switches at.
    assert not exemption.expired(last_moment.date())
    assert exemption.expired((last_moment + timedelta(seconds=1)).date())


def test_a_finding_counts_for_every_exemption_that_matches_it_expired_ones_for_none() -> None:
    everything = Exemption("user0", False, None, "r")
    keys = Exemption("user*", False, frozenset({"access_key_not_rotated"}), "r")
    lapsed = Exemption("user0", False, None, "old", date(2020, 1, 1))
    exempted = [
        finding("user0", "access_key_not_rotated"),
        finding("user0", "console_without_mfa"),
        finding("user1", "access_key_not_rotated"),
    ]
    assert matched(exempted, [everything, keys, lapsed], [lapsed]) == (2, 2, 0)
    assert matched([], [everything]) == (0,)
    assert matched(exempted, []) == ()


def test_statuses_sum_the_accounts_and_tell_expired_from_active() -> None:
    current = statuses(CONFIG, [(1, 2, 0, 0), (0, 1, 0, 0)], NOW)
    assert [(s.id, s.expired, s.suppressed) for s in current] == [
        ("user0-all", False, 1),
        ("keys", False, 3),
        ("exemptions[2]", True, 0),
        ("nobody", False, 0),  # its expires day is today: it still applies
    ]
    assert current[0].ends_at is None
    assert current[3].ends_at == datetime(2026, 11, 25, tzinfo=timezone.utc)
    tomorrow = statuses(CONFIG, [], datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert [s.expired for s in tomorrow] == [False, False, True, True]


def test_the_summary_attributes_each_accounts_exempted_findings() -> None:
    snap = two_accounts().run()
    # A: user0 (2 findings: user0-all and, for its key, keys too), user1 and user2's keys.
    # B: user0 the same, user1's key. The lapsed exemption of user1 covers nothing.
    by_account = {s.account_id: summary_of(s.analysis).exempted_by for s in snap.accounts}  # type: ignore[arg-type]
    assert by_account == {A: (2, 3, 0, 0), B: (2, 2, 0, 0)}
    state = snap.account(A)
    assert state is not None and isinstance(state.analysis, StoredAnalysis)
    # Stored and whole analyses agree.
    assert summarise(state.analysis.rebuild(), CONFIG.exemptions).exempted_by == (2, 3, 0, 0)
    assert [(s.id, s.suppressed) for s in snap.exemptions] == [
        ("user0-all", 4), ("keys", 5), ("exemptions[2]", 0), ("nobody", 0),
    ]  # fmt: skip


def test_metrics_count_exemptions_by_state_and_give_each_expiry() -> None:
    snap = two_accounts().run()
    samples = parse_samples(snap.exposition.text.decode())
    assert sample_value(samples, "aws_iam_exemptions", state="active") == 3
    assert sample_value(samples, "aws_iam_exemptions", state="expired") == 1
    expiry = {
        lab["exemption"]: v for lab, v in samples["aws_iam_exemption_expiry_timestamp_seconds"]
    }
    # The exemption without expires has no series.
    assert expiry == {
        "keys": datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp(),
        "exemptions[2]": datetime(2026, 11, 24, tzinfo=timezone.utc).timestamp(),
        "nobody": datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp(),
    }
    assert all("account_id" not in lab for lab, _ in samples["aws_iam_exemptions"])


def test_without_exemptions_both_states_are_zero_and_no_expiry_is_exported() -> None:
    snap = two_accounts(Config()).run()
    samples = parse_samples(snap.exposition.text.decode())
    assert sample_value(samples, "aws_iam_exemptions", state="active") == 0
    assert sample_value(samples, "aws_iam_exemptions", state="expired") == 0
    assert "aws_iam_exemption_expiry_timestamp_seconds" not in samples
    assert "id='exemptions'" not in render_landing(snap, "/metrics", NOW).decode()


def test_an_expiry_is_logged_once_at_start_up_and_once_when_it_happens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.exemptions")
    clock = [NOW]
    target = AccountTarget(A, "prod", Source(sample_report(1, A)))
    r = Refresher(lambda: [target], CONFIG, now=lambda: clock[0])

    def logged() -> list[str]:
        return [getattr(rec, "exemption", "") for rec in caplog.records]

    assert logged() == ["exemptions[2]"], "at start-up, before any refresh"
    assert "expired exemption no longer applies: user user1 (all checks" in caplog.text
    r.run()
    r.run()
    assert logged() == ["exemptions[2]"]
    clock[0] = datetime(2026, 11, 25, 0, 0, 1, tzinfo=timezone.utc)
    r.run()
    r.run()
    assert logged() == ["exemptions[2]", "nobody"]
    r.close()


def test_expiry_log_is_per_instance() -> None:
    current = statuses(CONFIG, [], NOW)
    log_a, log_b = ExpiryLog(), ExpiryLog()
    log_a(current)
    assert log_a._logged == {"exemptions[2]"}
    assert log_b._logged == set()


def test_landing_page_lists_exemptions_with_state_expiry_and_findings() -> None:
    snap = two_accounts().run()
    page = render_landing(snap, "/metrics", NOW).decode()
    assert "1 exemption expired: it no longer applies" in page
    table = page[page.index("<h3 id='exemptions'>") :]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 4
    user0, keys, lapsed, nobody = rows
    assert "<code>user0-all</code>" in user0 and "user user0 (every check)" in user0
    assert "<td>never</td><td class='ok'>active</td><td>4</td>" in user0
    assert "user user* (access_key_not_rotated)" in keys
    assert "<td>2026-11-27</td><td class='ok'>active, 3d left</td><td>5</td>" in keys
    assert "<code>exemptions[2]</code>" in lapsed and "<td>lapsed</td>" in lapsed
    assert "<td class='fail'>expired: no longer applies</td><td>-</td>" in lapsed
    assert "active, 12h left" in nobody


def test_the_page_escapes_what_the_configuration_says() -> None:
    cfg = config({"id": "<b>", "user": "<i>", "reason": "a & b"})
    page = render_landing(two_accounts(cfg).run(), "/metrics", NOW).decode()
    assert "<code>&lt;b&gt;</code>" in page and "user &lt;i&gt;" in page and "a &amp; b" in page


def test_demo_serves_its_exemptions_unless_the_configuration_has_some() -> None:
    demo = replace(Config(), settings=replace(Config().settings, demo=True,
                                              web_listen_address="127.0.0.1:0"))  # fmt: skip
    daemon = build_daemon(demo)
    daemon.start(schedule=False)
    try:
        ids = [i for i, _ in daemon.refresher.config.named_exemptions()]
        assert ids == ["break-glass", "legacy-soap-migration", "contractor-offboarding"]
        snap = daemon.refresher.run()
        states = {s.id: (s.expired, s.suppressed) for s in snap.exemptions}
        # Each state of an exemption shows: active, expiring within days, expired.
        assert states == {
            "break-glass": (False, 2),
            "legacy-soap-migration": (False, 1),
            "contractor-offboarding": (True, 0),
        }
        soon = next(s for s in snap.exemptions if s.id == "legacy-soap-migration")
        assert soon.ends_at is not None
        assert timedelta(days=10) < soon.ends_at - snap.created_at <= timedelta(days=11)
    finally:
        daemon.stop()
    own = replace(CONFIG, settings=demo.settings)
    daemon = build_daemon(own)
    daemon.start(schedule=False)
    try:
        assert daemon.refresher.config.exemptions == CONFIG.exemptions
    finally:
        daemon.stop()


def test_demo_exemptions_only_cover_low_findings() -> None:
    from exporter.sources.demo import demo_exemptions

    findings = []
    for account in DEMO_ACCOUNTS:
        from exporter.core.analyse import analyse

        analysis = analyse(DemoSource(account=account).fetch(), Config(), NOW)
        findings += analysis.evaluation.findings
    for ident, exemption in demo_exemptions(TODAY):
        if exemption.expired(TODAY):
            continue
        covered = [f for f in findings if exemption.matches(f)]
        assert covered, ident
        assert {f.severity for f in covered} == {"low"}, ident


def test_the_snapshot_restored_from_state_has_the_exemptions_too(tmp_path: Path) -> None:
    from exporter.daemon.exposition import ExpositionOptions
    from exporter.daemon.persistence import StatePersistence
    from exporter.daemon.state_store import StateStore

    store = StatePersistence(StateStore(tmp_path / "state"), CONFIG, ExpositionOptions())
    target = AccountTarget(A, "prod", Source(sample_report(3, A)))
    r = Refresher(lambda: [target], CONFIG, on_report=[store.save], now=lambda: NOW)
    r.run()
    r.close()
    restored = StatePersistence(StateStore(tmp_path / "state"), CONFIG, ExpositionOptions())
    snap = restored.restore(NOW + timedelta(minutes=5))
    assert snap is not None
    assert [(s.id, s.expired, s.suppressed) for s in snap.exemptions] == [
        ("user0-all", False, 2),
        ("keys", False, 3),
        ("exemptions[2]", True, 0),
        ("nobody", False, 0),
    ]
    samples = parse_samples(snap.exposition.text.decode())
    assert sample_value(samples, "aws_iam_exemptions", state="expired") == 1
