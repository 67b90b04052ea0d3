"""``audit --demo``: the demo accounts of ``serve --demo``, audited once, offline."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from exporter.config import Config
from exporter.sources.base import ReportSource
from exporter.sources.demo import (
    DEMO_ACCOUNTS,
    DemoSource,
    demo_exemptions,
    with_demo_owner_tag,
)


def demo_audit(config: Config) -> tuple[Config, list[tuple[str, ReportSource]]]:
    """The demo's sources, and the config with the demo's exemptions when it has none
    (as ``serve --demo`` does), so that each state of an exemption shows, and with the
    demo's owner tag unless it names its own."""
    config = with_demo_owner_tag(config)
    if not config.exemptions:
        named = demo_exemptions(datetime.now(timezone.utc).date())
        config = replace(
            config,
            exemptions=tuple(e for _, e in named),
            exemption_ids=tuple(i for i, _ in named),
        )
    sources: list[tuple[str, ReportSource]] = [
        (a.name, DemoSource(account=a)) for a in DEMO_ACCOUNTS
    ]
    return config, sources
