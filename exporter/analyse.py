"""One report's raw bytes to its parsed records and findings. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from exporter.config import Config
from exporter.evaluate import Evaluation, evaluate
from exporter.records import CredentialReport
from exporter.report import ReportFormatError, parse_report
from exporter.sources import FetchedReport, SourceError


class Analysis(NamedTuple):
    report: CredentialReport
    evaluation: Evaluation


def analyse(fetched: FetchedReport, config: Config, now: datetime) -> Analysis:
    try:
        report = parse_report(fetched.content)
    except ReportFormatError as err:
        raise SourceError("invalid_report", str(err)) from None
    report = report.with_generated_time(fetched.generated_time)
    return Analysis(report, evaluate(report, config, now))
