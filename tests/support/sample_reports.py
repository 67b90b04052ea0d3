"""Whole-account scenarios for the daemon tests, built with ``tests.support.reports``.

The rows and the CSV come from the one report builder; this module only picks
ages relative to an explicit ``now`` and an account id, which the daemon tests vary.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from exporter.core.report import COLUMNS
from tests.support import reports

ACCOUNT = reports.ACCOUNT
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def iso(days_ago: float, now: datetime = NOW) -> str:
    return (now - timedelta(days=days_ago)).isoformat()


def root_row(account: str = ACCOUNT, mfa: bool = True, now: datetime = NOW) -> dict[str, str]:
    return reports.root_row(
        arn=f"arn:aws:iam::{account}:root",
        user_creation_time=iso(2000, now),
        password_last_used=iso(200, now),
        mfa_active="true" if mfa else "false",
    )


def user_row(
    name: str,
    account: str = ACCOUNT,
    *,
    password_used: float | None = None,
    mfa: bool = False,
    key_age: float | None = None,
    key_used: float | None = None,
    now: datetime = NOW,
) -> dict[str, str]:
    fields = {
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "user_creation_time": iso(400, now),
        "password_enabled": "false" if password_used is None else "true",
        "mfa_active": "true" if mfa else "false",
    }
    if password_used is not None:
        fields["password_last_used"] = iso(password_used, now)
    if key_age is not None:
        used = "N/A" if key_used is None else iso(key_used, now)
        fields.update(reports.key(1, rotated=iso(key_age, now), used=used))
    return reports.user_row(name, **fields)


def report_csv(*rows: dict[str, str]) -> bytes:
    """Rows that leave columns out get what AWS writes for nothing: N/A, or false."""
    defaults = {c: "false" if c.endswith("_active") else "N/A" for c in COLUMNS}
    return reports.report(*({**defaults, **row} for row in rows))


def sample_report(users: int = 3, account: str = ACCOUNT, now: datetime = NOW) -> bytes:
    """Root with MFA; ``users`` console users without MFA, each with a 200-day-old key.

    Two findings per user: console_without_mfa and access_key_not_rotated (both high).
    """
    rows = [root_row(account, now=now)]
    rows += [
        user_row(f"user{i}", account, password_used=1, key_age=200, key_used=1, now=now)
        for i in range(users)
    ]
    return report_csv(*rows)
