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
    """Raises ``ReportFormatError`` when the bytes are not a credential report.

    Dates later than the report's generation time (or than ``now``) are problems and
    unknown, as ``parse_report`` says. An incomplete report (no root row) is analysed
    without the root checks: see ``require_complete`` to refuse it instead."""
    report = read_report(fetched, now)
    return Analysis(report, evaluate(report, policy, now))


def read_report(fetched: FetchedReport, now: datetime) -> CredentialReport:
    """The parsed report, its dates checked against its generation time and ``now``."""
    return parse_report(fetched.content, fetched.generated_time, now)
