"""What a restart shows before its first refresh ends, beyond the report: a centrally
managed root stays centrally managed, and the owners from IAM tags stay on the series."""

from __future__ import annotations

import logging
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from exporter.config import Config, config_from_dict
from exporter.config.settings import Settings
from exporter.core.central_root import CENTRALLY_MANAGED
from exporter.core.checks import ids_of_scope
from exporter.core.records import FetchedReport
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.compose import build_daemon
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.landing import render_landing
from exporter.daemon.persistence import StatePersistence
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Snapshot
from exporter.daemon.state_store import StateStore
from exporter.sources.base import AccountDetails, SourceError
from exporter.sources.demo import (
    DEMO_ACCOUNTS,
    DEMO_MEMBER,
    DEMO_OWNER_TAG,
    DEMO_PRODUCTION,
    DEMO_SANDBOX,
    DemoAccount,
    DemoSource,
)
from tests.support.exporter_process import Samples, parse_samples, sample_value

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
GAUGE = "aws_iam_root_credentials_centrally_managed"
ROOT_CHECKS = ("root_mfa_disabled", "root_hardware_mfa_missing")


class Unreachable:
    """A demo account whose AWS calls fail (a restart during an outage)."""

    def __init__(self, account: DemoAccount) -> None:
        self.account = account

    def fetch(self) -> FetchedReport:
        raise SourceError("access_denied", "AccessDenied: not now")

    def fetch_details(self) -> AccountDetails:
        raise AssertionError("details are fetched after a good report only")


class Process:
    """One exporter process: the demo accounts, their details and --state.dir."""

    def __init__(
        self, state: Path, raw: Mapping[str, Any], sources: Sequence[DemoSource | Unreachable]
    ) -> None:
        self.config = config_from_dict(raw)
        self.targets = [AccountTarget(s.account.account_id, s.account.name, s) for s in sources]
        self.wiring = AccountsWiring(self.config, fixed=self.targets)
        self.options = ExpositionOptions.from_settings(
            self.config.settings, collectors=(self.wiring.collector,)
        )
        self.persistence = StatePersistence(StateStore(state), self.config, self.options)
        self.refresher = Refresher(
            self.wiring.targets, self.config, self.options, now=lambda: LATER,
            hooks=[self.wiring.state_hook], on_report=[self.persistence.save],
        )  # fmt: skip

    def close(self) -> None:
        self.refresher.close()
        self.persistence.store.close()


def demo_sources(clock: datetime = NOW) -> list[DemoSource]:
    return [DemoSource(lambda: clock, a) for a in DEMO_ACCOUNTS]


def run_then_restore(
    tmp_path: Path, raw: Mapping[str, Any], restore_raw: Mapping[str, Any] | None = None
) -> tuple[Snapshot, Snapshot]:
    """The snapshot of a first process's refresh, and the one a second restores."""
    first = Process(tmp_path / "state", raw, demo_sources())
    first.refresher.now = lambda: NOW
    try:
        refreshed = first.refresher.run()
    finally:
        first.close()
    second = Process(tmp_path / "state", raw if restore_raw is None else restore_raw, [])
    try:
        restored = second.persistence.restore(LATER)
    finally:
        second.close()
    assert restored is not None
    return refreshed, restored


def samples_of(snapshot: Snapshot) -> Samples:
    return parse_samples(snapshot.exposition.text.decode())


def exported_checks(samples: Samples, account: str) -> set[str]:
    return {lab["check"] for lab, _ in samples["aws_iam_findings"] if lab["account_id"] == account}


def root_series(samples: Samples, account: str) -> set[str]:
    return {
        lab["check"]
        for lab, _ in samples["aws_iam_finding"]
        if lab["account_id"] == account and lab["check"] in ROOT_CHECKS
    }


def root_mfa(samples: Samples) -> dict[str, float]:
    return {
        lab["account_id"]: value
        for lab, value in samples["aws_iam_findings"]
        if lab["check"] == "root_mfa_disabled"
    }


