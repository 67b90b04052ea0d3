"""The real ``serve`` process, scraped over HTTP: moto, report files, failures, concurrency."""

from __future__ import annotations

import gzip
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from exporter import __version__
from exporter.core.checks import CATALOGUE
from exporter.daemon.build_info import python_version, revision
from exporter.sources.demo import DEMO_ACCOUNTS, DEMO_MEMBER, DEMO_PRODUCTION, DEMO_SANDBOX
from tests.support.exporter_process import (
    ExporterProcess,
    Samples,
    exporter_process,
    parse_samples,
    sample_value,
)
from tests.support.moto import aws_env
from tests.support.net import free_port
from tests.support.sample_reports import sample_report

pytestmark = pytest.mark.slow

ACCOUNT = "111122223333"
MOTO_ACCOUNT = "123456789012"


def eventually(
    exp: ExporterProcess, predicate: Callable[[Samples], bool], timeout: float = 90
) -> Samples:
    """Scrape until ``predicate`` holds; the deadline only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        samples = exp.samples()
        if predicate(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met; last scrape:\n{samples}\nlog:\n{exp.log()}")
        time.sleep(0.2)


def write_atomically(path: Path, content: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def now() -> datetime:
    return datetime.now(timezone.utc)


def iam_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A client for a moto server whose state (global to this process) starts empty."""
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as resp:
        assert resp.status == 200
    return boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def test_serves_the_live_account_from_moto(moto_endpoint: str) -> None:
    iam = iam_client(moto_endpoint)
    for user in ("alice", "bob", "ci-deploy"):
        iam.create_user(UserName=user)
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9")
    iam.create_access_key(UserName="ci-deploy")
    args = ("--refresh.interval", "2s", "--log.format", "json", "--report.allow-incomplete")
    with exporter_process(*args, env=aws_env(moto_endpoint)) as exp:
        s = exp.samples()
        a = {"account_id": MOTO_ACCOUNT}
        assert sample_value(s, "aws_iam_users", **a) == 3
        assert sample_value(s, "aws_iam_exporter_refresh_success", **a) == 1
        assert sample_value(s, "aws_iam_users_without_mfa", **a, severity="high") == 1
        assert sample_value(s, "aws_iam_findings", **a, check="console_without_mfa") == 1
        assert sample_value(s, "aws_iam_findings", **a, check="access_key_never_used") == 1
        # moto's report has no root row: the root checks are not evaluated, so absent
        # (never a clean 0).
        assert sample_value(s, "aws_iam_findings", **a, check="root_mfa_disabled") is None
        drill = {"check": "console_without_mfa", "user": "alice", "key": ""}
        assert sample_value(s, "aws_iam_finding", **a, **drill) == 1
        generated = sample_value(s, "aws_iam_credential_report_generated_timestamp_seconds", **a)
        # moto answers a fixed GeneratedTime (2015): the exporter passes on what AWS says.
        assert generated is not None and generated > 1_400_000_000
        build = {"version": __version__, "revision": revision(), "pythonversion": python_version()}
        assert sample_value(s, "aws_iam_exporter_build_info", **build) == 1
        # A new user shows up in the counters of the next refresh.
        iam.create_user(UserName="dave")
        s = eventually(exp, lambda s: sample_value(s, "aws_iam_users", **a) == 4)
        changes = sample_value(s, "aws_iam_credential_changes_total", **a, change="user_created")
        assert changes == 1
        assert '"msg": "refresh done"' in exp.log()
        assert exp.stop() == 0


def test_promtool_accepts_a_real_scrape() -> None:
    with exporter_process("--demo", "--metrics.user-facts") as exp:
        status, _, body = exp.get("/metrics")
    assert status == 200
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"aws_iam_user_mfa_active" in body and b"process_cpu_seconds_total" in body


