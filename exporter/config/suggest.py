"""The closest known name to a mistyped one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from exporter.config.errors import excerpt


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)``, or `` (known: a, b, ...)`` when nothing is close."""
    names = list(known)
    close = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(names)})"


def unknown_check(value: object, known: Iterable[str]) -> str:
    """The message for a check id that is not one: the value, then the nearest id."""
    hint = did_you_mean(value, known) if isinstance(value, str) else f" (known: {', '.join(known)})"
    return f"unknown check {excerpt(value)}{hint}"
