"""--labels.user against the real serve process, and audit output untouched by it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.core.records import ROOT_USER
from exporter.core.report import parse_report
from exporter.daemon.labels import KEY_ENV, hash_user
from exporter.sources.demo import DemoSource
from tests.support.exporter_process import REPO, Samples, exporter_process

pytestmark = pytest.mark.slow

KEY = "a-test-key-of-more-than-16-bytes"
PER_USER = (
    "aws_iam_finding",
    "aws_iam_user_mfa_active",
    "aws_iam_access_key_last_rotated_timestamp_seconds",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.csv"
    path.write_bytes(DemoSource().fetch().content)
    return path


def scrape(report: Path, *flags: str) -> Samples:
    env = {**os.environ, KEY_ENV: KEY}
    with exporter_process(
        "--report-file", str(report), "--metrics.user-facts", *flags, env=env
    ) as exp:
        return exp.samples()


def user_labels(samples: Samples) -> set[str]:
    return {lab["user"] for name in PER_USER for lab, _ in samples.get(name, [])}


def totals(samples: Samples) -> dict[str, float]:
    return {lab["check"]: v for lab, v in samples["aws_iam_findings"]}


def test_hash_mode_exports_keyed_hashes_stable_across_restarts(report: Path) -> None:
    names = {r.user for r in parse_report(report.read_bytes()).records}
    first = scrape(report, "--labels.user", "hash")
    labels = user_labels(first)
    assert labels, "no per-user series at all"
    assert not (labels - {ROOT_USER}) & names  # no real name leaks
    expected = {hash_user(KEY.encode(), n) for n in names if n != ROOT_USER} | {ROOT_USER}
    assert labels <= expected
    assert all(re.fullmatch(r"[0-9a-f]{16}", label) for label in labels - {ROOT_USER})
    assert user_labels(scrape(report, "--labels.user", "hash")) == labels  # a restart
    assert totals(first) == totals(scrape(report))  # the aggregates do not change


def test_none_mode_keeps_only_the_aggregates(report: Path) -> None:
    samples = scrape(report, "--labels.user", "none")
    assert user_labels(samples) == set()
    assert sum(totals(samples).values()) > 0
    assert totals(samples) == totals(scrape(report, "--labels.user", "name"))


def test_audit_output_is_unchanged_by_the_label_option(report: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("flags:\n  labels.user: hash\n")

    def audit(*extra: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "exporter", "audit", "--report-file", str(report),
             "--format", "csv", "--as-of", "2026-11-24T00:00:00Z", *extra],
            check=False, capture_output=True, text=True, cwd=REPO, timeout=60,
            env={**os.environ, KEY_ENV: KEY},
        ).stdout  # fmt: skip

    plain = audit()
    assert audit("--config", str(config)) == plain
    names = {r.user for r in parse_report(report.read_bytes()).users}
    assert any(name in plain for name in names)
