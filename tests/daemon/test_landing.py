"""The landing page as HTML: accounts worst first with the failing and stale ones on top,
totals, links to the documentation and the runbook, the configuration summary, the
grammar of counts, and that it is rendered with the snapshot, not per request."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from exporter import __version__
from exporter.config import Config, config_from_dict
from exporter.config.settings import Settings
from exporter.core.checks import CHECKS
from exporter.daemon import http as http_server
from exporter.daemon.app import Daemon
from exporter.daemon.doc_links import (
    DOCS_BASE_URL,
    RUNBOOK_GENERAL,
    RUNBOOK_SECTIONS,
    anchor,
    check_doc_url,
    runbook_url,
)
from exporter.daemon.landing import render_landing, stale_report_age
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Snapshot
from exporter.sources.base import FetchedReport, SourceError
from tests.support.sample_reports import NOW, report_csv, root_row, sample_report, user_row

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules" / "aws-iam-alerts.rules.yml"


class Source:
    def __init__(self, content: bytes, age: timedelta = timedelta(hours=1)) -> None:
        self.content, self.age, self.fail = content, age, False

    def fetch(self) -> FetchedReport:
        if self.fail:
            raise SourceError("file_error", "the file went away")
        return FetchedReport(self.content, NOW - self.age)


class Broken:
    def fetch(self) -> FetchedReport:
        raise SourceError("access_denied", "not allowed")


def clean_report(account: str) -> bytes:
    return report_csv(root_row(account), user_row("ok", account, password_used=1, mfa=True))


def critical_report(account: str) -> bytes:
    return report_csv(root_row(account, mfa=False), user_row("ok", account, mfa=True))


def scenario(cfg: Config | None = None) -> tuple[Snapshot, Source]:
    """Six accounts: after a second round, one fails (with data), one never worked,
    one's report is stale; three are healthy with critical, ten high and no findings."""
    flaky = Source(sample_report(1, "100000000001"))
    targets = [
        AccountTarget("100000000000", "clean", Source(clean_report("100000000000"))),
        AccountTarget("100000000001", "flaky", flaky),
        AccountTarget("100000000002", "busy", Source(sample_report(5, "100000000002"))),
        AccountTarget("100000000003", "denied", Broken()),
        AccountTarget("100000000004", "root", Source(critical_report("100000000004"))),
        AccountTarget(
            "100000000005", "old", Source(sample_report(1, "100000000005"), timedelta(hours=13))
        ),
    ]
    r = Refresher(lambda: targets, cfg or Config(), now=lambda: NOW)
    r.run()
    flaky.fail = True
    snapshot = r.run()
    r.close()
    return snapshot, flaky


def page_of(snapshot: Snapshot) -> str:
    assert snapshot.landing, "every published snapshot carries its page"
    return snapshot.landing.decode()


def section(page: str, ident: str) -> str:
    start = page.index(f"id='{ident}'")
    return page[start : page.index("</section>", start)]


def test_accounts_worst_first_with_failing_and_stale_above_the_rest() -> None:
    page = page_of(scenario()[0])
    titles = re.findall(r"<h3>([^<(]+) \(", page)
    # Attention first (flaky: 2 high; old: 2 high; denied: no data), then by worst
    # finding and counts: root (1 critical) before busy (10 high), clean last.
    assert titles == ["flaky", "old", "denied", "root", "busy", "clean"]
    overview = section(page, "accounts")
    rows = overview.split("<tr")[2:]
    assert [("attention" in row) for row in rows] == [True, True, True, False, False, False]
    assert "refresh failing" in rows[0] and "report stale" in rows[1]
    assert "refresh failing" in rows[2] and "<td class='n zero'>-</td>" in rows[2]
    needs = re.search(r"3 accounts need attention: (.*?)\.</p>", page)
    assert needs is not None and needs.group(1).count("<a href='#account-") == 3


def test_totals_sum_every_account_and_zero_counts_are_neutral() -> None:
    totals = section(page_of(scenario()[0]), "totals")
    tiles = dict(
        (label, (css, int(value.replace(",", ""))))
        for css, value, label in re.findall(r"<b class='([^']*)'>([\d,]+)</b>([^<]+)</div>", totals)
    )
    # users: clean 1 + flaky 1 + busy 5 + root 1 + old 1 (denied never had data).
    assert tiles["accounts"] == ("", 6) and tiles["users"] == ("", 9)
    assert tiles["critical"] == ("critical", 1)
    assert tiles["high"] == ("high", 2 + 10 + 2)  # flaky's last good data still counts
    assert tiles["medium"] == ("zero", 0)  # a zero is grey, never a severity's colour
    assert tiles["low"] == ("low", 1)  # root's user "ok" never signed in: user_inactive
    assert tiles["failing"] == ("fail", 2) and tiles["stale"] == ("fail", 1)
    clean = section(page_of(scenario()[0]), "account-100000000000")
    assert "<span class='zero'>0 critical</span>" in clean and "No findings." in clean
    assert "class='critical'" not in clean and "class='high'" not in clean


