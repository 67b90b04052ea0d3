"""The analysis benchmark compares like with like: the seed script and our core
find exactly the same seven-check findings in the same synthetic report."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from benchmarks.baseline_seed import SEED_CHECKS, check_of, seed_audit
from benchmarks.bench_analysis import core_facts, seed_facts
from benchmarks.synthetic import AS_OF, generate_report


@pytest.mark.parametrize(("users", "seed"), [(500, 1), (2000, 7), (3000, 20261124)])
def test_seed_baseline_and_core_find_the_same(users: int, seed: int) -> None:
    data = generate_report(users, seed=seed)
    seed_found = seed_facts(data, AS_OF)
    assert seed_found == core_facts(data, AS_OF)
    # Not vacuous: hundreds of findings, from the user checks of the article.
    assert sum(seed_found.values()) > users / 4
    checks = Counter(fact[0] for fact in seed_found.elements())
    assert set(SEED_CHECKS) - set(checks) <= {"root_access_key_active"}


def test_every_seed_check_fires_on_some_synthetic_report() -> None:
    seen: set[str] = set()
    for seed in range(1, 6):
        seen |= {check_of(f)[0] for f in seed_audit(generate_report(300, seed=seed), AS_OF)}
    assert seen == set(SEED_CHECKS)


def test_agreement_holds_at_another_instant() -> None:
    later = datetime(2027, 6, 1, tzinfo=timezone.utc)
    data = generate_report(1000, seed=3)
    assert seed_facts(data, later) == core_facts(data, later)
    assert seed_facts(data, later) != seed_facts(data, AS_OF)


def test_check_of_rejects_a_message_the_seed_never_writes() -> None:
    assert check_of({"issue": "Access key 2 unused for 91 days"}) == ("access_key_unused", 2)
    with pytest.raises(ValueError, match="not a message of the seed script"):
        check_of({"issue": "User has two active access keys"})
