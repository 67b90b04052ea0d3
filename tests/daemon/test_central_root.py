"""A centrally managed root in the daemon: the demo's member account, through the state
hook, the exposition, the landing page and the stored (compressed) analysis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from exporter.config import config_from_dict
from exporter.core.central_root import CENTRALLY_MANAGED
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.landing import render_landing
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Snapshot
from exporter.daemon.stored import StoredAnalysis
from exporter.sources.base import SourceError
from exporter.sources.demo import (
    DEMO_ACCOUNTS,
    DEMO_MEMBER,
    DEMO_PRODUCTION,
    DEMO_SANDBOX,
    DemoSource,
)
from tests.support.exporter_process import parse_samples, sample_value

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
GAUGE = "aws_iam_root_credentials_centrally_managed"


def run(raw: dict[str, object] | None = None) -> tuple[Refresher, Snapshot]:
    config = config_from_dict(raw or {})
    targets = [
        AccountTarget(a.account_id, a.name, DemoSource(lambda: NOW, a)) for a in DEMO_ACCOUNTS
    ]
    wiring = AccountsWiring(config, fixed=targets)
    refresher = Refresher(
        wiring.targets, config, ExpositionOptions(collectors=(wiring.collector,)),
        now=lambda: NOW, hooks=[wiring.state_hook],
    )  # fmt: skip
    return refresher, refresher.run()


def findings_of(samples: dict[str, object], account: str) -> dict[str, float]:
    return {
        lab["check"]: value
        for lab, value in samples["aws_iam_findings"]  # type: ignore[attr-defined]
        if lab["account_id"] == account
    }


def test_the_member_root_skips_the_mfa_checks_and_the_gauge_says_why() -> None:
    refresher, snapshot = run()
    try:
        samples = parse_samples(snapshot.exposition.text.decode())
    finally:
        refresher.close()
    member = findings_of(samples, DEMO_MEMBER.account_id)
    assert "root_mfa_disabled" not in member and "root_hardware_mfa_missing" not in member
    assert member["root_access_key_active"] == 0  # the other root checks still run
    assert sample_value(samples, GAUGE, account_id=DEMO_MEMBER.account_id) == 1
    # The sandbox is a member too, but its root still has a password: findings stay.
    assert sample_value(samples, GAUGE, account_id=DEMO_SANDBOX.account_id) == 0
    assert findings_of(samples, DEMO_SANDBOX.account_id)["root_hardware_mfa_missing"] == 1
    # Production's organisation does not manage root centrally: 0, its root is a finding.
    assert sample_value(samples, GAUGE, account_id=DEMO_PRODUCTION.account_id) == 0
    assert findings_of(samples, DEMO_PRODUCTION.account_id)["root_mfa_disabled"] == 1
    assert not [
        lab for lab, _ in samples["aws_iam_finding"]
        if lab["account_id"] == DEMO_MEMBER.account_id and lab["check"] == "root_mfa_disabled"
    ]  # fmt: skip


def test_the_landing_page_says_so_for_that_account_only() -> None:
    refresher, snapshot = run()
    refresher.close()
    page = render_landing(snapshot, "/metrics", NOW).decode()
    note = "Root credentials are centrally managed by AWS Organizations"
    assert page.count(note) == 1
    assert page.index(note) > page.index(f"({DEMO_MEMBER.account_id})")


def test_the_stored_analysis_stays_small_and_rebuilds_the_same() -> None:
    """Withholding a report check is no append: the stored analysis still says it."""
    refresher, snapshot = run()
    refresher.close()
    state = snapshot.account(DEMO_MEMBER.account_id)
    assert state is not None and isinstance(state.analysis, StoredAnalysis)
    rebuilt = state.analysis.rebuild().evaluation
    assert "root_mfa_disabled" not in {f.check for f in rebuilt.findings}
    assert rebuilt.not_evaluated["root_mfa_disabled"] == CENTRALLY_MANAGED
    assert "root_mfa_disabled" in state.analysis.summary.not_evaluated


def test_a_failed_refresh_keeps_the_decision_from_the_last_good_facts() -> None:
    config = config_from_dict({})
    fail = {"now": False}

    class Flaky(DemoSource):
        def fetch(self):  # type: ignore[no-untyped-def]
            if fail["now"]:
                raise SourceError("throttled", "slow down")
            return super().fetch()

    clock = {"t": NOW}
    target = AccountTarget(DEMO_MEMBER.account_id, DEMO_MEMBER.name,
                           Flaky(lambda: clock["t"], DEMO_MEMBER))  # fmt: skip
    wiring = AccountsWiring(config, fixed=[target])
    refresher = Refresher(wiring.targets, config,
                          ExpositionOptions(collectors=(wiring.collector,)),
                          now=lambda: clock["t"], hooks=[wiring.state_hook])  # fmt: skip
    try:
        refresher.run()
        fail["now"], clock["t"] = True, NOW + timedelta(hours=1)
        snapshot = refresher.run()
    finally:
        refresher.close()
    state = snapshot.account(DEMO_MEMBER.account_id)
    assert state is not None and not state.success
    samples = parse_samples(snapshot.exposition.text.decode())
    assert sample_value(samples, GAUGE, account_id=DEMO_MEMBER.account_id) == 1
    assert "root_mfa_disabled" not in findings_of(samples, DEMO_MEMBER.account_id)


def test_the_switch_off_restores_the_root_findings() -> None:
    refresher, snapshot = run({"flags": {"organizations.central-root": False}})
    refresher.close()
    samples = parse_samples(snapshot.exposition.text.decode())
    assert GAUGE not in samples
    assert findings_of(samples, DEMO_MEMBER.account_id)["root_mfa_disabled"] == 1
