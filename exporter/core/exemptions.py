"""Exemptions: accepted risks that suppress findings, with a reason and an expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from exporter.core.findings import Finding


@dataclass(frozen=True)
class Exemption:
    pattern: str
    by_arn: bool
    checks: frozenset[str] | None
    reason: str
    expires: date | None = None

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, finding: Finding) -> bool:
        if self.checks is not None and finding.check not in self.checks:
            return False
        subject = finding.arn if self.by_arn else finding.user
        return fnmatchcase(subject, self.pattern)

    def as_dict(self) -> dict[str, Any]:
        return {
            "arn" if self.by_arn else "user": self.pattern,
            "checks": sorted(self.checks) if self.checks else None,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }

    def describe(self) -> str:
        kind = "arn" if self.by_arn else "user"
        scope = ", ".join(sorted(self.checks)) if self.checks else "all checks"
        until = f", until {self.expires.isoformat()}" if self.expires else ""
        return f"{kind} {self.pattern} ({scope}{until}): {self.reason}"
