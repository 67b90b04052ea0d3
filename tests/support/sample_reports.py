"""Credential reports in the real AWS CSV format, built row by row for the daemon tests."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from exporter.core.report import COLUMNS

ACCOUNT = "111122223333"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def iso(days_ago: float, now: datetime = NOW) -> str:
    return (now - timedelta(days=days_ago)).isoformat()


def root_row(account: str = ACCOUNT, mfa: bool = True, now: datetime = NOW) -> dict[str, str]:
    return {
        "user": "<root_account>",
        "arn": f"arn:aws:iam::{account}:root",
        "user_creation_time": iso(2000, now),
        "password_enabled": "not_supported",
        "password_last_used": iso(200, now),
        "password_last_changed": "not_supported",
        "password_next_rotation": "not_supported",
        "mfa_active": "true" if mfa else "false",
    }


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
    row = {
        "user": name,
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "user_creation_time": iso(400, now),
        "password_enabled": "false" if password_used is None else "true",
        "password_last_used": "N/A" if password_used is None else iso(password_used, now),
        "mfa_active": "true" if mfa else "false",
    }
    if key_age is not None:
        row["access_key_1_active"] = "true"
        row["access_key_1_last_rotated"] = iso(key_age, now)
        if key_used is not None:
            row["access_key_1_last_used_date"] = iso(key_used, now)
            row["access_key_1_last_used_region"] = "us-east-1"
            row["access_key_1_last_used_service"] = "s3"
    return row


def report_csv(*rows: dict[str, str]) -> bytes:
    defaults = {c: "N/A" for c in COLUMNS}
    defaults.update({c: "false" for c in COLUMNS if c.endswith("_active")})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([{**defaults, **row}[c] for c in COLUMNS])
    return buf.getvalue().encode("utf-8")


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