def test_demo_serves_every_check() -> None:
    with exporter_process("--demo") as exp:
        s = exp.samples()
        page = exp.get("/")[2].decode()
    found: dict[str, dict[str, float]] = {}
    for lab, v in s["aws_iam_findings"]:
        found.setdefault(lab["account_id"], {})[lab["check"]] = v
    assert set(found) == {a.account_id for a in DEMO_ACCOUNTS}
    # Each account has every check but those that do not apply to it: the member's root is
    # centrally managed; only the member's roles have Access Advisor's answer.
    member = {"root_mfa_disabled", "root_hardware_mfa_missing"}
    for aid, counts in found.items():
        absent = member if aid == DEMO_MEMBER.account_id else {"role_unused_services"}
        assert set(counts) == {c.id for c in CATALOGUE} - absent, aid
    managed = {lab["account_id"]: v for lab, v in s["aws_iam_root_credentials_centrally_managed"]}
    # Production's organisation says it does not manage root; the sandbox's root has a password.
    assert managed == {DEMO_MEMBER.account_id: 1, DEMO_SANDBOX.account_id: 0,
                       DEMO_PRODUCTION.account_id: 0}  # fmt: skip
    assert "Root credentials are centrally managed by AWS Organizations" in page
    # Every check, report-, account- and role-level, finds something in some account.
    for spec in CATALOGUE:
        assert sum(counts.get(spec.id, 0) for counts in found.values()) >= 1, spec.id
    # Root without MFA in production; root with a virtual MFA device in the sandbox.
    assert found[DEMO_PRODUCTION.account_id]["root_mfa_disabled"] == 1
    assert found[DEMO_PRODUCTION.account_id]["root_hardware_mfa_missing"] == 0
    assert found[DEMO_SANDBOX.account_id]["root_mfa_disabled"] == 0
    assert found[DEMO_SANDBOX.account_id]["root_hardware_mfa_missing"] == 1
    for a in DEMO_ACCOUNTS:
        assert sample_value(s, "aws_iam_account_info", account_id=a.account_id, account_name=a.name)
        assert f"{a.name} ({a.account_id})" in page
    assert "root_mfa_disabled" in page and "root_hardware_mfa_missing" in page


def test_negotiates_gzip_and_openmetrics_over_http() -> None:
    with exporter_process("--demo") as exp:
        status, headers, body = exp.get("/metrics", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        plain = gzip.decompress(body)
        assert plain.startswith(b"# HELP aws_iam_exporter_build_info")
        om = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}
        status, headers, body = exp.get("/metrics", om)
        assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1
        status, headers, body = exp.get("/metrics", {**om, "Accept-Encoding": "gzip"})
        assert gzip.decompress(body).endswith(b"# EOF\n")
        assert exp.get("/metrics", method="POST")[0] == 405
        assert exp.get("/secrets")[0] == 404


