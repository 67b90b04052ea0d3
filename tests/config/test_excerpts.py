"""Error messages quote a bad value as a bounded excerpt, never its whole repr."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.config import ConfigError, config_from_dict
from exporter.config.errors import EXCERPT_CHARS, excerpt, key_name

HUGE = "x" * 100_000
# A list that shares itself a million times over: its full repr would not fit in memory.
NESTED: list[Any] = ["lol"] * 9
for _ in range(8):
    NESTED = [NESTED] * 9


def test_an_excerpt_is_a_repr_cut_to_a_bounded_length() -> None:
    assert excerpt("short") == "'short'"
    assert excerpt(42) == "42"
    long = excerpt(HUGE)
    assert len(long) == EXCERPT_CHARS and long.startswith("'xxx") and long.endswith("…")
    assert len(excerpt(NESTED)) <= EXCERPT_CHARS
    assert len(excerpt({str(i): HUGE for i in range(1000)})) <= EXCERPT_CHARS
    assert len(excerpt(10**4000)) <= EXCERPT_CHARS  # repr would be 4001 characters
    assert key_name("max_idle_days") == "max_idle_days"
    assert len(key_name(HUGE)) == EXCERPT_CHARS and key_name(HUGE).endswith("…")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"checks": {"password_unused": {"severity": HUGE}}}, "checks.password_unused.severity"),
        ({"checks": {"password_unused": {"enabled": NESTED}}}, "checks.password_unused.enabled"),
        ({"checks": {"password_unused": {"max_idle_days": HUGE}}}, "password_unused.max_idle_"),
        ({"checks": {HUGE: {}}}, "checks.xxxx"),
        ({"checks": {"password_unused": {HUGE: 1}}}, "checks.password_unused.xxx"),
        ({HUGE: 1}, "config: unknown key"),
        ({"exemptions": [{"user": "a", "reason": "r", "expires": HUGE}]}, "exemptions[0].expires"),
        ({"exemptions": [{"user": "a", "reason": "r", "checks": [HUGE]}]}, "exemptions[0].checks"),
        ({"exemptions": [{"user": "a", "reason": "r", HUGE: 1}]}, "exemptions[0].xxx"),
        ({"exemptions": [{"user": "a", "reason": "r", "id": [HUGE]}]}, "exemptions[0].id"),
        (
            {"exemptions": [{"user": "a", "reason": "r", "id": HUGE}] * 2},
            "exemptions[1].id: 'xxx",
        ),
        ({"flags": {"log.level": HUGE}}, "flags.log.level"),
        ({"flags": {"log.level": NESTED}}, "flags.log.level"),
        ({"flags": {"demo": NESTED}}, "flags.demo"),
        ({"flags": {"report-file": {"a": NESTED}}}, "flags.report-file"),
        ({"flags": {"refresh.interval": HUGE}}, "flags.refresh.interval"),
        ({"flags": {"refresh.workers": HUGE}}, "flags.refresh.workers"),
        ({"flags": {"web.telemetry-path": HUGE}}, "flags.web.telemetry-path"),
        ({"flags": {"web.listen-address": HUGE}}, "flags.web.listen-address"),
        ({"flags": {"report.max-bytes": HUGE}}, "flags.report.max-bytes"),
        ({"flags": {HUGE: 1}}, "flags.xxx"),
        ({"accounts": {"region": HUGE}}, "accounts.region"),
        ({"accounts": {"ambient": NESTED}}, "accounts.ambient"),
        ({"accounts": {HUGE: 1}}, "accounts.xxx"),
        ({"accounts": {"list": [{"account_id": HUGE}]}}, "accounts.list[0].account_id"),
        (
            {"accounts": {"list": [{"account_id": "123456789012", "role_arn": HUGE}]}},
            "accounts.list[0].role_arn",
        ),
        (
            {"accounts": {"organizations": {"include": {"ous": [HUGE]}}}},
            "accounts.organizations.include.ous[0]",
        ),
    ],
)
def test_config_errors_show_a_bounded_excerpt_of_the_bad_value(data: Any, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    message = str(err.value)
    assert where in message
    assert "x" * EXCERPT_CHARS not in message and len(message) < 1000, message[:1000]
    assert "\n" not in message
