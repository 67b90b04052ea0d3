"""The settings of every command, declared once: each field's default is the flag's default.

A setting comes from the command line, else the config file's ``flags:`` mapping
(same name without the dashes, e.g. ``refresh.interval: 30m``), else the default
below. ``exporter.config.flags`` derives the command-line flags from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

DEFAULT_PORT = 10063

# botocore's standard retry mode sleeps up to 2^(i-1) seconds before retry i, never more
# than 20 s (botocore.retries.standard.ExponentialBackoff).
MAX_RETRY_BACKOFF_SECONDS = 20
# AWS calls of one account's refresh after the report is ready, in sequence:
# GetCredentialReport, STS GetCallerIdentity, the roles (GetAccountAuthorizationDetails,
# usually one page), GetAccountSummary, ListVirtualMFADevices.
CALLS_AFTER_POLL = 5


@dataclass(frozen=True)
class Settings:
    web_listen_address: str = f":{DEFAULT_PORT}"
    web_telemetry_path: str = "/metrics"
    web_max_connections: int = 512
    log_level: str = "info"
    log_format: str = "logfmt"
    refresh_interval: timedelta = timedelta(hours=1)
    refresh_workers: int = 4
    report_file: tuple[str, ...] = ()
    report_allow_incomplete: bool = False
    demo: bool = False
    metrics_finding_series: bool = True
    metrics_finding_series_limit: int = 50_000
    metrics_user_facts: bool = False
    web_config_file: str | None = None
    labels_user: str = "name"
    labels_user_hash_key_file: str | None = None
    # IAM tag keys whose value is a user's or role's owner label, first match wins;
    # () exports no owner label and reads no user tags.
    labels_owner_tag: tuple[str, ...] = ()
    state_dir: str | None = None
    aws_max_attempts: int = 5
    aws_connect_timeout: timedelta = timedelta(seconds=5)
    aws_read_timeout: timedelta = timedelta(seconds=20)
    aws_poll_deadline: timedelta = timedelta(minutes=2)
    shard_index: int = 0
    shard_count: int = 1
    web_read_header_timeout: timedelta = timedelta(seconds=5)
    # About 5000 users make 1-2 MB: far above any real report, far below what would
    # exhaust memory (parsing takes about 10x the report's size).
    report_max_bytes: int = 64 << 20
    # Member accounts whose root Organizations manages (and that hold no root
    # credential) skip root_mfa_disabled and root_hardware_mfa_missing.
    organizations_central_root: bool = True
    # IAM Access Advisor (role_unused_services): its own schedule, budget and concurrency.
    access_advisor_enabled: bool = False
    access_advisor_interval: timedelta = timedelta(hours=24)
    access_advisor_jobs_per_account: int = 100
    access_advisor_concurrency: int = 2
    # Findings due within this window are "upcoming" (audit's --upcoming overrides it).
    upcoming_window: timedelta = timedelta(days=14)

    @property
    def aws_call_deadline(self) -> timedelta:
        """The longest one AWS call takes before botocore gives up on it, when each read
        times out: every attempt (the first and ``max_attempts`` retries) spending its
        connect and read timeouts, plus the longest backoff before each retry."""
        retries = self.aws_max_attempts
        backoff = sum(min(2 ** (i - 1), MAX_RETRY_BACKOFF_SECONDS) for i in range(1, retries + 1))
        per_attempt = self.aws_connect_timeout + self.aws_read_timeout
        return (retries + 1) * per_attempt + timedelta(seconds=backoff)

    @property
    def refresh_deadline(self) -> timedelta:
        """One account's whole refresh, however slowly AWS answers: the report poll
        (its deadline plus one call that may start just before it) and the calls after it.

        ``poll_deadline + (1 + CALLS_AFTER_POLL) x aws_call_deadline``, where
        ``aws_call_deadline = (max_attempts + 1) x (connect_timeout + read_timeout)
        + sum(min(2^(i-1), 20 s) for each retry i)``; with the defaults
        2m + 6 x (6 x 25s + 31s) = 20m6s. A refresh still running then
        counts a ``timeout`` error and keeps the account's last good data.
        """
        return self.aws_poll_deadline + (1 + CALLS_AFTER_POLL) * self.aws_call_deadline
