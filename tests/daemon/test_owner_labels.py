"""The owner label from IAM tags: aws_iam_finding, aws_iam_role_finding, by-owner counts."""

from __future__ import annotations

from datetime import timedelta

from exporter.config import config_from_dict
from exporter.core.records import FetchedReport, RoleRecord, UserTags
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.labels import UserLabeler
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.sources.base import AccountDetails
from tests.support.reports import ACCOUNT, AS_OF, key, report, root_row, ts, user_row

USERS = (
    UserTags("alice", (("owner", "alice@example.com"), ("team", "payments"))),
    UserTags("bob", (("owner", "bob@example.com"),)),
    UserTags("carol", (("cost-center", "42"),)),
)
ROLES = (
    RoleRecord("forgotten", f"arn:aws:iam::{ACCOUNT}:role/forgotten", "/",
               AS_OF - timedelta(days=400), tags=(("team", "platform"),)),
    RoleRecord("orphan", f"arn:aws:iam::{ACCOUNT}:role/orphan", "/",
               AS_OF - timedelta(days=400)),
)  # fmt: skip


class TaggedSource:
    """A report with three users, and their tags and two roles as an AWS source gives."""

    def __init__(self) -> None:
        self.detail_calls = 0

    def fetch(self) -> FetchedReport:
        rows = [
            root_row(),
            user_row("alice", password_enabled="true", password_last_used=ts(1)),
            user_row("bob", **key(1, rotated=ts(200), used=ts(1))),
            user_row("carol", password_enabled="true", password_last_used=ts(1)),
        ]
        return FetchedReport(report(*rows), AS_OF - timedelta(hours=1))

    def fetch_details(self) -> AccountDetails:
        self.detail_calls += 1
        return AccountDetails(ACCOUNT, ROLES, None, (), USERS)


def scrape(owner_tags: list[str], user_label: UserLabeler | None = None) -> str:
    raw = {"flags": {"labels.owner-tag": owner_tags}} if owner_tags else {}
    config = config_from_dict(raw)
    wiring = AccountsWiring(config, fixed=[AccountTarget(ACCOUNT, "tagged", TaggedSource())])
    options = ExpositionOptions.from_settings(
        config.settings, *([user_label] if user_label else []), collectors=(wiring.collector,)
    )
    refresher = Refresher(wiring.targets, config, options, now=lambda: AS_OF,
                          hooks=[wiring.state_hook])  # fmt: skip
    try:
        return refresher.run().exposition.text.decode()
    finally:
        refresher.close()


def lines(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_owner_label_first_configured_tag_wins_and_missing_is_empty() -> None:
    text = scrape(["team", "owner"])
    findings = lines(text, "aws_iam_finding")
    alice = [x for x in findings if 'user="alice"' in x]
    bob = [x for x in findings if 'user="bob"' in x]
    carol = [x for x in findings if 'user="carol"' in x]
    assert alice and all('owner="payments"' in x for x in alice)  # team first
    assert bob and all('owner="bob@example.com"' in x for x in bob)
    assert carol and all('owner=""' in x for x in carol)


def test_role_findings_carry_the_roles_own_tag() -> None:
    roles = lines(scrape(["team"]), "aws_iam_role_finding")
    assert any('role="forgotten"' in x and 'owner="platform"' in x for x in roles)
    assert any('role="orphan"' in x and 'owner=""' in x for x in roles)


def test_findings_by_owner_counts_users_and_roles() -> None:
    text = scrape(["team"])
    by_owner = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in lines(text, "aws_iam_findings_by_owner")
    }
    payments = sum(v for k, v in by_owner.items() if 'owner="payments"' in k)
    platform = sum(v for k, v in by_owner.items() if 'owner="platform"' in k)
    alice = len([x for x in lines(text, "aws_iam_finding") if 'user="alice"' in x])
    forgotten = len([x for x in lines(text, "aws_iam_role_finding") if 'role="forgotten"' in x])
    assert payments == alice > 0
    assert platform == forgotten > 0
    total = len(lines(text, "aws_iam_finding")) + len(lines(text, "aws_iam_role_finding"))
    assert sum(by_owner.values()) == total


def test_unconfigured_no_owner_label_nor_by_owner_family() -> None:
    text = scrape([])
    assert "owner=" not in text
    assert "aws_iam_findings_by_owner" not in text


def test_owner_label_works_with_hashed_users() -> None:
    text = scrape(["team"], UserLabeler("hash", b"k" * 16))
    findings = lines(text, "aws_iam_finding")
    assert not any('user="alice"' in x for x in findings)  # the name is hidden...
    assert any('owner="payments"' in x for x in findings)  # ...the team is not


def test_by_owner_is_exported_without_per_user_series() -> None:
    text = scrape(["team"], UserLabeler("none"))
    assert not any("user=" in x for x in lines(text, "aws_iam_finding"))
    assert any('owner="payments"' in x for x in lines(text, "aws_iam_findings_by_owner"))


def test_the_demo_shows_owners_and_the_empty_owner() -> None:
    from exporter.sources.demo import DEMO_ACCOUNTS, DEMO_OWNER_TAG, DemoSource

    config = config_from_dict({"flags": {"labels.owner-tag": [DEMO_OWNER_TAG]}})
    targets = [AccountTarget(a.account_id, a.name, DemoSource(account=a)) for a in DEMO_ACCOUNTS]
    wiring = AccountsWiring(config, fixed=targets)
    options = ExpositionOptions.from_settings(config.settings, collectors=(wiring.collector,))
    refresher = Refresher(wiring.targets, config, options, hooks=[wiring.state_hook])
    try:
        text = refresher.run().exposition.text.decode()
    finally:
        refresher.close()
    findings = lines(text, "aws_iam_finding")
    assert any('user="ci-deploy"' in x and 'owner="platform"' in x for x in findings)
    assert any('user="svc-backup"' in x and 'owner="data"' in x for x in findings)
    assert any('user="<root_account>"' in x and 'owner=""' in x for x in findings)
    roles = lines(text, "aws_iam_role_finding")
    assert any('owner="data"' in x for x in roles) and any('owner=""' in x for x in roles)
    owners = {x.split('owner="')[1].split('"')[0] for x in lines(text, "aws_iam_findings_by_owner")}
    assert {"platform", "data", ""} <= owners


def test_user_tag_errors_start_at_zero_only_when_read() -> None:
    def errors(text: str) -> list[str]:
        return [
            x for x in lines(text, "aws_iam_exporter_detail_errors_total") if 'part="users"' in x
        ]

    configured = errors(scrape(["team"]))
    assert configured and all(x.endswith(" 0.0") for x in configured)
    assert errors(scrape([])) == []
