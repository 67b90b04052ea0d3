"""Checks whose input is missing are not evaluated, and say so: never a silent clean.

A report without the root row leaves the root checks out; one in the pre-2015 format
(no key use dates) the checks that read key use; roles or account facts not fetched
leave out the role and account checks. ``Evaluation.not_evaluated`` names each, why.
"""

from __future__ import annotations

from exporter.config import config_from_dict
from exporter.core.checks import CHECKS, ids_of_scope
from exporter.core.evaluate import (
    NO_ACCOUNT_FACTS,
    NO_KEY_USE,
    NO_ROLES,
    NO_ROOT_ROW,
    evaluate,
    evaluate_details,
    merge,
)
from exporter.core.records import AccountFacts
from exporter.core.report import parse_report
from tests.support.real_reports import real_report
from tests.support.reports import AS_OF, key, report, root_row, ts, user_row

CONFIG = config_from_dict({})
ROOT_CHECKS = ids_of_scope("root")
KEY_USE_CHECKS = ("access_key_never_used", "access_key_unused", "root_used_recently",
                  "user_inactive")  # fmt: skip


def test_a_complete_report_in_todays_format_evaluates_every_report_check() -> None:
    result = evaluate(parse_report(report(root_row(), user_row("a"))), CONFIG, AS_OF)
    assert dict(result.not_evaluated) == {}


def test_without_the_root_row_the_root_checks_are_not_evaluated() -> None:
    rows = [user_row("a", password_enabled="true", password_last_used=ts(1))]
    result = evaluate(parse_report(report(*rows)), CONFIG, AS_OF)
    assert dict(result.not_evaluated) == dict.fromkeys(ROOT_CHECKS, NO_ROOT_ROW)
    assert set(ROOT_CHECKS) == {"root_mfa_disabled", "root_access_key_active",
                                "root_used_recently"}  # fmt: skip
    # The users are still audited.
    assert [f.check for f in result.findings] == ["console_without_mfa"]


def test_the_header_alone_is_not_a_clean_account() -> None:
    result = evaluate(parse_report(report()), CONFIG, AS_OF)
    assert result.findings == () and set(result.not_evaluated) == set(ROOT_CHECKS)


def test_disabled_checks_are_not_listed() -> None:
    config = config_from_dict({"checks": {"root_mfa_disabled": {"enabled": False}}})
    result = evaluate(parse_report(report(user_row("a"))), config, AS_OF)
    assert "root_mfa_disabled" not in result.not_evaluated
    assert "root_access_key_active" in result.not_evaluated


def test_the_16_column_format_leaves_out_the_checks_that_read_key_use() -> None:
    rep = parse_report(real_report("awsdoc_powershell_restored.csv").read_bytes())
    result = evaluate(rep, CONFIG, AS_OF)
    assert dict(result.not_evaluated) == dict.fromkeys(KEY_USE_CHECKS, NO_KEY_USE)
    assert all(CHECKS[c].needs for c in KEY_USE_CHECKS)
    found = {(f.user, f.check, f.key) for f in result.findings}
    # Checks that need no key use still run: Administrator's two old keys, both active.
    assert ("Administrator", "access_key_not_rotated", 1) in found
    assert ("Administrator", "multiple_active_access_keys", None) in found
    assert ("Administrator", "console_without_mfa", None) in found
    assert not any(check in KEY_USE_CHECKS for _, check, _ in found)


def test_a_root_check_not_evaluated_for_both_reasons_gives_the_root_row() -> None:
    data = real_report("insightwatch_oldformat_header_only.csv").read_bytes()
    result = evaluate(parse_report(data), CONFIG, AS_OF)
    assert result.not_evaluated["root_used_recently"] == NO_ROOT_ROW
    assert result.not_evaluated["access_key_unused"] == NO_KEY_USE


def test_role_and_account_checks_not_fetched_are_not_evaluated() -> None:
    facts = AccountFacts("1", root_mfa_enabled=True, root_virtual_mfa=False)
    assert dict(evaluate_details("1", (), facts, CONFIG, AS_OF).not_evaluated) == {}
    neither = evaluate_details("1", None, None, CONFIG, AS_OF)
    assert dict(neither.not_evaluated) == {
        "root_hardware_mfa_missing": NO_ACCOUNT_FACTS,
        "role_unused": NO_ROLES,
        "role_unused_services": NO_ROLES,
    }
    roles_only = evaluate_details("1", (), None, CONFIG, AS_OF)
    assert list(roles_only.not_evaluated) == ["root_hardware_mfa_missing"]


def test_merge_keeps_every_check_not_evaluated() -> None:
    incomplete = evaluate(parse_report(report(user_row("a"))), CONFIG, AS_OF)
    details = evaluate_details("1", None, None, CONFIG, AS_OF)
    merged = merge(incomplete, details)
    details_checks = {"role_unused", "role_unused_services", "root_hardware_mfa_missing"}
    assert set(merged.not_evaluated) == set(ROOT_CHECKS) | details_checks
    assert dict(merge().not_evaluated) == {}


def test_an_exemption_does_not_hide_what_was_not_evaluated() -> None:
    config = config_from_dict({"exemptions": [{"user": "*", "reason": "all"}]})
    result = evaluate(parse_report(report(user_row("a", **key(1, rotated=ts(400))))), config, AS_OF)
    assert result.exempted and set(result.not_evaluated) == set(ROOT_CHECKS)
