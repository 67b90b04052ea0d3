"""What evaluation needs from the configuration, as frozen types.

``exporter.config`` builds these from the YAML file; the core only reads them,
so it never sees YAML or flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.core.checks import CHECKS
from exporter.core.exemptions import Exemption

SERVICE_LINKED_PATH = "/aws-service-role/"


@dataclass(frozen=True)
class CheckConfig:
    enabled: bool
    severity: str
    human: Mapping[str, int]
    programmatic: Mapping[str, int]

    def thresholds(self, is_human: bool) -> Mapping[str, int]:
        return self.human if is_human else self.programmatic


def default_checks() -> dict[str, CheckConfig]:
    return {
        cid: CheckConfig(True, spec.severity, dict(spec.thresholds), dict(spec.thresholds))
        for cid, spec in CHECKS.items()
    }


@dataclass(frozen=True)
class RoleAudit:
    enabled: bool = True
    # The role checks ignore roles under these paths; AWS services own service-linked roles.
    exclude_paths: tuple[str, ...] = (SERVICE_LINKED_PATH,)


@dataclass(frozen=True)
class Policy:
    """Which checks run, with which thresholds and severities, and what is exempt."""

    checks: Mapping[str, CheckConfig] = field(default_factory=default_checks)
    exemptions: tuple[Exemption, ...] = ()
    roles: RoleAudit = field(default_factory=RoleAudit)

    @property
    def enabled_checks(self) -> tuple[str, ...]:
        return tuple(cid for cid, c in self.checks.items() if c.enabled)
