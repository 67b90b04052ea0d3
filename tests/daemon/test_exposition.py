"""The metric contract, rendered from account states without any server."""

from __future__ import annotations

import gzip
import io
import subprocess
import zlib
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

from exporter import __version__
from exporter.config import Config, config_from_dict
from exporter.core.analyse import analyse
from exporter.core.checks import CATALOGUE
from exporter.daemon.build_info import python_version, revision
from exporter.daemon.exposition import (
    ExpositionOptions,
    FindingSeries,
    SnapshotCollector,
    _Collected,
    _formatted,
    _openmetrics,
    accepts_gzip,
    format_duration,
    render,
    wants_openmetrics,
)
from exporter.daemon.scrape import LiveMetrics, body
from exporter.daemon.snapshot import AccountState
from exporter.sources.base import FetchedReport
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.sample_reports import ACCOUNT, NOW, report_csv, root_row, sample_report, user_row


def state(content: bytes, config: Config | None = None, **kw: object) -> AccountState:
    analysis = analyse(FetchedReport(content, NOW - timedelta(hours=1)), config or Config(), NOW)
    base = {"account_id": ACCOUNT, "name": "prod", "analysis": analysis,
            "evaluated_at": NOW, "attempted": True, "success": True,
            "last_success": NOW}  # fmt: skip
    base.update(kw)
    return AccountState(**base)  # type: ignore[arg-type]


def registry_for(states: list[AccountState], config: Config | None = None, **opts: object):  # type: ignore[no-untyped-def]
    registry = CollectorRegistry(auto_describe=False)
    options = ExpositionOptions(**opts)  # type: ignore[arg-type]
    registry.register(SnapshotCollector(states, config or Config(), options))
    return registry


def text(states: list[AccountState], config: Config | None = None, **opts: object) -> str:
    return render(states, config or Config(), ExpositionOptions(**opts)).text.decode()  # type: ignore[arg-type]


def test_counts_users_findings_and_mfa() -> None:
    reg = registry_for([state(sample_report(3))])
    a = {"account_id": ACCOUNT}
    assert reg.get_sample_value("aws_iam_users", a) == 3
    assert reg.get_sample_value("aws_iam_users_without_mfa", {**a, "severity": "high"}) == 3
    assert reg.get_sample_value("aws_iam_users_without_mfa", {**a, "severity": "critical"}) == 0
    findings = {"check": "console_without_mfa", "severity": "high"}
    assert reg.get_sample_value("aws_iam_findings", {**a, **findings}) == 3
    stale = {"severity": "high", "reason": "not_rotated"}
    assert reg.get_sample_value("aws_iam_stale_access_keys", {**a, **stale}) == 3
    stale = {"severity": "medium", "reason": "never_used"}
    assert reg.get_sample_value("aws_iam_stale_access_keys", {**a, **stale}) == 0
    drill = {"check": "console_without_mfa", "severity": "high", "user": "user1", "key": ""}
    assert reg.get_sample_value("aws_iam_finding", {**a, **drill}) == 1
    key = {"check": "access_key_not_rotated", "severity": "high", "user": "user0", "key": "1"}
    assert reg.get_sample_value("aws_iam_finding", {**a, **key}) == 1
    info = {**a, "account_name": "prod"}
    assert reg.get_sample_value("aws_iam_account_info", info) == 1
    build = {"version": __version__, "revision": revision(), "pythonversion": python_version()}
    assert reg.get_sample_value("aws_iam_exporter_build_info", build) == 1
    generated = reg.get_sample_value("aws_iam_credential_report_generated_timestamp_seconds", a)
    assert generated == (NOW - timedelta(hours=1)).timestamp()
    assert reg.get_sample_value("aws_iam_exporter_refresh_success", a) == 1


def test_refresh_interval_is_one_exporter_level_gauge() -> None:
    # No account_id: alerts join it on (job, instance) to judge each account's refresh age.
    reg = registry_for([state(sample_report(1))], refresh_interval=timedelta(minutes=30))
    assert reg.get_sample_value("aws_iam_exporter_refresh_interval_seconds", {}) == 1800
    samples = parse_samples(text([], refresh_interval=timedelta(hours=2)))
    assert samples["aws_iam_exporter_refresh_interval_seconds"] == [({}, 7200.0)]