def gauges(samples: Samples) -> dict[str, float]:
    return {lab["account_id"]: value for lab, value in samples.get(GAUGE, [])}


# -- a centrally managed root -------------------------------------------------------------


def test_a_restored_managed_root_is_shown_as_centrally_managed_as_before(tmp_path: Path) -> None:
    refreshed, restored = run_then_restore(tmp_path, {})
    before, after = samples_of(refreshed), samples_of(restored)
    member = DEMO_MEMBER.account_id
    assert gauges(before)[member] == 1  # the premise
    # The gauge says the same for every account: 1, 0 (sandbox: root has a password;
    # production: its organisation does not manage root access centrally).
    assert gauges(after) == gauges(before)
    assert gauges(after)[DEMO_PRODUCTION.account_id] == 0
    assert not set(ROOT_CHECKS) & exported_checks(after, member)
    assert not root_series(after, member)
    (state,) = [s for s in restored.accounts if s.account_id == member]
    assert state.analysis is not None
    why = state.analysis.evaluation.not_evaluated
    assert {c: why[c] for c in ROOT_CHECKS} == dict.fromkeys(ROOT_CHECKS, CENTRALLY_MANAGED)
    assert state.details.root_centrally_managed is True
    # The landing page says so for that account, as before the restart.
    page = render_landing(restored, "/metrics", LATER).decode()
    note = "Root credentials are centrally managed by AWS Organizations"
    assert page.count(note) == render_landing(refreshed, "/metrics", NOW).decode().count(note) == 1
    assert page.index(note) > page.index(f"({member})")
    # root_mfa_disabled as before: absent (member), 0 (sandbox: a virtual MFA), 1
    # (production: no MFA, the organisation unknown).
    assert (
        root_mfa(after)
        == root_mfa(before)
        == {DEMO_SANDBOX.account_id: 0, DEMO_PRODUCTION.account_id: 1}
    )


def test_restored_accounts_still_leave_the_role_and_account_checks_out(tmp_path: Path) -> None:
    _, restored = run_then_restore(tmp_path, {})
    after = samples_of(restored)
    details = (set(ids_of_scope("role")) | set(ids_of_scope("account"))) - set(ROOT_CHECKS)
    for account in DEMO_ACCOUNTS:
        assert not details & exported_checks(after, account.account_id)
    sandbox = DEMO_SANDBOX.account_id  # not managed: its account check waits for the refresh
    assert "root_hardware_mfa_missing" not in exported_checks(after, sandbox)


def test_the_switch_turned_off_since_the_save_is_obeyed_at_restore(tmp_path: Path) -> None:
    off = {"flags": {"organizations.central-root": False}}
    _, restored = run_then_restore(tmp_path, {}, off)
    after = samples_of(restored)
    assert GAUGE not in after or not after[GAUGE]
    assert "root_mfa_disabled" in exported_checks(after, DEMO_MEMBER.account_id)


def test_a_failed_first_refresh_after_the_restart_keeps_root_centrally_managed(
    tmp_path: Path,
) -> None:
    run_then_restore(tmp_path, {})
    outage = Process(tmp_path / "state", {}, [Unreachable(a) for a in DEMO_ACCOUNTS])
    try:
        restored = outage.persistence.restore(LATER)
        assert restored is not None
        outage.refresher.install(restored)
        snapshot = outage.refresher.run()
    finally:
        outage.close()
    after = samples_of(snapshot)
    member = DEMO_MEMBER.account_id
    assert sample_value(after, "aws_iam_exporter_refresh_success", account_id=member) == 0
    assert gauges(after)[member] == 1
    assert not set(ROOT_CHECKS) & exported_checks(after, member)


# -- owners from IAM tags -----------------------------------------------------------------

OWNED = {"flags": {"labels.owner-tag": [DEMO_OWNER_TAG]}}


