"""Whether AWS Organizations manages the member accounts' root credentials.

``iam:ListOrganizationsFeatures``, from the management account (or the delegated
administrator for IAM), lists the centralised root features enabled in the
organisation: ``RootCredentialsManagement`` lets it remove the member accounts' root
passwords, keys and certificates. The management account's own root is never
managed this way; its id is the one in every ``ListAccounts`` ARN
(``arn:aws:organizations::<management id>:account/o-.../<account id>``), so telling
it costs no call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
# What IAM answers when the organisation cannot have the feature at all: it is off.
_FEATURE_OFF_CODES = frozenset(
    {"ServiceAccessNotEnabledException", "OrganizationNotInAllFeaturesModeException"}
)


class OrgRootManagement(NamedTuple):
    """The organisation's root credentials management, as read at the last discovery."""

    enabled: bool
    management_account: str | None  # None: no ARN named it
    members: frozenset[str]  # the active accounts ListAccounts returned

    def status(self, account_id: str) -> bool | None:
        """``AccountFacts.org_root_management`` of one account."""
        if account_id not in self.members or self.management_account is None:
            return None
        return self.enabled and account_id != self.management_account


def root_credentials_management(iam: Any) -> bool:
    """Whether ``RootCredentialsManagement`` is enabled; other failures are raised."""
    try:
        features = iam.list_organizations_features().get("EnabledFeatures", [])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _FEATURE_OFF_CODES:
            return False
        raise
    return ROOT_CREDENTIALS_MANAGEMENT in features


def management_account(accounts: Iterable[dict[str, Any]]) -> str | None:
    """The management account's id, read from the accounts' ARNs (None if they disagree)."""
    found = {_owner(str(a.get("Arn", ""))) for a in accounts}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def _owner(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "organizations" or not parts[5].startswith("account/"):
        return None
    return parts[4] if len(parts[4]) == 12 and parts[4].isdigit() else None
