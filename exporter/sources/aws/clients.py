"""boto3 sessions and clients with the exporter's retry and timeout settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig


@dataclass(frozen=True)
class ClientSettings:
    # botocore's "standard" mode retries throttling and transient errors with backoff.
    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    region: str | None = None

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