def test_singular_counts() -> None:
    target = AccountTarget("100000000001", "one", Source(sample_report(1, "100000000001")))
    r = Refresher(lambda: [target], config_with_one_lapsed(), now=lambda: NOW)
    page = page_of(r.run())
    r.close()
    assert "<b class=''>1</b>account</div>" in page and "<b class=''>1</b>user</div>" in page
    assert "&middot; 1 user</p>" in page
    assert "1 exemption expired: it no longer applies" in page
    assert not re.search(r"\b1 (accounts|users|exemptions|findings)\b", page)
    assert "(s)" not in page


def config_with_one_lapsed() -> Config:
    lapsed = (NOW.date() - timedelta(days=2)).isoformat()
    return config_from_dict({"exemptions": [{"user": "x", "reason": "r", "expires": lapsed}]})


def test_every_check_links_to_its_documentation_and_runbook() -> None:
    page = page_of(scenario()[0])
    for check in ("console_without_mfa", "access_key_not_rotated", "root_mfa_disabled"):
        assert f"<a href='{check_doc_url(check)}'>{CHECKS[check].title}</a>" in page
        assert f"<a href='{runbook_url(check)}'>runbook</a>" in page
    assert runbook_url("root_mfa_disabled").endswith("runbook.md#awsiamrootmfadisabled")
    assert runbook_url("access_key_not_rotated").endswith("#finding-the-users-involved")


