"""Counters with known label values start at 0 for each of them: increase() and rate()
only see an increment from an earlier sample, so a series born at 1 hides the first
failure (or change) from every alert and dashboard."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType, SimpleNamespace

from exporter.config import Config, config_from_dict
from exporter.core.diff import CHANGE_KINDS
from exporter.daemon.accounts import CALL_REASONS, AccountsWiring
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.refresh import AccountTarget
from exporter.daemon.snapshot import AccountState, DetailsState
from exporter.sources.base import REASONS, FileReportSource
from exporter.sources.demo import DEMO_ACCOUNTS, DemoSource
from tests.support.exporter_process import parse_samples

A = "111111111111"


def samples_of(states: list[AccountState], wiring: AccountsWiring | None = None) -> dict:  # type: ignore[type-arg]
    collectors = (wiring.collector,) if wiring else ()
    options = ExpositionOptions(collectors=collectors)
    return parse_samples(render(states, Config(), options).text.decode())


def by_label(samples: dict, name: str, *labels: str) -> dict:  # type: ignore[type-arg]
    return {tuple(lab[k] for k in labels): v for lab, v in samples.get(name, [])}


def test_every_refresh_error_reason_is_zero_before_its_first_failure() -> None:
    never = AccountState(account_id=A, name="prod")  # configured, not refreshed yet
    failing = AccountState(
        account_id="222222222222", name="dev", attempted=True,
        errors_total=MappingProxyType({"throttled": 2, "something_new": 1}),
    )  # fmt: skip
    errors = by_label(
        samples_of([never, failing]),
        "aws_iam_exporter_refresh_errors_total",
        "account_id",
        "reason",
    )
    assert {r for (a, r) in errors if a == A} == set(REASONS)
    assert "incomplete_report" in REASONS
    assert all(v == 0 for (a, _), v in errors.items() if a == A)
    dev = {r: v for (a, r), v in errors.items() if a == "222222222222"}
    # A reason outside the known ones is still counted.
    assert dev == {**dict.fromkeys(REASONS, 0.0), "throttled": 2, "something_new": 1}


def test_every_change_kind_is_zero_before_the_first_change() -> None:
    changes = by_label(
        samples_of([AccountState(account_id=A, name="prod")]),
        "aws_iam_credential_changes_total",
        "change",
    )
    assert changes == {(kind,): 0 for kind in CHANGE_KINDS}


def demo_targets() -> list[AccountTarget]:
    return [AccountTarget(a.account_id, a.name, DemoSource(account=a)) for a in DEMO_ACCOUNTS]


def test_detail_errors_start_at_zero_for_the_accounts_and_parts_that_fetch_details() -> None:
    demo = demo_targets()
    saved = AccountTarget("", "saved.csv", FileReportSource("saved.csv"))
    wiring = AccountsWiring(config_from_dict({}), fixed=[*demo, saved])
    states = [AccountState(account_id=t.account_id, name=t.name) for t in demo]
    # A report file's account fetches no roles and no account facts: no series.
    states.append(AccountState(account_id="333333333333", name="saved.csv"))
    states[0] = AccountState(
        account_id=demo[0].account_id, name="prod",
        details=DetailsState(detail_errors_total=MappingProxyType({("roles", "access_denied"): 3})),
    )  # fmt: skip
    errors = by_label(
        samples_of(states, wiring), "aws_iam_exporter_detail_errors_total",
        "account_id", "part", "reason",
    )  # fmt: skip
    expected = {
        (t.account_id, part, reason): 0.0
        for t in demo
        for part in ("roles", "account")
        for reason in CALL_REASONS
    }
    expected[(demo[0].account_id, "roles", "access_denied")] = 3
    assert errors == expected
    assert "report_in_progress" not in CALL_REASONS and "access_denied" in CALL_REASONS


def test_a_part_switched_off_has_no_detail_error_series() -> None:
    demo = demo_targets()
    config = config_from_dict({"accounts": {"roles": {"enabled": False}}})
    wiring = AccountsWiring(config, fixed=demo)
    states = [AccountState(account_id=t.account_id, name=t.name) for t in demo]
    errors = by_label(samples_of(states, wiring), "aws_iam_exporter_detail_errors_total", "part")
    assert set(errors) == {("account",)}


def test_discovery_errors_start_at_zero() -> None:
    directory = SimpleNamespace(
        cfg=SimpleNamespace(organizations=object()),
        discovery_errors=Counter({"throttled": 1}),
    )
    wiring = AccountsWiring(config_from_dict({}), directory=directory)
    errors = by_label(samples_of([], wiring), "aws_iam_exporter_discovery_errors_total", "reason")
    assert errors == {**{(r,): 0.0 for r in CALL_REASONS}, ("throttled",): 1}
