"""Sharding: every account to exactly one replica, stable, and flag validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.cli.main import build_parser
from exporter.cli.serve import resolve_flags
from exporter.config import Config
from exporter.config.accounts import AccountSpec
from exporter.core.sharding import Shard, shard_of

account_ids = st.lists(st.from_regex(r"\A\d{12}\Z"), unique=True, max_size=300)


@given(ids=account_ids, count=st.integers(min_value=1, max_value=16))
def test_every_account_is_owned_by_exactly_one_replica(ids: list[str], count: int) -> None:
    specs = [AccountSpec(i, i, i) for i in ids]
    owners: dict[str, list[int]] = {i: [] for i in ids}
    for index in range(count):
        for spec in Shard(index, count).select(specs):
            owners[spec.key].append(index)
    assert all(len(o) == 1 for o in owners.values())


@given(ids=account_ids, count=st.integers(min_value=2, max_value=8))
def test_adding_an_account_moves_no_other(ids: list[str], count: int) -> None:
    before = {i: shard_of(i, count) for i in ids}
    after = {i: shard_of(i, count) for i in [*ids, "000000000000"]}
    assert all(after[i] == before[i] for i in ids)


def test_the_hash_is_stable_across_releases() -> None:
    # sha256, not hash(): moving an account between replicas would duplicate or drop
    # its series, so these assignments are pinned.
    ids = ("111111111111", "222222222222", "123456789012", "000000000001")
    assert [shard_of(a, 4) for a in ids] == [2, 3, 2, 2]
    assert shard_of("123456789012", 7) == 1


def test_spread_is_roughly_even() -> None:
    ids = [f"{n:012d}" for n in range(1000, 3000)]
    counts = [sum(1 for i in ids if Shard(k, 4).owns(i)) for k in range(4)]
    assert sum(counts) == 2000 and min(counts) > 400


def test_flags() -> None:
    def shard(*argv: str) -> Shard:
        settings = resolve_flags(build_parser().parse_args(["serve", *argv]), Config())
        return Shard(settings.shard_index, settings.shard_count)

    got = shard("--shard.index", "2", "--shard.count", "3")
    assert (got.index, got.count, got.label) == (2, 3, "2/3")
    assert shard() == Shard(0, 1)


@pytest.mark.parametrize(
    ("index", "count", "message"),
    [(3, 3, "--shard.index must be from 0 to 2"), (-1, 2, "--shard.index"),
     (0, 0, "--shard.count must be at least 1")],
)  # fmt: skip
def test_invalid_shards(index: int, count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Shard(index, count)
