"""Generate, poll and download the IAM credential report.

AWS builds the report asynchronously: ``GenerateCredentialReport`` answers
STARTED, INPROGRESS or COMPLETE, and ``GetCredentialReport`` fails with
ReportNotPresent, ReportExpired or ReportInProgress until it is ready. We poll
with capped exponential backoff up to a deadline instead of the seed's fixed
``sleep(10)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from exporter.sources.aws.errors import classify
from exporter.sources.base import DEFAULT_MAX_BYTES, FetchedReport, SourceError, too_large

_LIMITED = "LimitExceeded"  # a pseudo-state: AWS refused to start a generation
# Why the report was still not there at the deadline, in words.
_WAITING = {
    "report_in_progress": "AWS was still generating it",
    "report_expired": "GetCredentialReport kept answering ReportExpired",
    "report_not_present": "GetCredentialReport kept answering ReportNotPresent",
    "throttled": "GenerateCredentialReport kept answering LimitExceeded",
}


class IamReportFetcher:
    """Fetches one account's credential report through an IAM client."""

    def __init__(
        self,
        client: Any,
        deadline_seconds: float,
        first_delay: float = 0.5,
        max_delay: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.deadline_seconds = deadline_seconds
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._clock = clock

    def fetch(self) -> FetchedReport:
        try:
            return self._fetch()
        except Exception as err:  # every failure leaves as a classified SourceError
            raise classify(err) from err

    def _fetch(self) -> FetchedReport:
        deadline = self._clock() + self.deadline_seconds
        delay = self.first_delay
        # What we were waiting for at the deadline names the failure (in progress,
        # expired, not present), so a stuck ReportExpired is not reported as slowness.
        waiting = "report_in_progress"
        while True:
            state = self._generate()
            if state == _LIMITED:
                waiting = "throttled"
            elif state == "COMPLETE":
                got = self._get()
                if isinstance(got, FetchedReport):
                    return got
                waiting = got
            if self._clock() + delay > deadline:
                raise SourceError(
                    waiting,
                    f"the credential report was not ready after {self.deadline_seconds:g}s "
                    f"({_WAITING.get(waiting, waiting.replace('_', ' '))})",
                )
            self._sleep(delay)
            delay = min(delay * 2, self.max_delay)

    def _generate(self) -> str:
        try:
            return str(self.client.generate_credential_report().get("State", ""))
        except ClientError as err:
            # LimitExceeded here means a generation is already running: keep polling.
            if err.response.get("Error", {}).get("Code") == "LimitExceeded":
                return _LIMITED
            raise

    def _get(self) -> FetchedReport | str:
        """The report, or the reason it is not ready yet."""
        try:
            resp = self.client.get_credential_report()
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("ReportInProgress", "ReportNotReady", "ReportNotPresent", "ReportExpired"):
                return classify(err).reason  # generate again and keep polling
            raise
        content = resp.get("Content", b"")
        if isinstance(content, str):
            content = content.encode("utf-8")
        if len(content) > self.max_bytes:
            # botocore has read it already; refusing it spares the parse (~10x its size).
            raise too_large("the credential report from AWS", self.max_bytes, len(content))
        generated = resp.get("GeneratedTime")
        if isinstance(generated, datetime) and generated.tzinfo is None:
            generated = generated.replace(tzinfo=timezone.utc)
        return FetchedReport(content, generated)
