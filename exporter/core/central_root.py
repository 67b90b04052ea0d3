"""Root credentials that AWS Organizations manages centrally. Pure.

A member account of an organisation with ``RootCredentialsManagement`` enabled can
have its root password, access keys and certificates removed: nobody can sign in as
root, and root has nothing for an MFA device to protect. Its report row still says
``mfa_active`` false, so ``root_mfa_disabled`` (and ``root_hardware_mfa_missing``)
would fire in every such account. When the organisation manages root and root holds
no credential at all, those checks do not apply: their findings are withheld and the
checks listed in ``Evaluation.not_evaluated`` with ``CENTRALLY_MANAGED``, so that
their absence is explained and never reads as "root has MFA".

The evidence is the account summary (``AccountPasswordPresent``,
``AccountAccessKeysPresent``, ``AccountSigningCertificatesPresent``, the root-only
keys of ``GetAccountSummary``) and, when there is one, the report's root row: any
credential in either keeps the checks. A summary without those keys is unknown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

from exporter.core.evaluate import Evaluation
from exporter.core.records import AccountFacts, CredentialRecord, CredentialReport

# The checks that have nothing to say about a root without credentials.
WITHHELD = ("root_mfa_disabled", "root_hardware_mfa_missing")
CENTRALLY_MANAGED = (
    "root credentials are centrally managed by AWS Organizations "
    "(no root password, access key or signing certificate)"
)
# GetAccountSummary's root-only counts: each must be 0.
ROOT_CREDENTIAL_KEYS = (
    "AccountPasswordPresent",
    "AccountAccessKeysPresent",
    "AccountSigningCertificatesPresent",
)


def root_centrally_managed(
    facts: AccountFacts | None, report: CredentialReport | None
) -> bool | None:
    """True when the organisation manages root and root holds no credential; False
    when known not to be; None when it cannot be told (facts not fetched, the
    organisation's features unknown, a summary without the root counts)."""
    if facts is None or facts.org_root_management is None:
        return None
    if not facts.org_root_management:
        return False
    counts = [facts.summary.get(key) for key in ROOT_CREDENTIAL_KEYS]
    if any(count is None for count in counts):
        return None
    if any(count != 0 for count in counts):
        return False
    root = _root_row(report)
    return root is None or not _holds_credentials(root)


def _root_row(report: CredentialReport | None) -> CredentialRecord | None:
    if report is None:
        return None
    return next((r for r in report.records if r.is_root), None)


def _holds_credentials(root: CredentialRecord) -> bool:
    # Only a definite "true" counts: AWS writes not_supported in root's password_enabled.
    return (
        root.password_enabled is True
        or any(k.active is True for k in root.access_keys)
        or any(c.active is True for c in root.certificates)
    )


def withhold(evaluation: Evaluation, checks: Mapping[str, str]) -> Evaluation:
    """``evaluation`` without the findings (reported or exempted) of ``checks``,
    which join its ``not_evaluated`` with their reasons. Meant for one account's
    evaluation: a merge of several accounts would lose the others' findings too."""
    if not checks:
        return evaluation
    return evaluation._replace(
        findings=tuple(f for f in evaluation.findings if f.check not in checks),
        exempted=tuple(f for f in evaluation.exempted if f.check not in checks),
        not_evaluated=MappingProxyType({**evaluation.not_evaluated, **checks}),
    )


def withheld_checks(managed: bool | None, enabled: Collection[str]) -> Mapping[str, str]:
    """The checks to withhold (among the ``enabled`` ones) and why."""
    if managed is not True:
        return {}
    return {cid: CENTRALLY_MANAGED for cid in WITHHELD if cid in enabled}


def apply_central_root(
    evaluation: Evaluation,
    facts: AccountFacts | None,
    report: CredentialReport | None,
    enabled: Collection[str],
) -> tuple[Evaluation, bool | None]:
    """One account's evaluation with the root checks withheld when root is centrally
    managed, and that decision (``root_centrally_managed``)."""
    managed = root_centrally_managed(facts, report)
    return withhold(evaluation, withheld_checks(managed, enabled)), managed
