"""The seed article's audit script, kept verbatim as the reference for parity tests.

Source: "How to Audit IAM Users and Roles with Credential Reports" (the project's
seed article, /work/shared/seed). ``run_credential_audit`` below is the article's
function with exactly one change: its boto3 part (generate the report,
``time.sleep(10)``, get it, decode ``Content``) is replaced by a ``content``
parameter holding the decoded CSV text. Everything from ``reader = ...`` on is
the article's code, byte for byte, including ``now = datetime.now(timezone.utc)``.

To make "now" reproducible without touching that line, the module's ``datetime``
is a subclass whose ``now()`` returns a frozen instant; ``seed_audit(content,
now)`` sets it and runs the function. Nothing else about ``datetime`` changes
(``fromisoformat`` and arithmetic are the real ones).
"""

# ruff: noqa: E501, F841, SIM102, PLR0912, PLR0915, UP017, PLW2901, RUF100, ANN001, ANN201
from __future__ import annotations

import csv
import datetime as _datetime_module
import threading
from datetime import timedelta, timezone  # noqa: F401 (the article's imports; datetime below)
from io import StringIO
from typing import Any


class datetime(_datetime_module.datetime):  # noqa: N801 (stands in for the article's datetime)
    _frozen: _datetime_module.datetime | None = None

    @classmethod
    def now(cls, tz: _datetime_module.tzinfo | None = None) -> Any:
        assert cls._frozen is not None, "use seed_audit(content, now)"
        return cls._frozen.astimezone(tz) if tz else cls._frozen


_lock = threading.Lock()


def seed_audit(content: str, now: _datetime_module.datetime) -> list[dict[str, str]]:
    """The article's findings for ``content`` (CSV text) as of ``now``."""
    with _lock:
        datetime._frozen = now
        try:
            return run_credential_audit(content)
        finally:
            datetime._frozen = None


# ---- the article's code from here (boto3 part replaced by the parameter) ----
# fmt: off
def run_credential_audit(content):
    """
    Analyze the IAM credential report and flag security issues.
    """
    reader = csv.DictReader(StringIO(content))

    now = datetime.now(timezone.utc)
    findings = []

    for row in reader:
        user = row["user"]
        arn = row["arn"]

        # Check 1: Root account MFA
        if user == "<root_account>":
            if row["mfa_active"] == "false":
                findings.append({
                    "severity": "CRITICAL",
                    "user": user,
                    "issue": "Root account does not have MFA enabled"
                })

            if row.get("access_key_1_active") == "true":
                findings.append({
                    "severity": "HIGH",
                    "user": user,
                    "issue": "Root account has active access keys"
                })
            continue

        # Check 2: Console users without MFA
        if row["password_enabled"] == "true" and row["mfa_active"] == "false":
            findings.append({
                "severity": "HIGH",
                "user": user,
                "issue": "Console access enabled but MFA not configured"
            })

        # Check 3: Unused console passwords (no login in 90+ days)
        if row["password_enabled"] == "true":
            last_used = row.get("password_last_used", "N/A")
            if last_used not in ("N/A", "no_information", "not_supported"):
                last_login = datetime.fromisoformat(
                    last_used.replace("Z", "+00:00")
                )
                days_idle = (now - last_login).days
                if days_idle > 90:
                    findings.append({
                        "severity": "MEDIUM",
                        "user": user,
                        "issue": f"Console password unused for {days_idle} days"
                    })

        # Check 4: Old access keys (not rotated in 90+ days)
        for key_num in ["1", "2"]:
            active = row.get(f"access_key_{key_num}_active", "false")
            if active != "true":
                continue

            rotated = row.get(f"access_key_{key_num}_last_rotated", "N/A")
            if rotated in ("N/A", "not_supported"):
                continue

            rotated_date = datetime.fromisoformat(
                rotated.replace("Z", "+00:00")
            )
            key_age = (now - rotated_date).days

            if key_age > 90:
                findings.append({
                    "severity": "HIGH",
                    "user": user,
                    "issue": f"Access key {key_num} is {key_age} days old (not rotated)"
                })

        # Check 5: Unused access keys (not used in 90+ days)
        for key_num in ["1", "2"]:
            active = row.get(f"access_key_{key_num}_active", "false")
            if active != "true":
                continue

            last_used = row.get(
                f"access_key_{key_num}_last_used_date", "N/A"
            )
            if last_used in ("N/A", "not_supported"):
                findings.append({
                    "severity": "MEDIUM",
                    "user": user,
                    "issue": f"Access key {key_num} has never been used"
                })
                continue

            used_date = datetime.fromisoformat(
                last_used.replace("Z", "+00:00")
            )
            days_unused = (now - used_date).days

            if days_unused > 90:
                findings.append({
                    "severity": "MEDIUM",
                    "user": user,
                    "issue": f"Access key {key_num} unused for {days_unused} days"
                })

    return findings
# fmt: on
