"""The baseline for the analysis benchmark: the seed article's audit script.

``seed_audit`` is the body of ``run_credential_audit()`` from the article
"How to Audit IAM Users and Roles with Credential Reports" (shared/seed), kept
line for line: ``csv.DictReader`` over the decoded report, one
``datetime.fromisoformat`` per date it looks at, its seven checks, its
finding dicts and messages. Only what cannot run in a benchmark changed: the
report bytes come in as an argument instead of from boto3 (and its
``time.sleep(10)``), and ``now`` is a parameter so runs are reproducible.

``check_of`` maps one of its findings to our check id and key number; it is
not part of the timed code. It exists so a test can prove that our core and
this baseline find the same things in the same report.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from io import StringIO
from typing import Any


def seed_audit(content_bytes: bytes, now: datetime) -> list[dict[str, Any]]:  # noqa: PLR0912
    content = content_bytes.decode("utf-8")
    reader = csv.DictReader(StringIO(content))

    findings = []

    for row in reader:
        user = row["user"]
        arn = row["arn"]  # noqa: F841 (read but unused, as in the article)

        # Check 1: Root account MFA
        if user == "<root_account>":
            if row["mfa_active"] == "false":
                findings.append(
                    {
                        "severity": "CRITICAL",
                        "user": user,
                        "issue": "Root account does not have MFA enabled",
                    }
                )

            if row.get("access_key_1_active") == "true":
                findings.append(
                    {
                        "severity": "HIGH",
                        "user": user,
                        "issue": "Root account has active access keys",
                    }
                )
            continue

        # Check 2: Console users without MFA
        if row["password_enabled"] == "true" and row["mfa_active"] == "false":
            findings.append(
                {
                    "severity": "HIGH",
                    "user": user,
                    "issue": "Console access enabled but MFA not configured",
                }
            )

        # Check 3: Unused console passwords (no login in 90+ days)
        if row["password_enabled"] == "true":
            last_used = row.get("password_last_used", "N/A")
            if last_used not in ("N/A", "no_information", "not_supported"):
                last_login = datetime.fromisoformat(last_used.replace("Z", "+00:00"))
                days_idle = (now - last_login).days
                if days_idle > 90:
                    findings.append(
                        {
                            "severity": "MEDIUM",
                            "user": user,
                            "issue": f"Console password unused for {days_idle} days",
                        }
                    )

        # Check 4: Old access keys (not rotated in 90+ days)
        for key_num in ["1", "2"]:
            active = row.get(f"access_key_{key_num}_active", "false")
            if active != "true":
                continue

            rotated = row.get(f"access_key_{key_num}_last_rotated", "N/A")
            if rotated in ("N/A", "not_supported"):
                continue

            rotated_date = datetime.fromisoformat(rotated.replace("Z", "+00:00"))
            key_age = (now - rotated_date).days

            if key_age > 90:
                findings.append(
                    {
                        "severity": "HIGH",
                        "user": user,
                        "issue": f"Access key {key_num} is {key_age} days old (not rotated)",
                    }
                )

        # Check 5: Unused access keys (not used in 90+ days)
        for key_num in ["1", "2"]:
            active = row.get(f"access_key_{key_num}_active", "false")
            if active != "true":
                continue

            last_used = row.get(f"access_key_{key_num}_last_used_date", "N/A")
            if last_used in ("N/A", "not_supported"):
                findings.append(
                    {
                        "severity": "MEDIUM",
                        "user": user,
                        "issue": f"Access key {key_num} has never been used",
                    }
                )
                continue

            used_date = datetime.fromisoformat(last_used.replace("Z", "+00:00"))
            days_unused = (now - used_date).days

            if days_unused > 90:
                findings.append(
                    {
                        "severity": "MEDIUM",
                        "user": user,
                        "issue": f"Access key {key_num} unused for {days_unused} days",
                    }
                )

    return findings


# The article's messages, and which of our checks each one is.
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