def test_every_enabled_check_is_present_even_when_clean() -> None:
    clean = report_csv(root_row(), user_row("ok", password_used=1, mfa=True))
    samples = parse_samples(text([state(clean)]))
    checks = {lab["check"]: v for lab, v in samples["aws_iam_findings"]}
    assert set(checks) == {c.id for c in CATALOGUE}
    assert set(checks.values()) == {0.0}
    assert {lab["check"] for lab, _ in samples["aws_iam_exempted_findings"]} == set(checks)


def test_disabled_check_and_configured_severity() -> None:
    config = config_from_dict(
        {
            "checks": {
                "user_inactive": {"enabled": False},
                "console_without_mfa": {"severity": "critical"},
            }
        }
    )
    samples = parse_samples(text([state(sample_report(2), config)], config))
    checks = {lab["check"]: lab["severity"] for lab, _ in samples["aws_iam_findings"]}
    assert "user_inactive" not in checks
    assert checks["console_without_mfa"] == "critical"
    drill = {
        lab["severity"]
        for lab, _ in samples["aws_iam_finding"]
        if lab["check"] == "console_without_mfa"
    }
    assert drill == {"critical"}


def test_exempted_findings_are_counted_not_exported() -> None:
    config = config_from_dict(
        {"exemptions": [{"user": "user0", "checks": ["console_without_mfa"], "reason": "kiosk"}]}
    )
    reg = registry_for([state(sample_report(3), config)], config)
    a = {"account_id": ACCOUNT, "check": "console_without_mfa"}
    assert reg.get_sample_value("aws_iam_exempted_findings", a) == 1
    assert reg.get_sample_value("aws_iam_findings", {**a, "severity": "high"}) == 2
    assert (
        reg.get_sample_value(
            "aws_iam_finding", {**a, "severity": "high", "user": "user0", "key": ""}
        )
        is None
    )


def test_finding_series_limit_keeps_most_severe_and_counts_the_rest() -> None:
    # root without MFA is critical: it must survive a limit of 1.
    content = report_csv(
        root_row(mfa=False), *[user_row(f"u{i}", key_age=300, key_used=1) for i in range(4)]
    )
    samples = parse_samples(text([state(content)], finding_series_limit=1))
    series = samples["aws_iam_finding"]
    assert len(series) == 1
    assert series[0][0]["check"] == "root_mfa_disabled"
    assert sample_value(samples, "aws_iam_finding_series_dropped", account_id=ACCOUNT) == 4


def test_finding_series_can_be_switched_off() -> None:
    samples = parse_samples(text([state(sample_report(2))], finding_series=False))
    assert "aws_iam_finding" not in samples
    assert "aws_iam_finding_series_dropped" not in samples
    assert sample_value(samples, "aws_iam_findings", check="console_without_mfa") == 2


def test_user_label_function_renames_or_drops_users() -> None:
    hashed = parse_samples(
        text([state(sample_report(2))], user_label=lambda u: f"h-{len(u)}-{u[-1]}")
    )
    assert {lab["user"] for lab, _ in hashed["aws_iam_finding"]} == {"h-5-0", "h-5-1"}
    none = parse_samples(
        text([state(sample_report(2))], user_label=lambda u: None, user_facts=True)
    )
    assert "aws_iam_finding" not in none
    assert "aws_iam_user_mfa_active" not in none
    assert sample_value(none, "aws_iam_findings", check="console_without_mfa") == 2


def test_user_facts_only_when_switched_on() -> None:
    off = parse_samples(text([state(sample_report(1))]))
    assert "aws_iam_user_mfa_active" not in off
    on = parse_samples(text([state(sample_report(1))], user_facts=True))
    assert sample_value(on, "aws_iam_user_mfa_active", user="user0") == 0
    assert sample_value(on, "aws_iam_user_mfa_active", user="<root_account>") == 1
    used = sample_value(on, "aws_iam_user_password_last_used_timestamp_seconds", user="user0")
    assert used == (NOW - timedelta(days=1)).timestamp()
    rotated = sample_value(
        on, "aws_iam_access_key_last_rotated_timestamp_seconds", user="user0", key="1"
    )
    assert rotated == (NOW - timedelta(days=200)).timestamp()
    assert sample_value(on, "aws_iam_access_key_last_used_timestamp_seconds", user="user0", key="1")


