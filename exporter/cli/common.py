"""Flag parsing shared by the sub-commands."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from exporter.cli.output import FORMATS

# Instants we accept: a century of thresholds back from "now" must stay a valid date.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant, returned in UTC; without an offset it is taken as UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (example: 2026-11-24T12:00:00Z)"
        ) from None
    if not EARLIEST <= when < LATEST:  # compares instants: no conversion to overflow
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range ({EARLIEST.year} to {LATEST.year - 1})"
        )
    return when.astimezone(timezone.utc)


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
