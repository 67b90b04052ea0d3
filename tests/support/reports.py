"""Build credential reports in the real AWS format for tests.

``user_row()`` and ``root_row()`` give one row as a dict of the 22 AWS columns
with the values AWS writes for a user with nothing (``false``, ``N/A``), and
``report()`` writes rows as CSV bytes in AWS's column order, root first.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from exporter.core.report import COLUMNS

ACCOUNT = "111122223333"
AS_OF = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)
AS_OF_TEXT = "2026-11-24T12:00:00Z"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def ts(days: float = 0, hours: float = 0, z: bool = False) -> str:
    """AS_OF minus the given time, as the report writes it (``+00:00``, or ``Z``)."""
    text = (AS_OF - timedelta(days=days, hours=hours)).isoformat()
    return text.replace("+00:00", "Z") if z else text


def user_row(user: str = "someone", **fields: str) -> dict[str, str]:
    row = {c: "N/A" for c in COLUMNS}
    row.update(
        user=user,
        arn=f"arn:aws:iam::{ACCOUNT}:user/{user}",
        user_creation_time=ts(1000),
        password_enabled="false",
        mfa_active="false",
        access_key_1_active="false",
        access_key_2_active="false",
        cert_1_active="false",
        cert_2_active="false",
    )
    row.update(fields)
    return row


def root_row(**fields: str) -> dict[str, str]:
    row = user_row("<root_account>", arn=f"arn:aws:iam::{ACCOUNT}:root")
    row.update(
        password_enabled="not_supported",
        password_last_used=ts(400),
        password_last_changed="not_supported",
        password_next_rotation="not_supported",
        mfa_active="true",
    )
    row.update(fields)
    return row


def key(n: int, active: str = "true", rotated: str = "", used: str = "N/A") -> dict[str, str]:
    """The five columns of access key ``n``; an active key defaults to 10 days old."""
    p = f"access_key_{n}_"
    in_use = used not in ("N/A", "no_information", "not_supported")
    return {
        p + "active": active,
        p + "last_rotated": rotated or ts(10),
        p + "last_used_date": used,
        p + "last_used_region": "us-east-1" if in_use else "N/A",
        p + "last_used_service": "s3" if in_use else "N/A",
    }


# When the saved reports of the tests were written: a report file's generation time is
# its modification time, and a checkout gives every file the time of the checkout.
SAVED_AT = AS_OF - timedelta(hours=1)


def saved(path: Path, data: bytes, mtime: datetime = SAVED_AT) -> Path:
    """``data`` written to ``path``, modified at ``mtime``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def report(*rows: dict[str, str], columns: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8")
