"""Hostile YAML documents shared by the config and web config tests."""

from __future__ import annotations


def alias_bomb(key: str = "flags:\n  log.level", levels: int = 9) -> str:
    """A billion laughs under ``key``: nine aliases of nine aliases of ... (~330 bytes)."""
    names = "abcdefghijklmnopqrstuvwxyz"
    parts = ["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        parts.append(f"&{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * 9) + "]")
    return f"{key}: [" + ", ".join(parts) + "]\n"