def headings(doc: str) -> set[str]:
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    return {anchor(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_each_link_anchor_is_a_heading_of_the_docs() -> None:
    checks, runbook = headings("checks.md"), headings("runbook.md")
    for check in CHECKS:
        assert check_doc_url(check).split("#")[1] in checks, check
        assert runbook_url(check).split("#")[1] in runbook, check
    assert anchor("### `root_mfa_disabled`".lstrip("# ")) == "root_mfa_disabled"
    assert anchor(RUNBOOK_GENERAL) == "finding-the-users-involved"


def alerts() -> list[dict[str, object]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_runbook_sections_are_the_alerts_raised_on_each_check() -> None:
    raised: dict[str, str] = {}
    for rule in alerts():
        for check in re.findall(r'aws_iam_findings\{check="(\w+)"\}', str(rule["expr"])):
            raised.setdefault(check, str(rule["alert"]))
            assert str(rule["annotations"]["runbook_url"]).endswith(
                f"#{anchor(str(rule['alert']))}"
            )  # type: ignore[index]
    assert raised == RUNBOOK_SECTIONS


def _seconds(product: str) -> int:
    """``4 * 3600`` as the rule writes it: a product of whole numbers."""
    return math.prod(int(factor) for factor in product.split("*"))


def test_stale_means_what_the_report_age_alert_means() -> None:
    (rule,) = [r for r in alerts() if r["alert"] == "AwsIamCredentialReportTooOld"]
    expr = " ".join(str(rule["expr"]).split())
    found = re.search(
        r"clamp_min\((\d+) \* aws_iam_exporter_refresh_interval_seconds \+ ([\d *]+), ([\d *]+)\)",
        expr,
    )
    assert found is not None, expr
    times, plus, floor = int(found.group(1)), _seconds(found.group(2)), _seconds(found.group(3))
    for hours in (0.5, 1, 4, 8, 24):
        interval = timedelta(hours=hours)
        alert = max(times * interval + timedelta(seconds=plus), timedelta(seconds=floor))
        assert stale_report_age(interval) == alert, hours


def test_a_report_exactly_at_the_threshold_is_not_stale() -> None:
    limit = stale_report_age(Config().settings.refresh_interval)
    for age, stale in ((limit, False), (limit + timedelta(seconds=1), True)):
        target = AccountTarget("100000000001", "a", Source(sample_report(1, "100000000001"), age))
        r = Refresher(lambda t=target: [t], Config(), now=lambda: NOW)
        page = page_of(r.run())
        r.close()
        assert ("report stale" in page) is stale, age


def test_version_and_configuration_that_differs_from_the_defaults() -> None:
    cfg = config_from_dict(
        {
            "flags": {"refresh.interval": "30m"},
            "checks": {
                "access_key_not_rotated": {"max_age_days": 60},
                "password_unused": {"human": {"max_idle_days": 45}},
                "user_inactive": {"enabled": False},
                "console_without_mfa": {"severity": "critical"},
            },
        }
    )
    summary = section(page_of(scenario(cfg)[0]), "configuration")
    assert f"Exporter version <strong>{__version__}</strong>" in summary
    items = re.findall(r"<li>(.*?)</li>", summary)
    text = [re.sub(r"<[^>]+>", "", item) for item in items]
    assert text == [
        "--refresh.interval 30m (default 1h)",
        "console_without_mfa: severity critical (default high)",
        "password_unused: max_idle_days 45 for human users (default 90)",
        "access_key_not_rotated: max_age_days 60 (default 90)",
        "user_inactive disabled",
    ]
    assert "No exemptions are configured." in summary
    default = section(page_of(scenario()[0]), "configuration")
    assert "Every flag, check and threshold has its default value." in default


def test_exemptions_with_state_and_expiry_are_in_the_configuration() -> None:
    target = AccountTarget("100000000001", "one", Source(sample_report(1, "100000000001")))
    r = Refresher(lambda: [target], config_with_one_lapsed(), now=lambda: NOW)
    summary = section(page_of(r.run()), "configuration")
    r.close()
    expired = (NOW.date() - timedelta(days=2)).isoformat()
    assert "<h3 id='exemptions'>Exemptions</h3>" in summary
    assert f"<td>{expired}</td><td class='fail'>expired: no longer applies</td>" in summary


class Assets(HTMLParser):
    """Every URL the page would load by itself (not the links a reader follows)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("img", "script", "iframe", "source", "video", "audio") and values.get("src"):
            self.loaded.append(str(values["src"]))
        if tag == "link":
            self.loaded.append(str(values.get("href")))


def test_the_page_is_self_contained() -> None:
    parser = Assets()
    page = page_of(scenario()[0])
    parser.feed(page)
    assert parser.loaded == []
    assert "url(" not in page and "@import" not in page
    assert page.count(DOCS_BASE_URL) > 0  # links to follow, never assets to load


def test_no_sharding_wording_with_one_replica() -> None:
    page = page_of(scenario()[0])
    assert "replica" not in page and "shard" not in page


def test_served_as_rendered_with_the_snapshot_never_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(web_listen_address="127.0.0.1:0")
    target = AccountTarget("100000000001", "one", Source(sample_report(1, "100000000001")))
    daemon = Daemon(lambda: [target], Config(settings=settings), now=lambda: NOW)
    daemon.start(schedule=False)
    try:
        import urllib.request

        url = f"http://127.0.0.1:{daemon.port}/"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert b"The first refresh has not finished yet." in resp.read()
        snapshot = daemon.refresher.run()

        def no_rendering(*args: object, **kwargs: object) -> bytes:
            raise AssertionError("rendered per request")

        monkeypatch.setattr(http_server, "render_landing", no_rendering)
        for _ in range(2):
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.read() == snapshot.landing
    finally:
        daemon.stop()


def test_a_restored_snapshot_gets_its_page_when_installed() -> None:
    snapshot, _ = scenario()
    bare = replace(snapshot, landing=b"")
    r = Refresher(lambda: [], Config(), now=lambda: NOW)
    r.install(bare)
    installed = r.snapshot
    r.close()
    assert installed is not None and installed.landing == snapshot.landing


def test_times_are_absolute_utc_with_an_inline_script_for_the_age() -> None:
    page = page_of(scenario()[0])
    assert f"<time datetime='{NOW.isoformat()}' data-ago>2026-11-24 12:00:00 UTC</time>" in page
    assert "<script>" in page and "insertAdjacentText" in page


def test_before_the_first_snapshot() -> None:
    page = render_landing(None, "/metrics", datetime.now()).decode()
    assert "The first refresh has not finished yet." in page and __version__ in page


def test_checks_not_evaluated_are_grouped_by_their_own_reason() -> None:
    from exporter.daemon.landing import _not_evaluated

    lines = _not_evaluated(
        [("root_mfa_disabled", "no <root_account> row"), ("role_unused", "no roles read"),
         ("root_access_key_active", "no <root_account> row")]
    )  # fmt: skip
    assert lines == [
        "<p>Not evaluated (no &lt;root_account&gt; row): <code>root_mfa_disabled</code>, "
        "<code>root_access_key_active</code>.</p>",
        "<p>Not evaluated (no roles read): <code>role_unused</code>.</p>",
    ]