def test_failed_account_keeps_data_and_shows_failure() -> None:
    failed = state(
        sample_report(2), success=False, errors_total={"throttled": 2, "timeout": 1},
        changes_total={"user_created": 5},
    )  # fmt: skip
    samples = parse_samples(text([failed]))
    assert sample_value(samples, "aws_iam_exporter_refresh_success", account_id=ACCOUNT) == 0
    assert sample_value(samples, "aws_iam_exporter_refresh_errors_total", reason="throttled") == 2
    assert sample_value(samples, "aws_iam_exporter_refresh_errors_total", reason="timeout") == 1
    assert sample_value(samples, "aws_iam_credential_changes_total", change="user_created") == 5
    assert sample_value(samples, "aws_iam_users", account_id=ACCOUNT) == 2


def test_account_never_refreshed_has_info_but_no_data() -> None:
    fresh = AccountState(account_id="222233334444", name="new")
    samples = parse_samples(text([fresh]))
    assert sample_value(samples, "aws_iam_account_info", account_id="222233334444") == 1
    assert "aws_iam_users" not in samples
    assert "aws_iam_exporter_refresh_success" not in samples


def test_help_says_data_is_cached_with_the_interval() -> None:
    out = text([state(sample_report(1))], refresh_interval=timedelta(minutes=30))
    helps = [line for line in out.splitlines() if line.startswith("# HELP aws_iam_findings ")]
    assert helps and "cached credential report, refreshed every 30m" in helps[0]


def test_promtool_accepts_the_rendering() -> None:
    failed = state(sample_report(3), success=False, errors_total={"throttled": 1})
    out = render([failed], Config(), ExpositionOptions(user_facts=True)).text + LiveMetrics().text()
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=out, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gzip_is_cached_bytes_plus_live_part() -> None:
    exposition = render([state(sample_report(3))], Config(), ExpositionOptions())
    live = LiveMetrics()
    plain = body(exposition, live, None, None)
    zipped = body(exposition, live, None, "gzip, deflate")
    assert plain.content_encoding is None and zipped.content_encoding == "gzip"
    unzipped = gzip.decompress(zipped.content).decode()
    assert unzipped.startswith(exposition.text.decode())
    assert "process_cpu_seconds_total" in unzipped
    assert plain.content_type.startswith("text/plain; version=0.0.4")


def one_gzip_member(data: bytes) -> bytes:
    """The content of the first gzip member, failing if anything follows it: ``curl
    --compressed`` and many other clients decode only the first member."""
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(data) + inflater.flush()
    assert inflater.eof and inflater.unused_data == b"", "more than one gzip member"
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as first:
        assert first.read() == out
    return out


def test_gzip_body_is_one_member_with_the_live_part() -> None:
    exposition = render([state(sample_report(3))], Config(), ExpositionOptions())
    live = LiveMetrics()
    for accept in (None, "application/openmetrics-text;version=1.0.0"):
        zipped = body(exposition, live, accept, "gzip")
        doc = one_gzip_member(zipped.content)
        plain = body(exposition, live, accept, None).content
        assert doc.startswith(plain[:1000]) and b"process_cpu_seconds_total" in doc
        assert doc.count(b"# EOF") == (1 if accept else 0)
    # The cached part alone is still a whole gzip file.
    assert gzip.decompress(exposition.text_gzip) == exposition.text


def test_openmetrics_has_one_eof_and_parses() -> None:
    exposition = render([state(sample_report(3))], Config(), ExpositionOptions())
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    for encoding in (None, "gzip"):
        out = body(exposition, LiveMetrics(), accept, encoding)
        assert out.content_type.startswith("application/openmetrics-text; version=1.0.0")
        doc = gzip.decompress(out.content) if encoding else out.content
        assert doc.count(b"# EOF") == 1 and doc.endswith(b"# EOF\n")
        names = {f.name for f in om_families(doc.decode())}
        assert {
            "aws_iam_findings",
            "aws_iam_exporter_refresh_errors",
            "process_cpu_seconds",
        } <= names


