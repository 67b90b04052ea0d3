"""The one error type of configuration parsing, and how its messages quote values."""

from __future__ import annotations

import reprlib
from typing import Any

# An error message is one line that a person reads: a bad value is shown cut to this.
EXCERPT_CHARS = 60
_ELLIPSIS = "…"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


class _BoundedRepr(reprlib.Repr):
    """reprlib with small limits: the work is bounded however large or deep the value is."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxarray = self.maxset = self.maxfrozenset = 4
        self.maxdeque = self.maxdict = 4
        self.maxstring = self.maxlong = self.maxother = EXCERPT_CHARS + 2

    def repr_int(self, x: int, level: int) -> str:
        # repr() of an int beyond sys.get_int_max_str_digits() raises ValueError.
        if x.bit_length() > 4 * EXCERPT_CHARS:
            return f"<a {x.bit_length()}-bit integer>"
        return super().repr_int(x, level)


_REPR = _BoundedRepr()


def excerpt(value: Any) -> str:
    """``repr(value)``, cut to ``EXCERPT_CHARS`` characters with a trailing "…"."""
    if isinstance(value, str):
        text = repr(value[: EXCERPT_CHARS + 1])  # a prefix: never the repr of the whole string
    else:
        try:
            text = _REPR.repr(value)
        except Exception:  # a value whose repr fails must not hide the error it is part of
            text = f"<{type(value).__name__}>"
    return _cut(text)


def key_name(key: Any) -> str:
    """A key of the user's file as it appears in a path such as ``checks.NAME.severity``."""
    return _cut(key[: EXCERPT_CHARS + 1]) if isinstance(key, str) else excerpt(key)


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + _ELLIPSIS
