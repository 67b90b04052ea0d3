"""``--min-severity`` and ``--check``: which findings an audit shows and fails on.

They narrow the evaluations themselves, before any output is rendered, so every
format (json, csv, table) and the exit code of ``--fail-on`` see the same findings.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NamedTuple

from exporter.config.suggest import unknown_check
from exporter.core.checks import CHECKS
from exporter.core.evaluate import Evaluation
from exporter.core.findings import SEVERITIES, Finding, at_or_above
from exporter.core.upcoming import Upcoming


def severity(text: str) -> str:
    """A severity in any case (``HIGH``, ``High``, ``high``)."""
    value = text.strip().lower()
    if value not in SEVERITIES:
        raise argparse.ArgumentTypeError(
            f"invalid severity {text!r} (choose from {', '.join(SEVERITIES)})"
        )
    return value


def check_id(text: str) -> str:
    value = text.strip()
    if value not in CHECKS:
        raise argparse.ArgumentTypeError(unknown_check(value, CHECKS))
    return value


class FindingFilter(NamedTuple):
    min_severity: str | None = None
    checks: frozenset[str] | None = None  # None: every check

    @classmethod
    def from_args(cls, min_severity: str | None, checks: Sequence[str] | None) -> FindingFilter:
        return cls(min_severity, frozenset(checks) if checks else None)

    def keeps(self, f: Finding) -> bool:
        if self.checks is not None and f.check not in self.checks:
            return False
        return self.min_severity is None or at_or_above(f.severity, self.min_severity)

    def apply(self, ev: Evaluation) -> Evaluation:
        """The evaluation with only the kept findings and exempted findings; the checks
        left out by ``--check`` are not listed as not evaluated either."""
        if self == FindingFilter():
            return ev
        skipped = ev.not_evaluated
        if self.checks is not None:
            skipped = {c: why for c, why in skipped.items() if c in self.checks}
        return ev._replace(
            findings=tuple(f for f in ev.findings if self.keeps(f)),
            exempted=tuple(f for f in ev.exempted if self.keeps(f)),
            not_evaluated=skipped,
        )

    def apply_upcoming(self, items: tuple[Upcoming, ...]) -> tuple[Upcoming, ...]:
        return tuple(u for u in items if self.keeps(u.finding))


def add_filter_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-severity",
        type=severity,
        metavar="SEVERITY",
        help="show only findings at or above SEVERITY (critical, high, medium, low; any "
        "case); --fail-on sees only those too (default: every severity)",
    )
    parser.add_argument(
        "--check",
        type=check_id,
        action="append",
        metavar="ID",
        help="show only the findings of check ID; repeatable (default: every check; "
        "the ids are in docs/checks.md)",
    )