def test_negotiation_helpers() -> None:
    assert wants_openmetrics("application/openmetrics-text; version=1.0.0")
    assert not wants_openmetrics("text/plain;version=0.0.4")
    assert not wants_openmetrics(None)
    assert accepts_gzip("br, GZIP;q=0.8")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("deflate")
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"
    assert format_duration(timedelta(seconds=2)) == "2s"


@pytest.mark.parametrize(
    ("accept_encoding", "gzip_wanted"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("br, gzip;q=0.8", True),
        ("gzip;q=1.000", True),
        ("gzip ; Q=0.5", True),
        ("*", True),
        ("deflate, *;q=0.1", True),
        (None, False),
        ("", False),
        ("deflate", False),
        ("identity", False),
        # A weight of 0 means "not acceptable" (RFC 9110 12.4.2), however it is spelt.
        ("gzip;q=0", False),
        ("gzip;Q=0", False),
        ("gzip;q=0.000", False),
        ("gzip; q=0.0", False),
        # Invalid weights do not make a coding acceptable.
        ("gzip;q=-1", False),
        ("gzip;q=nan", False),
        ("gzip;q=NaN", False),
        ("gzip;q=inf", False),
        ("gzip;q=1.5", False),
        ("gzip;q=0.1234", False),
        ("gzip;q=", False),
        # A listed coding wins over *; identity preferred by weight wins over gzip.
        ("*, gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("identity, gzip;q=0.5", False),
        ("identity;q=0.5, gzip", True),
        ("identity;q=0, gzip;q=0.1", True),
    ],
)
def test_accept_encoding_follows_rfc9110_weights(
    accept_encoding: str | None, gzip_wanted: bool
) -> None:
    assert accepts_gzip(accept_encoding) is gzip_wanted


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        ("application/openmetrics-text", True),
        ("application/openmetrics-text; version=1.0.0", True),
        ("Application/OpenMetrics-Text;version=1.0.0;q=0.9", True),
        # What Prometheus sends.
        (
            "application/openmetrics-text;version=1.0.0;q=0.5,"
            "application/openmetrics-text;version=0.0.1;q=0.4,"
            "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            True,
        ),
        ("text/plain;version=0.0.4;q=0.3,application/openmetrics-text;q=0.5", True),
        ('application/openmetrics-text;x="a,b";q=0.5, text/plain;q=0.1', True),
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/plain", False),
        ("application/openmetrics-text;q=0", False),
        ("application/openmetrics-text;Q=0", False),
        ("application/openmetrics-text;q=0.000, text/plain", False),
        ("application/openmetrics-text;q=-1", False),
        ("application/openmetrics-text;q=nan", False),
        ("text/plain, application/openmetrics-text;q=0.5", False),
        ("text/*;q=0.9, application/openmetrics-text;q=0.5", False),
    ],
)
def test_accept_follows_rfc9110_weights(accept: str | None, openmetrics: bool) -> None:
    assert wants_openmetrics(accept) is openmetrics


@pytest.mark.parametrize("user", ['quo"te', "back\\slash", "new\nline", "plain", "ünï"])
def test_finding_rows_are_written_as_prometheus_client_writes_the_samples(user: str) -> None:
    family = FindingSeries("One series per finding.")
    family.add_row((ACCOUNT, "console_without_mfa", "high", user, ""))
    family.add_metric([ACCOUNT, "access_key_unused", "medium", "b", "2"], 1)  # = add_row
    assert len(family.samples) == len(family.rows) == 2
    for formatter in (generate_latest, _openmetrics):
        # The same family's samples through prometheus_client, sample by sample.
        expected = formatter(_Collected([_plain(family)]))
        assert _formatted([family], formatter, {}) == expected
        assert user.encode() in expected or "\\" in expected.decode()


def _plain(family: FindingSeries) -> GaugeMetricFamily:
    plain = GaugeMetricFamily(family.name, family.documentation, labels=list(family._labelnames))
    for sample in family.samples:
        plain.add_metric([sample.labels[n] for n in family._labelnames], sample.value)
    return plain
