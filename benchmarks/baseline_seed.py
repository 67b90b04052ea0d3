"""The baseline for the analysis benchmark: the seed article's audit script.

``seed_audit`` runs ``benchmarks/seed_script.py``, the article's
``run_credential_audit()`` kept verbatim (``csv.DictReader`` over the decoded
report, one ``datetime.fromisoformat`` per date it looks at, its seven checks,
its finding dicts and messages), with the report given as an argument instead
of fetched through boto3 and its ``time.sleep(10)``. The same file is the
reference of the core's seed-parity tests, so the benchmark times exactly the
code the parity tests compare against.

``check_of`` maps one of its findings to our check id and key number; it is
not part of the timed code. It exists so a test can prove that our core and
this baseline find the same things in the same report.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from benchmarks import seed_script


def seed_audit(content_bytes: bytes, now: datetime) -> list[dict[str, Any]]:
    """The article's findings for the report bytes, as of ``now``."""
    return seed_script.seed_audit(content_bytes.decode("utf-8"), now)


_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Root account does not have MFA enabled"), "root_mfa_disabled"),
    (re.compile(r"Root account has active access keys"), "root_access_key_active"),
    (re.compile(r"Console access enabled but MFA not configured"), "console_without_mfa"),
    (re.compile(r"Console password unused for \d+ days"), "password_unused"),
    (re.compile(r"Access key (?P<key>[12]) is \d+ days old \(not rotated\)"),
     "access_key_not_rotated"),
    (re.compile(r"Access key (?P<key>[12]) has never been used"), "access_key_never_used"),
    (re.compile(r"Access key (?P<key>[12]) unused for \d+ days"), "access_key_unused"),
)  # fmt: skip

SEED_CHECKS: tuple[str, ...] = tuple(check for _, check in _MESSAGES)


def check_of(finding: dict[str, Any]) -> tuple[str, int | None]:
    """Our check id and key number for one of ``seed_audit``'s findings."""
    for pattern, check in _MESSAGES:
        match = pattern.fullmatch(finding["issue"])
        if match:
            key = match.groupdict().get("key")
            if check == "root_access_key_active":
                return check, 1  # the article looks at root's key 1 only
            return check, None if key is None else int(key)
    raise ValueError(f"not a message of the seed script: {finding['issue']!r}")
