"""Split the watched accounts between N replicas, each account to exactly one.

The shard of an account is ``sha256(key) mod N``: stable across restarts, hosts
and Python versions (unlike ``hash()``), and independent of which other accounts
exist, so adding an account never moves the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


def shard_of(key: str, count: int) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"--shard.count must be at least 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"--shard.index must be from 0 to {self.count - 1} (--shard.count {self.count}), "
                f"got {self.index}"
            )

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        return self.count == 1 or shard_of(key, self.count) == self.index

    def select(self, items: Iterable[K]) -> list[K]:
        return [item for item in items if self.owns(item.key)]
