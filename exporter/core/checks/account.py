"""The checks of scope account: facts about the whole account, from IAM APIs other
than the credential report (GetAccountSummary, ListVirtualMFADevices).

There is one subject, the account's ``AccountFacts``; its findings are attributed
to ``<root_account>``. Root is a human user: an account check reads the ``human``
thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from exporter.core.checks.spec import Hit, Thresholds
from exporter.core.records import AccountFacts

AccountHit = Hit[AccountFacts]


def root_hardware_mfa_missing(
    accounts: Sequence[AccountFacts], t: Thresholds, now: datetime
) -> list[AccountHit]:
    # No MFA at all is root_mfa_disabled's finding (critical); this one is about its kind.
    return [
        (facts, None, "Root MFA is a virtual device, not a hardware key", {"mfa": "virtual"})
        for facts in accounts
        if facts.root_mfa_enabled and facts.root_virtual_mfa
    ]
