"""A report without the <root_account> row never reads as a clean account in serve."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from exporter.config import Config
from exporter.core.checks import ids_of_scope
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.sources.base import FetchedReport
from tests.support.exporter_process import Samples, parse_samples, sample_value
from tests.support.sample_reports import ACCOUNT, NOW, report_csv, sample_report, user_row

HEADER_ONLY = sample_report(0).split(b"\n", 1)[0] + b"\n"
NO_ROOT = report_csv(user_row("alice", password_used=1, key_age=200, key_used=1))


class Source:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def fetch(self) -> FetchedReport:
        return FetchedReport(self.content, NOW - timedelta(hours=1))


def refresher(source: Source, allow: bool = False) -> Refresher:
    config = Config()
    config = replace(config, settings=replace(config.settings, report_allow_incomplete=allow))
    return Refresher(lambda: [AccountTarget(ACCOUNT, "prod", source)], config, now=lambda: NOW)


def samples(r: Refresher) -> Samples:
    snapshot = r.snapshot
    assert snapshot is not None
    return parse_samples(snapshot.exposition.text.decode())


def test_a_truncated_report_fails_the_refresh_and_keeps_the_last_good_data() -> None:
    source = Source(sample_report(3))
    r = refresher(source)
    r.run()
    for cut in (HEADER_ONLY, NO_ROOT):
        source.content = cut
        r.run()
        got = samples(r)
        assert sample_value(got, "aws_iam_exporter_refresh_success", account_id=ACCOUNT) == 0
        errors = {"account_id": ACCOUNT, "reason": "incomplete_report"}
        failed = sample_value(got, "aws_iam_exporter_refresh_errors_total", **errors)
        assert failed is not None and failed >= 1
        # The last good report (3 users) is still what is served.
        assert sample_value(got, "aws_iam_users", account_id=ACCOUNT) == 3
    r.close()


def test_allowed_incomplete_reports_leave_the_root_checks_out_instead_of_a_clean_zero() -> None:
    r = refresher(Source(NO_ROOT), allow=True)
    r.run()
    got = samples(r)
    assert sample_value(got, "aws_iam_exporter_refresh_success", account_id=ACCOUNT) == 1
    exported = {labels["check"] for labels, _ in got["aws_iam_findings"]}
    root_checks = set(ids_of_scope("root"))
    assert root_checks and not root_checks & exported
    assert "console_without_mfa" in exported and "access_key_not_rotated" in exported
    r.close()
