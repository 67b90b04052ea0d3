"""The one prefix of every message the command line writes on stderr."""

from __future__ import annotations

PROG = "iam-credential-exporter"


def error_line(text: str) -> str:
    return f"{PROG}: error: {text}"


def warning_line(text: str) -> str:
    """Something left out while the rest went on (a part of an account, for example)."""
    return f"{PROG}: warning: {text}"