def test_report_file_failures_keep_the_last_data(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    # One "now" for both versions: a changed creation time would mean a re-created user.
    start = now()
    write_atomically(report, sample_report(3, ACCOUNT, now=start))
    a = {"account_id": ACCOUNT}
    with exporter_process("--report-file", str(report), "--refresh.interval", "1s") as exp:
        assert sample_value(exp.samples(), "aws_iam_users", **a) == 3
        report.unlink()
        s = eventually(exp, lambda s: sample_value(s, "aws_iam_exporter_refresh_success", **a) == 0)
        assert sample_value(s, "aws_iam_users", **a) == 3  # the last good data stays
        assert sample_value(s, "aws_iam_findings", **a, check="console_without_mfa") == 3
        assert (
            sample_value(s, "aws_iam_exporter_refresh_errors_total", **a, reason="file_error") or 0
        ) >= 1
        assert "Last refresh failed: file_error" in exp.get("/")[2].decode()
        write_atomically(report, b"user,arn\nbob,arn:aws:iam::1:user/bob\n")
        s = eventually(
            exp,
            lambda s: (
                (
                    sample_value(
                        s, "aws_iam_exporter_refresh_errors_total", **a, reason="invalid_report"
                    )
                    or 0
                )
                >= 1
            ),
        )
        assert sample_value(s, "aws_iam_users", **a) == 3
        assert exp.get("/-/ready")[0] == 200
        write_atomically(report, sample_report(5, ACCOUNT, now=start))
        s = eventually(exp, lambda s: sample_value(s, "aws_iam_users", **a) == 5)
        assert sample_value(s, "aws_iam_exporter_refresh_success", **a) == 1
        assert (
            sample_value(s, "aws_iam_exporter_refresh_errors_total", **a, reason="file_error") or 0
        ) >= 1
        assert sample_value(s, "aws_iam_credential_changes_total", **a, change="user_created") == 2
        assert "refresh failed" in exp.log()


def test_aws_outage_keeps_data_and_recovers() -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    a = {"account_id": MOTO_ACCOUNT}
    try:
        iam = iam_client(endpoint)
        iam.create_user(UserName="alice")
        iam.create_user(UserName="bob")
        with exporter_process(
            "--refresh.interval", "2s", "--report.allow-incomplete", env=aws_env(endpoint)
        ) as exp:
            assert sample_value(exp.samples(), "aws_iam_users", **a) == 2
            moto.stop()  # connection refused from now on
            s = eventually(
                exp, lambda s: sample_value(s, "aws_iam_exporter_refresh_success", **a) == 0
            )
            assert sample_value(s, "aws_iam_users", **a) == 2
            errors = sample_value(
                s, "aws_iam_exporter_refresh_errors_total", **a, reason="connection_error"
            )
            assert errors is not None and errors >= 1
            assert exp.proc.poll() is None  # the process never exits because AWS failed
            # moto keeps its state in this process: the same account comes back.
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            moto.start()
            s = eventually(
                exp, lambda s: sample_value(s, "aws_iam_exporter_refresh_success", **a) == 1
            )
            assert sample_value(s, "aws_iam_users", **a) == 2
            assert (
                sample_value(s, "aws_iam_credential_changes_total", **a, change="user_created") == 0
            )
    finally:
        moto.stop()


def test_concurrent_scrapes_see_whole_snapshots(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    start = now()
    versions = {3: sample_report(3, ACCOUNT, now=start), 7: sample_report(7, ACCOUNT, now=start)}
    write_atomically(report, versions[3])
    seen: set[float] = set()
    problems: list[str] = []
    done = threading.Event()

    def flip() -> None:
        i = 0
        while not done.is_set():
            i += 1
            write_atomically(report, versions[7 if i % 2 else 3])
            done.wait(0.3)

    def scrape(exp: ExporterProcess) -> None:
        count = 0
        deadline = time.monotonic() + 120
        while (count < 30 or len(seen) < 2) and time.monotonic() < deadline:
            status, _, body = exp.get("/metrics", {"Accept-Encoding": "gzip"} if count % 2 else {})
            count += 1
            if status != 200:
                problems.append(f"status {status}")
                continue
            text = (gzip.decompress(body) if count % 2 == 0 else body).decode()
            s = parse_samples(text)
            users = sample_value(s, "aws_iam_users", account_id=ACCOUNT)
            series = len(s.get("aws_iam_finding", []))
            total = sum(v for _, v in s["aws_iam_findings"])
            if users not in (3, 7) or series != 2 * users or total != 2 * users:
                problems.append(f"inconsistent: users={users} series={series} findings={total}")
            seen.add(users or 0)

    with exporter_process("--report-file", str(report), "--refresh.interval", "1s") as exp:
        flipper = threading.Thread(target=flip)
        flipper.start()
        scrapers = [threading.Thread(target=scrape, args=(exp,)) for _ in range(8)]
        for t in scrapers:
            t.start()
        for t in scrapers:
            t.join()
        done.set()
        flipper.join()
    assert not problems, problems[:5]
    assert seen == {3, 7}


def test_ready_only_after_the_first_refresh_then_clean_stop(tmp_path: Path) -> None:
    # Reading a FIFO blocks until someone writes: the first refresh waits for the test.
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    with exporter_process("--report-file", str(fifo), ready=False) as exp:
        assert exp.get("/-/healthy")[0] == 200
        assert exp.get("/-/ready")[0] == 503
        assert exp.get("/metrics")[0] == 503
        with open(fifo, "wb") as pipe:
            pipe.write(sample_report(4, ACCOUNT, now=now()))
        deadline = time.monotonic() + 30
        while exp.get("/-/ready")[0] != 200:
            assert time.monotonic() < deadline, exp.log()
            time.sleep(0.1)
        s = exp.samples()
        assert sample_value(s, "aws_iam_users", account_id=ACCOUNT) == 4
        assert exp.stop() == 0
        assert "stopping" in exp.log()


def test_real_prometheus_scrapes_and_queries_the_contract() -> None:
    from tests.support.prometheus import prometheus

    with (
        exporter_process("--demo", "--web.telemetry-path", "/probe") as exp,
        prometheus([f"127.0.0.1:{exp.port}"], metrics_path="/probe") as prom,
    ):
        prom.wait_for_data('aws_iam_findings{check="root_mfa_disabled"}')
        target = prom.targets()[0]
        assert target["health"] == "up", target
        found = prom.query_values("sum by (check) (aws_iam_findings)")
        assert len(found) == len(CATALOGUE)
        assert prom.query_values('aws_iam_users{account_id="123456789012"}')
        # Prometheus 2.x asks for OpenMetrics first; info and counter types come through.
        assert prom.query_values("aws_iam_exporter_build_info")
        assert prom.query_values("aws_iam_credential_changes_total")
        assert prom.query_values("process_cpu_seconds_total")


def test_exemptions_are_exported_listed_and_their_expiry_logged_once(tmp_path: Path) -> None:
    """The same configuration as audit's: serve counts the exemptions by state, exports
    each expiry, logs the expired one once over several refreshes, and lists them all."""
    report = tmp_path / "report.csv"
    report.write_bytes(sample_report(3, ACCOUNT))
    config = tmp_path / "config.yaml"
    config.write_text(
        "exemptions:\n"
        "  - {id: user0-kiosk, user: user0, checks: [console_without_mfa], reason: kiosk}\n"
        "  - {user: user1, reason: offboarding, expires: 2020-01-31}\n"
        "  - {id: keys, user: 'user*', checks: [access_key_not_rotated], reason: vendor,\n"
        "     expires: 2099-12-31}\n"
    )
    args = ("--config", str(config), "--report-file", str(report), "--refresh.interval", "1s")
    with exporter_process(*args) as exp:
        samples = eventually(
            exp,
            lambda s: (
                sample_value(s, "aws_iam_users", account_id=ACCOUNT) == 3
                and len(exp.log().split("refresh done")) > 3
            ),
        )
        assert sample_value(samples, "aws_iam_exemptions", state="active") == 2
        assert sample_value(samples, "aws_iam_exemptions", state="expired") == 1
        expiry = {
            lab["exemption"]: v for lab, v in samples["aws_iam_exemption_expiry_timestamp_seconds"]
        }
        assert expiry == {
            "exemptions[1]": datetime(2020, 2, 1, tzinfo=timezone.utc).timestamp(),
            "keys": datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp(),
        }
        # The expired exemption applies to nothing: user1's findings are reported.
        findings = sample_value(
            samples, "aws_iam_findings", account_id=ACCOUNT, check="console_without_mfa"
        )
        assert findings == 2
        status, _, body = exp.get("/")
        page = body.decode()
        assert status == 200 and "1 exemption expired: it no longer applies" in page
        assert "<code>user0-kiosk</code>" in page and "<code>keys</code>" in page
        assert "<td>2020-01-31</td><td class='fail'>expired: no longer applies</td>" in page
        log = exp.log()
    assert log.count("expired exemption no longer applies") == 1, log
    assert "exemption=exemptions[1]" in log