def user_series(samples: Samples) -> dict[tuple[str, str, str, str], str]:
    """(account, check, user, key) -> owner, of aws_iam_finding."""
    return {
        (lab["account_id"], lab["check"], lab["user"], lab.get("key", "")): lab["owner"]
        for lab, _ in samples["aws_iam_finding"]
    }


def test_restored_series_keep_their_owner_labels(tmp_path: Path) -> None:
    refreshed, restored = run_then_restore(tmp_path, OWNED)
    before, after = user_series(samples_of(refreshed)), user_series(samples_of(restored))
    assert after and {o for o in after.values() if o}  # owners there, not "" everywhere
    # Every series restored has the owner it had (role and account checks wait).
    assert after == {k: before[k] for k in after}
    # aws_iam_findings_by_owner counts the same series.
    by_owner = Counter((account, owner) for (account, _, _, _), owner in after.items())
    counted = Counter[tuple[str, str]]()
    for lab, value in samples_of(restored)["aws_iam_findings_by_owner"]:
        counted[(lab["account_id"], lab["owner"])] += int(value)
    assert counted == by_owner


def test_owners_saved_under_other_tags_are_not_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = {"flags": {"labels.owner-tag": ["cost-center", DEMO_OWNER_TAG]}}
    with caplog.at_level(logging.INFO, logger="exporter.state"):
        _, restored = run_then_restore(tmp_path, OWNED, other)
    after = user_series(samples_of(restored))
    assert after and set(after.values()) == {""}
    assert "--labels.owner-tag" in caplog.text and "not restored" in caplog.text


def test_owners_are_saved_only_when_owner_tags_are_configured(tmp_path: Path) -> None:
    _, restored = run_then_restore(tmp_path, {}, OWNED)
    after = user_series(samples_of(restored))
    assert after and set(after.values()) == {""}  # nothing was saved to restore
    store = StateStore(tmp_path / "state")
    try:
        saved = store.load_all()
    finally:
        store.close()
    assert saved and all(s.owners is None for s in saved.values())


def test_a_restart_without_details_sources_restores_what_it_saved(tmp_path: Path) -> None:
    """A plain Config (no AccountsWiring) restores the report alone, as before."""
    first = Process(tmp_path / "state", {}, demo_sources())
    first.refresher.now = lambda: NOW
    first.refresher.run()
    first.close()
    plain = StatePersistence(StateStore(tmp_path / "state"), Config(), ExpositionOptions())
    try:
        restored = plain.restore(LATER)
    finally:
        plain.store.close()
    assert restored is not None and len(restored.accounts) == len(DEMO_ACCOUNTS)


def test_serve_with_state_dir_serves_the_managed_root_and_owners_before_any_refresh(
    tmp_path: Path,
) -> None:
    """Through the composition root and HTTP: the second daemon has not refreshed."""
    settings = Settings(demo=True, state_dir=str(tmp_path / "state"),
                        web_listen_address="127.0.0.1:0",
                        labels_owner_tag=(DEMO_OWNER_TAG,))  # fmt: skip
    first = build_daemon(Config(settings=settings))
    first.start(schedule=False)
    try:
        first.refresher.run()
        before = scrape(first.port)
    finally:
        first.stop()
    second = build_daemon(Config(settings=settings))
    second.start(schedule=False)  # restores, and refreshes nothing
    try:
        after = scrape(second.port)
    finally:
        second.stop()
    assert "aws_iam_exporter_refresh_success" not in after  # no refresh has run
    member = DEMO_MEMBER.account_id
    assert gauges(after) == gauges(before) and gauges(after)[member] == 1
    assert not set(ROOT_CHECKS) & exported_checks(after, member)
    restored = user_series(after)
    assert {o for o in restored.values() if o}
    assert restored == {k: user_series(before)[k] for k in restored}


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as resp:
        return parse_samples(resp.read().decode())
