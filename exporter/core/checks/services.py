"""The Access Advisor check of scope role: services a role may use but does not.

IAM Access Advisor lists every service a role's policies grant with its last access.
A service granted and not used for more than N days is permission to remove. A role
whose services Access Advisor has not reported (``RoleRecord.services`` is None) is
skipped; ``not_evaluated`` names the check when no role of the account has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from exporter.core.checks.spec import Hit, Thresholds, cutoff
from exporter.core.records import RoleRecord

RoleHit = Hit[RoleRecord]
CHECK = "role_unused_services"
NO_ACCESS_ADVISOR = "Access Advisor has not reported on the account's roles (off, or not yet)"


def role_unused_services(
    roles: Sequence[RoleRecord], t: Thresholds, now: datetime
) -> list[RoleHit]:
    limit = t.programmatic["max_idle_days"]
    cut = cutoff(now, limit)
    hits: list[RoleHit] = []
    for role in roles:
        if role.services is None:
            continue
        # A service never used counts once the role itself is older than the limit.
        old = role.created <= cut
        unused = sorted(
            {
                s.namespace
                for s in role.services
                if (s.last_authenticated is None and old)
                or (s.last_authenticated is not None and s.last_authenticated <= cut)
            }
        )
        if unused:
            msg = f"Role {role.name}: {len(unused)} granted service(s) unused for {limit} days"
            facts = {"unused_services": len(unused), "services": unused}
            hits.append((role, None, msg, facts))
    return hits


def unknown_services(
    roles: Sequence[RoleRecord] | None, enabled: Sequence[str]
) -> Mapping[str, str]:
    """``{CHECK: why}`` when the roles are known but none has Access Advisor's services
    (a clean 0 would then be a claim nobody made); else nothing."""
    if roles is None or CHECK not in enabled or any(r.services is not None for r in roles):
        return {}
    return {CHECK: NO_ACCESS_ADVISOR}
