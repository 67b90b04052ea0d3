"""The landing page of the demo accounts: findings per owner (agreeing with
aws_iam_findings_by_owner), a centrally managed root named where its account is
listed, the services each role grants but does not use, and the upcoming findings."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone

from exporter.config import config_from_dict
from exporter.core.findings import SEVERITIES
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Snapshot
from exporter.sources.demo import DEMO_ACCOUNTS, DEMO_MEMBER, DemoSource
from tests.support.exporter_process import parse_samples

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def demo_snapshot(flags: dict[str, object]) -> Snapshot:
    config = config_from_dict({"flags": flags})
    targets = [
        AccountTarget(a.account_id, a.name, DemoSource(lambda: NOW, a)) for a in DEMO_ACCOUNTS
    ]
    wiring = AccountsWiring(config, fixed=targets)
    options = ExpositionOptions.from_settings(config.settings, collectors=(wiring.collector,))
    refresher = Refresher(wiring.targets, config, options, now=lambda: NOW,
                          hooks=[wiring.state_hook])  # fmt: skip
    try:
        return refresher.run()
    finally:
        refresher.close()


def section(page: str, ident: str) -> str:
    start = page.index(f"id='{ident}'")
    return page[start : page.index("</section>", start)]


def cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_findings_per_owner_are_what_the_metric_counts() -> None:
    snapshot = demo_snapshot({"labels.owner-tag": ["team"]})
    page = snapshot.landing.decode()
    owners = section(page, "owners")
    assert "first IAM tag of <code>team</code>" in owners
    rows = [cells(r) for r in re.findall(r"<tr><td>.*?</tr>", owners)]
    shown = {r[0]: [int(n.replace(",", "")) for n in r[1:]] for r in rows}
    expected: dict[str, Counter[str]] = {}
    samples = parse_samples(snapshot.exposition.text.decode())
    for labels, value in samples["aws_iam_findings_by_owner"]:
        expected.setdefault(labels["owner"] or "no owner tag", Counter())[labels["severity"]] += (
            int(value)
        )
    assert shown == {o: [c[s] for s in SEVERITIES] for o, c in expected.items()}
    assert {"data", "platform", "no owner tag"} <= set(shown)
    # The owners first (data has the most high findings), those without an owner last.
    assert [r[0] for r in rows][-1] == "no owner tag"
    assert page.index("id='owners'") < page.index("<h3>")  # above the accounts' sections


def test_no_owner_section_without_an_owner_tag() -> None:
    page = demo_snapshot({}).landing.decode()
    assert "id='owners'" not in page and "Findings by owner" not in page


def test_the_centrally_managed_root_is_named_in_the_overview() -> None:
    page = demo_snapshot({}).landing.decode()
    overview = section(page, "accounts")
    member = next(r for r in overview.split("<tr") if f"({DEMO_MEMBER.account_id})" in r)
    assert f"({DEMO_MEMBER.account_id})</a><br><small>root centrally managed</small>" in member
    others = [r for r in overview.split("<tr")[2:] if r not in (member,)]
    assert others and not any("centrally" in r for r in others)


def test_each_role_with_unused_services_lists_them() -> None:
    page = demo_snapshot({}).landing.decode()
    member = section(page, f"account-{DEMO_MEMBER.account_id}")
    listed = member[member.index("Roles granting services they did not use") :]
    assert "<li>nightly-report-lambda: <code>dynamodb</code>, <code>sns</code></li>" in listed
    assert "<li>migration-2023: <code>dms</code>, <code>s3</code></li>" in listed
    # Only where Access Advisor answered: the other accounts list none.
    assert page.count("Roles granting services they did not use") == 1


def test_upcoming_findings_are_listed_with_their_due_date() -> None:
    page = demo_snapshot({}).landing.decode()
    assert "<b class='medium'>1</b>due in 14d" in section(page, "totals")
    production = section(page, f"account-{DEMO_ACCOUNTS[0].account_id}")
    table = production[production.index("Due within 14d (1)") :]
    # Rotated 85 days before the report (25 minutes before NOW): due 6 days later.
    due = (NOW - timedelta(minutes=25) - timedelta(days=85) + timedelta(days=91)).date()
    assert cells(table.split("<tr>")[2])[:4] == [
        due.isoformat(), "high", "sec-scanner", "access_key_not_rotated"
    ]  # fmt: skip


def test_a_shorter_window_has_no_upcoming_findings_and_says_so() -> None:
    page = demo_snapshot({"upcoming.window": "3d"}).landing.decode()
    assert "<b class='zero'>0</b>due in 3d" in section(page, "totals")
    assert "Due within" not in page
