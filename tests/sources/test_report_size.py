"""--report.max-bytes: reports larger than the cap are refused before they are parsed."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from exporter.config import ConfigError
from exporter.config.flags import settings_from_file
from exporter.config.settings import Settings
from exporter.sources.aws.report_fetch import IamReportFetcher
from exporter.sources.base import REASONS, FileReportSource, SourceError
from tests.support.sample_reports import sample_report


def test_the_default_cap_is_well_above_real_reports() -> None:
    # About 5000 users make 1-2 MB.
    assert Settings().report_max_bytes == 64 << 20
    assert "report_too_large" in REASONS


def test_a_report_file_over_the_cap_is_refused_with_its_size(tmp_path: Path) -> None:
    content = sample_report(3)
    path = tmp_path / "report.csv"
    path.write_bytes(content)
    assert FileReportSource(str(path), max_bytes=len(content)).fetch().content == content
    with pytest.raises(SourceError) as refused:
        FileReportSource(str(path), max_bytes=len(content) - 1).fetch()
    assert refused.value.reason == "report_too_large"
    assert f"{len(content)} bytes" in str(refused.value)
    assert "--report.max-bytes" in str(refused.value)


def test_a_huge_sparse_report_file_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(200 << 20)  # 200 MB that would be read and parsed
    with pytest.raises(SourceError) as refused:
        FileReportSource(str(path)).fetch()
    assert refused.value.reason == "report_too_large"


def test_an_endless_report_file_is_cut_at_the_cap() -> None:
    result: list[BaseException] = []

    def fetch() -> None:
        try:
            FileReportSource("/dev/zero", max_bytes=1 << 20).fetch()
        except BaseException as err:
            result.append(err)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    thread.join(10)
    assert result, "still reading /dev/zero after 10 s"
    assert isinstance(result[0], SourceError) and result[0].reason == "report_too_large"


def test_standard_input_is_capped_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 101)))
    with pytest.raises(SourceError) as refused:
        FileReportSource("-", max_bytes=100).fetch()
    assert refused.value.reason == "report_too_large"


class FakeIam:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def generate_credential_report(self) -> dict[str, Any]:
        return {"State": "COMPLETE"}

    def get_credential_report(self) -> dict[str, Any]:
        return {"Content": self.content}


def test_a_report_from_aws_over_the_cap_is_refused() -> None:
    content = sample_report(3)
    fetcher = IamReportFetcher(FakeIam(content), 5.0, max_bytes=len(content))
    assert fetcher.fetch().content == content
    with pytest.raises(SourceError) as refused:
        IamReportFetcher(FakeIam(content), 5.0, max_bytes=len(content) - 1).fetch()
    assert refused.value.reason == "report_too_large"
    assert "--report.max-bytes" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "size"),
    [("67108864", 64 << 20), ("64MiB", 64 << 20), ("64 mib", 64 << 20), ("500KB", 500_000),
     ("1GiB", 1 << 30), ("2GB", 2 * 10**9), ("100B", 100)],
)  # fmt: skip
def test_the_flag_takes_bytes_or_a_unit(text: str, size: int) -> None:
    assert settings_from_file({"report.max-bytes": text}).report_max_bytes == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5MiB", "64MIBS", "lots", "9" * 40])
def test_the_flag_refuses_other_sizes(text: str) -> None:
    with pytest.raises(ConfigError, match=r"flags\.report\.max-bytes: (not a size|must be)"):
        settings_from_file({"report.max-bytes": text})
