"""Flag parsing shared by the sub-commands."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta, timezone

from exporter.output import FORMATS

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (example: 2026-11-24T12:00:00Z)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def parse_duration(text: str) -> timedelta:
    """A duration as Prometheus writes it: ``30s``, ``5m``, ``1h``, ``1h30m``, ``2d``."""
    m = _DURATION.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 30s, 5m, 1h, 1h30m)")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def add_format_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: table on a terminal, json otherwise)",
    )


def output_format(chosen: str | None) -> str:
    if chosen:
        return chosen
    return "table" if sys.stdout.isatty() else "json"
