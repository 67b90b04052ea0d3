"""One report's raw bytes to its parsed records and findings. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from exporter.core.evaluate import Evaluation, evaluate
from exporter.core.policy import Policy
from exporter.core.records import CredentialReport, FetchedReport
from exporter.core.report import parse_report


class Analysis(NamedTuple):
    report: CredentialReport
    evaluation: Evaluation


def analyse(fetched: FetchedReport, policy: Policy, now: datetime) -> Analysis:
    """Raises ``ReportFormatError`` when the bytes are not a credential report."""
    report = parse_report(fetched.content).with_generated_time(fetched.generated_time)
    return Analysis(report, evaluate(report, policy, now))
