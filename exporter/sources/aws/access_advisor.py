"""IAM Access Advisor: which services a principal's policies grant, and their last use.

``GenerateServiceLastAccessedDetails`` starts an asynchronous job for one principal and
answers its ``JobId``; ``GetServiceLastAccessedDetails`` answers IN_PROGRESS, COMPLETED
(with the services, paginated by ``Marker``) or FAILED. The caller (the daemon's own,
slower schedule) decides when to poll: ``poll_job`` never sleeps.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from exporter.core.records import ServiceUse
from exporter.sources.base import SourceError

IN_PROGRESS = "IN_PROGRESS"


def start_job(iam: Any, arn: str) -> str:
    answer = iam.generate_service_last_accessed_details(Arn=arn, Granularity="SERVICE_LEVEL")
    return str(answer["JobId"])


def poll_job(iam: Any, job_id: str) -> tuple[ServiceUse, ...] | None:
    """The job's services once COMPLETED; None while IN_PROGRESS. A FAILED job raises
    ``SourceError("job_failed")`` with AWS's message."""
    services: list[ServiceUse] = []
    marker: str | None = None
    while True:
        extra = {"Marker": marker} if marker else {}
        page = iam.get_service_last_accessed_details(JobId=job_id, **extra)
        status = page.get("JobStatus")
        if status == IN_PROGRESS:
            return None
        if status != "COMPLETED":
            error = page.get("Error") or {}
            text = f"{error.get('Code', status)}: {error.get('Message', '')}".rstrip(": ")
            raise SourceError("job_failed", f"the Access Advisor job failed ({text})")
        services.extend(_service(s) for s in page.get("ServicesLastAccessed", []))
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return tuple(services)


def _service(raw: dict[str, Any]) -> ServiceUse:
    when = raw.get("LastAuthenticated")
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return ServiceUse(
        str(raw.get("ServiceNamespace", "")),
        str(raw.get("ServiceName", "")),
        when if isinstance(when, datetime) else None,
    )
