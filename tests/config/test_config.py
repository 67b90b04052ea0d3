"""Configuration: defaults, overrides, and every error naming its key."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from exporter.config import Config, ConfigError, config_from_dict, load_config
from exporter.core.checks import CHECKS
from exporter.core.evaluate import evaluate, evaluate_details
from exporter.core.records import AccountFacts, RoleRecord
from exporter.core.report import parse_report
from tests.support.reports import AS_OF, key, report, root_row, user_row

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "configuration.example.yaml"


def test_defaults_come_from_the_catalogue() -> None:
    config = Config()
    assert set(config.checks) == set(CHECKS)
    for cid, spec in CHECKS.items():
        cfg = config.checks[cid]
        assert cfg.enabled and cfg.severity == spec.severity
        assert cfg.human == cfg.programmatic == spec.thresholds
    assert config_from_dict(None) == config_from_dict({}) == config


def test_overrides_per_user_kind() -> None:
    config = config_from_dict(
        {
            "checks": {
                "access_key_not_rotated": {
                    "severity": "critical",
                    "max_age_days": 60,
                    "programmatic": {"max_age_days": 365},
                },
                "signing_certificate_active": {"enabled": False},
                "password_unused": None,  # an empty key keeps the defaults
            }
        }
    )
    rot = config.checks["access_key_not_rotated"]
    assert rot.severity == "critical"
    assert rot.human == {"max_age_days": 60} and rot.programmatic == {"max_age_days": 365}
    assert rot.thresholds(True) == {"max_age_days": 60}
    assert rot.thresholds(False) == {"max_age_days": 365}
    assert not config.checks["signing_certificate_active"].enabled
    assert "signing_certificate_active" not in config.enabled_checks
    assert config.checks["password_unused"] == Config().checks["password_unused"]


OK = {"user": "a", "reason": "r"}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ([], "config: must be a mapping"),
        ({"check": {}}, "config: unknown key 'check'"),
        ({"checks": []}, "checks: must be a mapping"),
        ({"checks": {"nope": {}}}, "checks.nope: unknown check"),
        ({"checks": {"password_unused": 5}}, "checks.password_unused: must be a mapping"),
        ({"checks": {"password_unused": {"max_days": 1}}}, "checks.password_unused.max_days"),
        ({"checks": {"password_unused": {"enabled": "yes"}}}, "checks.password_unused.enabled"),
        ({"checks": {"password_unused": {"severity": "HIGH"}}}, "checks.password_unused.severity"),
        ({"checks": {"password_unused": {"max_idle_days": -1}}}, "password_unused.max_idle_days"),
        ({"checks": {"password_unused": {"max_idle_days": 1.5}}}, "password_unused.max_idle_days"),
        ({"checks": {"password_unused": {"max_idle_days": True}}}, "password_unused.max_idle_days"),
        (
            {"checks": {"user_inactive": {"max_idle_days": 10**9}}},
            "from 0 to 36500, got 1000000000",
        ),
        (
            {"checks": {"password_unused": {"human": {"max_idle_days": "x"}}}},
            "checks.password_unused.human.max_idle_days",
        ),
        (
            {"checks": {"access_key_unused": {"programmatic": {"window_days": 1}}}},
            "checks.access_key_unused.programmatic.window_days",
        ),
        (
            {"checks": {"access_key_unused": {"programmatic": [1]}}},
            "checks.access_key_unused.programmatic: must be a mapping",
        ),
        # A check without thresholds has no human/programmatic overrides either.
        ({"checks": {"console_without_mfa": {"human": {}}}}, "checks.console_without_mfa.human"),
        ({"flags": ["x"]}, "flags: must be a mapping"),
        ({"accounts": "x"}, "accounts: must be a mapping"),
        ({"exemptions": {}}, "exemptions: must be a list"),
        ({"exemptions": ["x"]}, "exemptions[0]: must be a mapping"),
        ({"exemptions": [{"reason": "r"}]}, "exemptions[0]: give exactly one of 'user' or 'arn'"),
        (
            {"exemptions": [{"user": "a", "arn": "b", "reason": "r"}]},
            "exemptions[0]: give exactly one",
        ),
        ({"exemptions": [{"user": "", "reason": "r"}]}, "exemptions[0].user"),
        ({"exemptions": [{"arn": 5, "reason": "r"}]}, "exemptions[0].arn"),
        ({"exemptions": [{"user": "a"}]}, "exemptions[0].reason: required"),
        ({"exemptions": [{"user": "a", "reason": "  "}]}, "exemptions[0].reason: required"),
        ({"exemptions": [{"user": "a", "reason": "r", "why": 1}]}, "exemptions[0].why"),
        ({"exemptions": [{"user": "a", "reason": "r", "checks": []}]}, "exemptions[0].checks"),
        (
            {"exemptions": [{"user": "a", "reason": "r", "checks": ["nope"]}]},
            "exemptions[0].checks: unknown check 'nope'",
        ),
        (
            {"exemptions": [OK, {"user": "b", "reason": "r", "expires": 9}]},
            "exemptions[1].expires: must be a date",
        ),
        ({"exemptions": [{**OK, "id": ""}]}, "exemptions[0].id: must be a non-empty string"),
        ({"exemptions": [{**OK, "id": 7}]}, "exemptions[0].id: must be a non-empty string"),
        (
            {"exemptions": [{**OK, "id": "ci"}, {**OK, "id": " ci "}]},
            "exemptions[1].id: 'ci' is already the id of exemptions[0]",
        ),
        # An explicit id may not take the default id of another entry.
        (
            {"exemptions": [{**OK, "id": "exemptions[1]"}, OK]},
            "exemptions[1].id: 'exemptions[1]' is already the id of exemptions[0]",
        ),
    ],
)
def test_invalid_config_names_the_key(data: Any, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    assert key in str(err.value)


def test_extreme_thresholds_evaluate_without_error() -> None:
    names = [c for c, spec in CHECKS.items() if spec.thresholds]
    role = RoleRecord("r", "arn:aws:iam::1:role/r", "/", datetime(2000, 1, 1, tzinfo=timezone.utc))
    facts = AccountFacts("1", True, True)
    for days in (0, 36_500):
        config = config_from_dict(
            {"checks": {c: dict.fromkeys(CHECKS[c].thresholds, days) for c in names}}
        )
        rep = parse_report(report(root_row(), user_row("u", **key(1), **key(2))))
        assert evaluate(rep, config, AS_OF).problems == ()
        assert evaluate_details("1", (role,), facts, config, AS_OF).problems == ()


def test_load_config_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=f"cannot read config file {missing}"):
        load_config(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks: [unclosed\n")
    with pytest.raises(ConfigError, match=f"config file {bad} is not valid YAML"):
        load_config(bad)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"checks: {}\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(latin)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("checks:\n  password_unused:\n    max_idle_days: ninety\n")
    with pytest.raises(ConfigError, match=f"^{wrong}|checks.password_unused.max_idle_days"):
        load_config(wrong)
    assert load_config(None) == Config()


def test_yaml_dates_and_quoted_dates_both_work(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "exemptions:\n"
        "  - user: 'ci-*'\n    reason: CI keys rotate yearly\n    expires: 2027-01-31\n"
        "  - arn: 'arn:aws:iam::*:user/ops/*'\n    reason: ops\n    expires: '2027-02-01'\n"
        "    checks: [access_key_not_rotated]\n"
    )
    config = load_config(path)
    first, second = config.exemptions
    assert (first.pattern, first.by_arn, first.expires, first.checks) == (
        "ci-*", False, date(2027, 1, 31), None
    )  # fmt: skip
    assert (second.by_arn, second.expires, second.checks) == (
        True, date(2027, 2, 1), frozenset({"access_key_not_rotated"})
    )  # fmt: skip


def test_the_documented_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.checks["access_key_not_rotated"].programmatic["max_age_days"] == 365
    assert config.exemptions


def test_an_impossible_date_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("exemptions:\n  - user: bob\n    reason: r\n    expires: 2027-02-30\n")
    with pytest.raises(ConfigError, match=r"^exemptions\[0\]\.expires: must be a date such as"):
        load_config(path)


def test_exemption_ids_default_to_their_place_in_the_list() -> None:
    config = config_from_dict(
        {"exemptions": [OK, {**OK, "id": "  ci-keys "}, {"user": "b", "reason": "r"}]}
    )
    assert [ident for ident, _ in config.named_exemptions()] == [
        "exemptions[0]",
        "ci-keys",
        "exemptions[2]",
    ]
    assert [e for _, e in config.named_exemptions()] == list(config.exemptions)
    # The id names the entry only: the exemption itself is the same with or without it.
    assert config.exemptions[0] == config.exemptions[1]
    # Built in code, without ids: every exemption still has one.
    built = Config(exemptions=config.exemptions[:2])
    assert [ident for ident, _ in built.named_exemptions()] == ["exemptions[0]", "exemptions[1]"]
