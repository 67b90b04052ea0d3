"""``aws_iam_upcoming_findings`` and ``aws_iam_finding_due_timestamp_seconds``, rendered
from account states: counts with zeros, absent when not evaluated, capped like
``aws_iam_finding``."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from prometheus_client import CollectorRegistry

from exporter.config import Config, config_from_dict
from exporter.core.analyse import analyse
from exporter.core.report import COLUMNS
from exporter.daemon.exposition import ExpositionOptions, SnapshotCollector, render
from exporter.daemon.labels import UserLabeler
from exporter.daemon.snapshot import AccountState
from exporter.daemon.stored import StoredAnalysis, compress, store
from exporter.sources.base import FetchedReport
from exporter.sources.demo import DEMO_PRODUCTION, demo_report_csv
from tests.support.reports import ACCOUNT, AS_OF, key, report, root_row, ts, user_row

NOT_ROTATED = {"account_id": ACCOUNT, "check": "access_key_not_rotated", "severity": "high"}


def rows(*rotated_days: int) -> bytes:
    users = [user_row(f"u{n}", **key(1, rotated=ts(d), used=ts(1)))
             for n, d in enumerate(rotated_days)]  # fmt: skip
    return report(root_row(), *users)


def state(
    content: bytes, config: Config | None = None, stored: bool = False, account: str = ACCOUNT
) -> AccountState:
    config = config or Config()
    analysis = analyse(FetchedReport(content, AS_OF - timedelta(hours=1)), config, AS_OF)
    kept = store(analysis, compress(content), analysis, config, AS_OF) if stored else analysis
    return AccountState(account_id=account, name="prod", analysis=kept, evaluated_at=AS_OF,
                        attempted=True, success=True, last_success=AS_OF)  # fmt: skip


def registry(
    states: list[AccountState], config: Config | None = None, **opts: object
) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(states, config or Config(), ExpositionOptions(**opts)))  # type: ignore[arg-type]
    return reg


def midnight(days: int) -> float:
    day = AS_OF.date() + timedelta(days=days)
    return datetime.combine(day, time.min, timezone.utc).timestamp()


def test_counts_and_due_times_whole_and_stored() -> None:
    # Due in 11 and 5 days; 95 days is a finding already; 40 days is outside the window.
    content = rows(80, 86, 95, 40)
    for s in (state(content), state(content, stored=True)):
        reg = registry([s])
        assert reg.get_sample_value("aws_iam_upcoming_findings", NOT_ROTATED) == 2
        # Every dated report check is present, 0 when nothing is due.
        assert reg.get_sample_value("aws_iam_upcoming_findings", {
            **NOT_ROTATED, "check": "password_unused", "severity": "medium"}) == 0  # fmt: skip
        # Checks without a day threshold have no series.
        assert reg.get_sample_value("aws_iam_upcoming_findings", {
            **NOT_ROTATED, "check": "console_without_mfa"}) is None  # fmt: skip
        due = {**NOT_ROTATED, "key": "1"}
        assert reg.get_sample_value("aws_iam_finding_due_timestamp_seconds",
                                    {**due, "user": "u0"}) == midnight(11)  # fmt: skip
        assert reg.get_sample_value("aws_iam_finding_due_timestamp_seconds",
                                    {**due, "user": "u1"}) == midnight(5)  # fmt: skip
        assert reg.get_sample_value("aws_iam_finding_due_timestamp_seconds",
                                    {**due, "user": "u2"}) is None  # fmt: skip
        assert reg.get_sample_value("aws_iam_finding_due_series_dropped",
                                    {"account_id": ACCOUNT}) == 0  # fmt: skip
    stored = state(content, stored=True).analysis
    assert isinstance(stored, StoredAnalysis) and stored.summary.upcoming is not None


def test_the_window_comes_from_the_config() -> None:
    wide = config_from_dict({"flags": {"upcoming.window": "60d"}})
    reg = registry([state(rows(80, 86, 95, 40), wide)], wide)
    assert reg.get_sample_value("aws_iam_upcoming_findings", NOT_ROTATED) == 3


def test_not_evaluated_checks_are_absent_not_zero() -> None:
    # The pre-2015 format has no key use dates: access_key_unused is not evaluated.
    old = tuple(c for c in COLUMNS if "last_used" not in c or c == "password_last_used")
    content = report(root_row(), user_row("u", **key(1, rotated=ts(80))), columns=old)
    reg = registry([state(content)])
    unused = {**NOT_ROTATED, "check": "access_key_unused", "severity": "medium"}
    assert reg.get_sample_value("aws_iam_upcoming_findings", unused) is None
    assert reg.get_sample_value("aws_iam_upcoming_findings", NOT_ROTATED) == 1
    off = config_from_dict({"checks": {"access_key_not_rotated": {"enabled": False}}})
    assert registry([state(content, off)], off).get_sample_value(
        "aws_iam_upcoming_findings", NOT_ROTATED) is None  # fmt: skip


def test_an_account_never_analysed_has_no_series() -> None:
    never = AccountState(account_id=ACCOUNT, name="prod")
    assert (
        "aws_iam_upcoming_findings{"
        not in render([never], Config(), ExpositionOptions()).text.decode()
    )


def test_the_series_limit_keeps_the_soonest_and_counts_the_rest() -> None:
    reg = registry([state(rows(80, 86, 84))], finding_series_limit=2)
    due = "aws_iam_finding_due_timestamp_seconds"
    kept = [s.labels["user"] for m in reg.collect() if m.name == due for s in m.samples]
    assert kept == ["u1", "u2"]  # due in 5 and 7 days; u0 (11 days) is left out
    assert reg.get_sample_value("aws_iam_finding_due_series_dropped", {"account_id": ACCOUNT}) == 1
    # The count is not capped.
    assert reg.get_sample_value("aws_iam_upcoming_findings", NOT_ROTATED) == 3


def test_switched_off_or_without_user_labels() -> None:
    content = rows(80)
    off = registry([state(content)], finding_series=False)
    assert (
        off.get_sample_value("aws_iam_finding_due_series_dropped", {"account_id": ACCOUNT}) is None
    )
    assert off.get_sample_value("aws_iam_upcoming_findings", NOT_ROTATED) == 1
    none = registry([state(content)], user_label=UserLabeler("none"))
    names = {m.name: len(m.samples) for m in none.collect()}
    assert names["aws_iam_finding_due_timestamp_seconds"] == 0
    assert none.get_sample_value("aws_iam_finding_due_series_dropped", {"account_id": ACCOUNT}) == 0


def test_the_demo_account_has_an_upcoming_finding() -> None:
    content = demo_report_csv(AS_OF, DEMO_PRODUCTION)
    reg = registry([state(content, stored=True, account=DEMO_PRODUCTION.account_id)])
    labels = {"check": "access_key_not_rotated", "severity": "high"}
    assert reg.get_sample_value("aws_iam_upcoming_findings", {
        "account_id": DEMO_PRODUCTION.account_id, **labels}) == 1  # fmt: skip
    assert reg.get_sample_value("aws_iam_finding_due_timestamp_seconds", {
        "account_id": DEMO_PRODUCTION.account_id, **labels, "user": "sec-scanner",
        "key": "1"}) == midnight(6)  # fmt: skip
