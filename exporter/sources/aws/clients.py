"""boto3 sessions and clients with the exporter's retry and timeout settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from exporter.config.settings import Settings

_DEFAULTS = Settings()  # the flags' defaults are declared there, once


@dataclass(frozen=True)
class ClientSettings:
    """How one account's AWS calls behave: the ``--aws.*`` flags (plus a region)."""

    # botocore's "standard" mode retries throttling and transient errors with backoff.
    max_attempts: int = _DEFAULTS.aws_max_attempts
    connect_timeout: float = _DEFAULTS.aws_connect_timeout.total_seconds()
    read_timeout: float = _DEFAULTS.aws_read_timeout.total_seconds()
    region: str | None = None
    # How long to wait for AWS to generate a credential report.
    poll_deadline: float = _DEFAULTS.aws_poll_deadline.total_seconds()
    report_max_bytes: int = _DEFAULTS.report_max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientSettings:
        return cls(
            max_attempts=settings.aws_max_attempts,
            connect_timeout=settings.aws_connect_timeout.total_seconds(),
            read_timeout=settings.aws_read_timeout.total_seconds(),
            poll_deadline=settings.aws_poll_deadline.total_seconds(),
            report_max_bytes=settings.report_max_bytes,
        )

    def boto_config(self) -> BotoConfig:
        return BotoConfig(
            retries={"mode": "standard", "max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            region_name=self.region,
        )


def make_client(
    service: str,
    session: boto3.session.Session | None = None,
    settings: ClientSettings | None = None,
) -> Any:
    settings = settings or ClientSettings()
    session = session or boto3.session.Session()
    region = settings.region or session.region_name or "us-east-1"
    return session.client(service, region_name=region, config=settings.boto_config())
