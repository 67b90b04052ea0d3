"""The catalogue: every check of every scope, one ``CheckSpec`` each.

``CHECKS`` is what the rest of the program reads (evaluation, the configuration,
the metrics), so a check added to ``CATALOGUE`` needs no other registration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporter.core.checks import account, report, roles, services
from exporter.core.checks.spec import CheckSpec
from exporter.core.findings import Finding

# The key use dates, which reports in the pre-2015 format do not have.
KEY_USE = frozenset({"access_key_1_last_used_date", "access_key_2_last_used_date"})

CATALOGUE: tuple[CheckSpec[Any], ...] = (
    CheckSpec(
        "root_mfa_disabled", "critical", "Root account has no MFA", "1.5",
        "Whoever holds the root password alone controls the whole account, billing and "
        "account closure included. MFA is the only second factor root can have.",
        "root", fn=report.root_mfa_disabled,
    ),
    CheckSpec(
        "root_access_key_active", "high", "Root account has an active access key", "1.4",
        "A root access key cannot be limited by any policy. Use IAM roles or users for "
        "programmatic access and delete root keys.",
        "root", fn=report.root_access_key_active,
    ),
    CheckSpec(
        "console_without_mfa", "high", "Console user without MFA", "1.10",
        "A console password alone can be phished or guessed; MFA stops most takeovers.",
        "user", fn=report.console_without_mfa,
    ),
    CheckSpec(
        "password_unused", "medium", "Console password unused", "1.12",
        "A password nobody uses is only attack surface. Disable it.",
        "user", {"max_idle_days": 90}, fn=report.password_unused,
    ),
    CheckSpec(
        "access_key_not_rotated", "high", "Access key not rotated", "1.14",
        "Long-lived keys leak through laptops, CI logs and repositories; rotation bounds "
        "how long a leaked key stays useful.",
        "user", {"max_age_days": 90}, fn=report.access_key_not_rotated,
    ),
    CheckSpec(
        "access_key_never_used", "medium", "Access key never used", "1.11",
        "A key that was created and never used was probably not needed. Keys should not "
        "be created during initial user setup.",
        "user", {"grace_days": 0}, fn=report.access_key_never_used, needs=KEY_USE,
    ),
    CheckSpec(
        "access_key_unused", "medium", "Access key unused", "1.12",
        "An active key nobody uses is only attack surface. Deactivate it.",
        "user", {"max_idle_days": 90}, fn=report.access_key_unused, needs=KEY_USE,
    ),
    CheckSpec(
        "root_used_recently", "high", "Root account used recently", "1.7",
        "Root should be kept for the few tasks only it can do. Recent use means someone "
        "is doing daily work as root, or the credentials are in the wrong hands.",
        "root", {"window_days": 7}, fn=report.root_used_recently, needs=KEY_USE,
    ),
    CheckSpec(
        "multiple_active_access_keys", "medium", "User has two active access keys", "1.13",
        "Two active keys are normal only during a rotation; left alone, the old key is "
        "forgotten and never deactivated.",
        "user", fn=report.multiple_active_access_keys,
    ),
    CheckSpec(
        "password_never_used", "low", "Console password never used", "1.12",
        "A password set at creation and never used was probably not needed, and its "
        "initial value may be known to others.",
        "user", {"min_user_age_days": 30}, fn=report.password_never_used,
    ),
    CheckSpec(
        "user_inactive", "low", "Inactive user", "1.12",
        "A user with no password or key use for a long time is a candidate for deletion.",
        "user", {"max_idle_days": 90}, fn=report.user_inactive, needs=KEY_USE,
    ),
    CheckSpec(
        "inactive_access_key_present", "low", "Inactive access key not deleted", "1.12",
        "A deactivated key can be re-activated by anyone with iam:UpdateAccessKey; "
        "delete keys that are no longer needed.",
        "user", fn=report.inactive_access_key_present,
    ),
    CheckSpec(
        "signing_certificate_active", "low", "Active X.509 signing certificate", "-",
        "Signing certificates serve legacy SOAP APIs. An active one is a long-lived "
        "credential that nobody rotates; delete it unless a legacy service needs it.",
        "any", fn=report.signing_certificate_active,
    ),
    CheckSpec(
        "root_hardware_mfa_missing", "medium", "Root MFA is not a hardware device", "1.6",
        "A virtual MFA lives on a phone that can be lost, backed up or cloned; root deserves "
        "a hardware key.",
        "account", fn=account.root_hardware_mfa_missing,
    ),
    CheckSpec(
        "role_unused", "medium", "IAM role unused", "-",
        "A role nobody assumes keeps its trust policy and permissions: attack surface "
        "with no benefit. Delete roles unused for a long time.",
        "role", {"max_idle_days": 90}, fn=roles.role_unused,
    ),
    CheckSpec(
        "role_unused_services", "low", "Role grants services it does not use", "-",
        "Permissions a role never exercises only widen what a stolen session can do. "
        "IAM Access Advisor shows which granted services went unused: remove them.",
        "role", {"max_idle_days": 90}, fn=services.role_unused_services,
    ),
)  # fmt: skip


CHECKS: dict[str, CheckSpec[Any]] = {c.id: c for c in CATALOGUE}


def ids_of_scope(scope: str) -> tuple[str, ...]:
    """The ids of the checks of one scope, in catalogue order."""
    return tuple(cid for cid, spec in CHECKS.items() if spec.scope == scope)


def findings_of_scope(findings: Iterable[Finding], scope: str) -> tuple[Finding, ...]:
    ids = ids_of_scope(scope)
    return tuple(f for f in findings if f.check in ids)
