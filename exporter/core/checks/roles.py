"""The checks of scope role: the account's IAM roles, from GetAccountAuthorizationDetails.

The credential report has no roles. Roles are machine identities, so a role check
reads the ``programmatic`` thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from exporter.core.checks.spec import Hit, Thresholds, days_since
from exporter.core.records import RoleRecord

RoleHit = Hit[RoleRecord]


def role_unused(roles: Sequence[RoleRecord], t: Thresholds, now: datetime) -> list[RoleHit]:
    limit = t.programmatic["max_idle_days"]
    hits: list[RoleHit] = []
    for role in roles:
        if role.last_used is not None:
            idle = days_since(now, role.last_used)
            if idle > limit:
                msg = f"Role {role.name} unused for {idle} days"
                hits.append((role, None, msg, {"days_idle": idle}))
            continue
        # No recorded use: the role counts from its creation.
        age = days_since(now, role.created)
        if age > limit:
            msg = f"Role {role.name} never used; created {age} days ago"
            hits.append((role, None, msg, {"role_age_days": age}))
    return hits
