"""Every check on both sides of its threshold, on the root row and on special values.

Ages are whole days, ``(now - t).days``, as in the seed, and "more than N days"
means strictly more: N days and 23 hours is still N days.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from exporter.config import Config, config_from_dict
from exporter.core.checks import CATALOGUE, CHECKS
from exporter.core.evaluate import evaluate
from exporter.core.findings import SEVERITIES, Finding
from exporter.core.report import parse_report
from tests.support.reports import ACCOUNT, AS_OF, key, report, root_row, ts, user_row


def findings(*rows: dict[str, str], config: Config | None = None) -> list[Finding]:
    return list(evaluate(parse_report(report(*rows)), config or Config(), AS_OF).findings)


def of(check: str, *rows: dict[str, str], config: Config | None = None) -> list[Finding]:
    return [f for f in findings(*rows, config=config) if f.check == check]


def keys_of(check: str, *rows: dict[str, str], **kw: Any) -> list[tuple[str, int | None]]:
    return [(f.user, f.key) for f in of(check, *rows, **kw)]


def human(name: str = "h", **fields: str) -> dict[str, str]:
    base = {"password_enabled": "true", "password_last_used": ts(1), "mfa_active": "true"}
    return user_row(name, **{**base, **fields})


def test_catalogue_ids_are_unique_and_severities_lowercase() -> None:
    assert len(CHECKS) == len(CATALOGUE)
    for spec in CATALOGUE:
        assert spec.severity in SEVERITIES
        assert spec.scope in ("root", "user", "any", "account", "role")
        # One function per check, whatever its scope, named as the check.
        assert callable(spec.fn) and spec.fn.__name__ == spec.id


# --- root ---------------------------------------------------------------------


def test_root_mfa_disabled() -> None:
    [f] = of("root_mfa_disabled", root_row(mfa_active="false"))
    assert (f.user, f.arn, f.severity, f.key, f.account_id) == (
        "<root_account>", f"arn:aws:iam::{ACCOUNT}:root", "critical", None, ACCOUNT
    )  # fmt: skip
    assert f.message == "Root account does not have MFA enabled"
    assert of("root_mfa_disabled", root_row(mfa_active="true")) == []
    assert of("root_mfa_disabled", root_row(mfa_active="garbage")) == []
    # The root check never looks at users.
    assert of("root_mfa_disabled", user_row("u", mfa_active="false")) == []


def test_root_access_key_active_one_finding_per_active_key() -> None:
    both = root_row(**key(1, rotated=ts(400)), **key(2, rotated=ts(5)))
    got = of("root_access_key_active", both)
    assert [(f.key, f.severity, f.facts) for f in got] == [
        (1, "high", {"age_days": 400}), (2, "high", {"age_days": 5})
    ]  # fmt: skip
    assert {f.message for f in got} == {"Root account has active access keys"}
    only_2 = root_row(**key(1, active="false", rotated=ts(9)), **key(2))
    assert keys_of("root_access_key_active", only_2) == [("<root_account>", 2)]
    assert of("root_access_key_active", root_row()) == []


def test_root_used_recently_inside_and_outside_the_window() -> None:
    check = "root_used_recently"  # window 7 days: used fewer than 7 whole days ago
    recent = root_row(password_last_used=ts(6, hours=23))
    assert keys_of(check, recent) == [("<root_account>", None)]
    assert of(check, root_row(password_last_used=ts(7))) == []
    key_used = root_row(**key(2, active="false", rotated=ts(30), used=ts(0, hours=2)))
    [f] = of(check, key_used)
    assert (f.key, f.message) == (2, "Root access key 2 used 0 days ago")
    assert f.facts == {"days_since_use": 0}
    assert of(check, root_row(password_last_used="no_information")) == []
    assert of(check, user_row("u", password_enabled="true", password_last_used=ts(0))) == []


# --- console users -----------------------------------------------------------------


def test_console_without_mfa() -> None:
    check = "console_without_mfa"
    [f] = of(check, human("alice", mfa_active="false"))
    assert (f.user, f.severity, f.message) == (
        "alice", "high", "Console access enabled but MFA not configured"
    )  # fmt: skip
    assert of(check, human("alice", mfa_active="true")) == []
    assert of(check, user_row("svc", mfa_active="false")) == []  # no password
    assert of(check, root_row(mfa_active="false")) == []  # root has its own check


@pytest.mark.parametrize(("days", "hours", "hit"), [(90, 0, False), (90, 23, False), (91, 0, True)])
def test_password_unused_threshold(days: int, hours: int, hit: bool) -> None:
    got = of("password_unused", human(password_last_used=ts(days, hours=hours)))
    assert bool(got) is hit
    if hit:
        assert got[0].message == "Console password unused for 91 days"
        assert got[0].facts == {"days_idle": 91} and got[0].severity == "medium"


@pytest.mark.parametrize("special", ["N/A", "no_information", "not_supported", "garbage"])
def test_password_unused_ignores_special_values(special: str) -> None:
    assert of("password_unused", human(password_last_used=special)) == []


def test_password_unused_needs_an_enabled_password() -> None:
    assert of("password_unused", user_row("u", password_last_used=ts(500))) == []


@pytest.mark.parametrize(("created", "hit"), [(30, False), (31, True)])
@pytest.mark.parametrize("never", ["N/A", "no_information"])
def test_password_never_used_threshold(created: int, hit: bool, never: str) -> None:
    row = human(password_last_used=never, user_creation_time=ts(created, hours=1))
    got = of("password_never_used", row)
    assert bool(got) is hit
    if hit:
        assert got[0].facts == {"user_age_days": 31} and got[0].severity == "low"


def test_password_never_used_not_for_used_or_absent_passwords() -> None:
    old = ts(400)
    assert of("password_never_used", human(user_creation_time=old, password_last_used=ts(3))) == []
    assert of("password_never_used", user_row("u", user_creation_time=old)) == []
    assert of("password_never_used", human(user_creation_time=old, password_last_used="bad")) == []


# --- access keys ---------------------------------------------------------------------


@pytest.mark.parametrize(("days", "hours", "hit"), [(90, 0, False), (90, 23, False), (91, 0, True)])
def test_access_key_not_rotated_threshold(days: int, hours: int, hit: bool) -> None:
    row = user_row("svc", **key(2, rotated=ts(days, hours=hours), used=ts(1)))
    got = of("access_key_not_rotated", row)
    assert [(f.key, f.facts.get("age_days")) for f in got] == ([(2, 91)] if hit else [])
    if hit:
        assert got[0].message == "Access key 2 is 91 days old (not rotated)"


def test_access_key_not_rotated_only_for_active_keys_with_a_date() -> None:
    inactive = user_row("u", **key(1, active="false", rotated=ts(500)))
    assert of("access_key_not_rotated", inactive) == []
    for special in ("N/A", "not_supported", "no_information", "garbage"):
        assert of("access_key_not_rotated", user_row("u", **key(1, rotated=special))) == []


@pytest.mark.parametrize("never", ["N/A", "not_supported"])
def test_access_key_never_used(never: str) -> None:
    row = user_row("svc", **key(1, rotated=ts(0), used=never), **key(2, used=ts(1)))
    [f] = of("access_key_never_used", row)
    assert (f.key, f.message, f.facts) == (1, "Access key 1 has never been used", {"age_days": 0})
    # no_information is not "never used" (the seed treats it the same way).
    assert of("access_key_never_used", user_row("u", **key(1, used="no_information"))) == []
    inactive = user_row("u", **key(1, active="false", used=never))
    assert of("access_key_never_used", inactive) == []


@pytest.mark.parametrize(("age", "hit"), [(6, False), (7, True)])
def test_access_key_never_used_grace_period(age: int, hit: bool) -> None:
    config = config_from_dict({"checks": {"access_key_never_used": {"grace_days": 7}}})
    row = user_row("u", **key(1, rotated=ts(age, hours=23)))
    assert bool(of("access_key_never_used", row, config=config)) is hit


def test_root_used_a_little_after_now_was_used_today() -> None:
    # Within CLOCK_LEEWAY a date after now is kept: used 0 days ago, never -1.
    got = of("root_used_recently", root_row(password_last_used=ts(hours=-0.5)))
    assert [(f.message, f.facts) for f in got] == [
        ("Root password used 0 days ago", {"days_since_use": 0})
    ]


def test_access_key_never_used_default_grace_flags_even_a_future_date() -> None:
    # Clock skew can put the creation date after "now"; the seed still flags the key.
    row = user_row("u", **key(1, rotated=ts(-2)))
    assert keys_of("access_key_never_used", row) == [("u", 1)]


@pytest.mark.parametrize(("days", "hours", "hit"), [(90, 0, False), (90, 23, False), (91, 0, True)])
def test_access_key_unused_threshold(days: int, hours: int, hit: bool) -> None:
    row = user_row("svc", **key(1, used=ts(days, hours=hours)))
    got = of("access_key_unused", row)
    assert [(f.key, f.facts) for f in got] == ([(1, {"days_idle": 91})] if hit else [])
    if hit:
        assert got[0].message == "Access key 1 unused for 91 days"


def test_access_key_unused_ignores_inactive_keys_and_unknown_dates() -> None:
    assert of("access_key_unused", user_row("u", **key(1, active="false", used=ts(400)))) == []
    assert of("access_key_unused", user_row("u", **key(1, used="no_information"))) == []
    assert of("access_key_unused", user_row("u", **key(1, used="garbage"))) == []


def test_multiple_active_access_keys() -> None:
    two = user_row("u", **key(1), **key(2))
    [f] = of("multiple_active_access_keys", two)
    assert (f.key, f.severity, f.facts) == (None, "medium", {"active_keys": 2})
    one = user_row("u", **key(1), **key(2, active="false"))
    assert of("multiple_active_access_keys", one) == []


def test_inactive_access_key_present() -> None:
    row = user_row("u", **key(1, active="false", rotated=ts(40)), **key(2))
    [f] = of("inactive_access_key_present", row)
    assert (f.key, f.message) == (1, "Access key 1 is inactive but not deleted")
    assert f.facts == {"age_days": 40}
    # No key at all in that slot: N/A dates.
    assert of("inactive_access_key_present", user_row("u")) == []


# --- users and certificates ------------------------------------------------------------


@pytest.mark.parametrize(("days", "hit"), [(90, False), (91, True)])
def test_user_inactive_threshold_on_the_latest_use(days: int, hit: bool) -> None:
    row = human(password_last_used=ts(days), **key(1, used=ts(days + 50)), **key(2, used="N/A"))
    got = of("user_inactive", row)
    assert [f.facts for f in got] == ([{"days_idle": 91}] if hit else [])


@pytest.mark.parametrize(("created", "hit"), [(90, False), (91, True)])
def test_user_inactive_never_used_counts_from_creation(created: int, hit: bool) -> None:
    got = of("user_inactive", user_row("u", user_creation_time=ts(created)))
    assert [f.message for f in got] == (
        ["No credential ever used; user created 91 days ago"] if hit else []
    )


def test_user_inactive_unknown_use_gives_no_finding() -> None:
    row = human(password_last_used="garbage", user_creation_time=ts(900))
    assert of("user_inactive", row) == []


def test_signing_certificate_active_on_users_and_root() -> None:
    row = user_row("u", cert_1_active="false", cert_2_active="true", cert_2_last_rotated=ts(9))
    [f] = of("signing_certificate_active", row)
    assert (f.message, f.facts) == ("Active X.509 signing certificate(s): 2", {"certificates": [2]})
    assert keys_of("signing_certificate_active", root_row(cert_1_active="true")) == [
        ("<root_account>", None)
    ]
    assert of("signing_certificate_active", user_row("u")) == []


# --- configuration applied to checks ----------------------------------------------------


def test_disabled_check_and_severity_override() -> None:
    row = human("a", mfa_active="false")
    off = config_from_dict({"checks": {"console_without_mfa": {"enabled": False}}})
    assert of("console_without_mfa", row, config=off) == []
    low = config_from_dict({"checks": {"console_without_mfa": {"severity": "low"}}})
    assert [f.severity for f in of("console_without_mfa", row, config=low)] == ["low"]


def test_programmatic_users_get_their_own_rotation_threshold() -> None:
    config = config_from_dict(
        {"checks": {"access_key_not_rotated": {"programmatic": {"max_age_days": 365}}}}
    )
    machine = user_row("ci", **key(1, rotated=ts(200), used=ts(1)))
    person = human("p", **key(1, rotated=ts(200), used=ts(1)))
    got = keys_of("access_key_not_rotated", machine, person, config=config)
    assert got == [("p", 1)]
    old_machine = user_row("ci", **key(1, rotated=ts(366), used=ts(1)))
    assert keys_of("access_key_not_rotated", old_machine, config=config) == [("ci", 1)]
    edge_machine = user_row("ci", **key(1, rotated=ts(365, hours=23), used=ts(1)))
    assert of("access_key_not_rotated", edge_machine, config=config) == []


def test_human_override_and_common_threshold() -> None:
    config = config_from_dict(
        {"checks": {"access_key_unused": {"max_idle_days": 30, "human": {"max_idle_days": 10}}}}
    )
    machine = user_row("ci", **key(1, used=ts(20)))
    person = human("p", **key(1, used=ts(20)))
    assert keys_of("access_key_unused", machine, person, config=config) == [("p", 1)]
    machine = user_row("ci", **key(1, used=ts(31)))
    assert keys_of("access_key_unused", machine, config=config) == [("ci", 1)]


def test_now_must_be_aware_and_other_time_zones_give_the_same_ages() -> None:
    rep = parse_report(report(human(password_last_used=ts(91))))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(rep, Config(), AS_OF.replace(tzinfo=None))
    elsewhere = AS_OF.astimezone(timezone(timedelta(hours=-8)))
    assert evaluate(rep, Config(), elsewhere) == evaluate(rep, Config(), AS_OF)
