"""The multi-account benchmark measures what it says (its figures are not asserted)."""

from __future__ import annotations

from benchmarks import bench_multi_account as bench
from exporter.core.report import parse_report
from exporter.sources.base import AccountDetails


def test_fake_account_answers_like_an_aws_account() -> None:
    account = bench.FakeAccount("100000000007", users=5, latency=0.0)
    report = parse_report(account.fetch().content)  # type: ignore[attr-defined]
    assert report.account_id == "100000000007" and len(report.users) == 5
    details = account.fetch_details()
    assert isinstance(details, AccountDetails) and len(details.roles or ()) == 40
    assert details.facts is not None and details.facts.root_virtual_mfa  # id ends in 7


def test_rss_child_holds_every_account_after_one_refresh() -> None:
    figures = bench.peak_rss_mb(accounts=3, users=10, workers=2)
    assert figures["records"] == 3 * 11  # users plus the root row, for each account
    assert figures["peak_mb"] >= figures["held_mb"] > 0


def test_fetch_phase_is_compared_with_the_ideal() -> None:
    fetch, whole = bench.parallel_seconds(accounts=5, latency=0.0, workers=2, repeat=1)
    assert 0 < fetch <= whole  # the fetch phase is a part of the whole refresh


def test_organisation_child_times_parsing_refreshes_and_the_first_account() -> None:
    figures = bench.organisation(accounts=4, users=10, rounds=2)
    assert len(figures["parse"]) == 2 and len(figures["whole"]) == 2  # type: ignore[arg-type]
    first_round = figures["whole"][0]  # type: ignore[index]
    # Served during the first round, which ends with the swap of every account.
    assert 0 < figures["first_served"] <= first_round  # type: ignore[operator]
    assert figures["peak_mb"] > 0  # type: ignore[operator]
