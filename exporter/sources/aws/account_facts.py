"""Account-level facts: ``GetAccountSummary`` plus ``ListVirtualMFADevices``.

The summary says whether root has MFA (``AccountMFAEnabled``); a virtual device
assigned to root (its user ARN ends in ``:root``) says that MFA is not hardware.
Two calls per account, whatever its number of users.
"""

from __future__ import annotations

from typing import Any

from exporter.core.records import AccountFacts


def fetch_account_facts(iam: Any, account_id: str, partition: str = "aws") -> AccountFacts:
    summary = iam.get_account_summary().get("SummaryMap", {})
    mfa_enabled = int(summary.get("AccountMFAEnabled", 0)) > 0
    virtual = mfa_enabled and _root_has_virtual_mfa(iam)
    return AccountFacts(
        account_id=account_id,
        root_mfa_enabled=mfa_enabled,
        root_virtual_mfa=virtual,
        summary={str(k): int(v) for k, v in summary.items()},
        partition=partition,
    )


def _root_has_virtual_mfa(iam: Any) -> bool:
    pages = iam.get_paginator("list_virtual_mfa_devices").paginate(AssignmentStatus="Assigned")
    for page in pages:
        for device in page.get("VirtualMFADevices", []):
            user_arn = str((device.get("User") or {}).get("Arn", ""))
            serial = str(device.get("SerialNumber", ""))
            if user_arn.endswith(":root") or serial.endswith("/root-account-mfa-device"):
                return True
    return False
