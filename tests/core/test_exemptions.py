"""Exemptions: user and ARN globs, limited to checks, expiring, counted apart."""

from __future__ import annotations

from typing import Any

from exporter.config import config_from_dict
from exporter.core.evaluate import Evaluation, evaluate
from exporter.core.report import parse_report
from tests.support.reports import AS_OF, key, report, root_row, ts, user_row

ROWS = (
    root_row(mfa_active="false"),
    user_row("ci-deploy", arn="arn:aws:iam::111122223333:user/ops/ci/ci-deploy",
             **key(1, rotated=ts(200), used=ts(1))),
    user_row("ci-build", **key(1, rotated=ts(200), used="N/A")),
    user_row("alice", password_enabled="true", password_last_used=ts(1), mfa_active="false"),
)  # fmt: skip


def run(*exemptions: dict[str, Any]) -> Evaluation:
    config = config_from_dict({"exemptions": list(exemptions)})
    return evaluate(parse_report(report(*ROWS)), config, AS_OF)


def pairs(findings: Any) -> set[tuple[str, str]]:
    return {(f.user, f.check) for f in findings}


def test_without_exemptions_everything_is_reported() -> None:
    result = run()
    assert result.exempted == () and result.expired_exemptions == ()
    assert ("ci-deploy", "access_key_not_rotated") in pairs(result.findings)


def test_user_glob_exempts_every_check_of_matching_users() -> None:
    result = run({"user": "ci-*", "reason": "CI keys are rotated by the pipeline"})
    assert {u for u, _ in pairs(result.exempted)} == {"ci-deploy", "ci-build"}
    assert not {u for u, _ in pairs(result.findings)} & {"ci-deploy", "ci-build"}
    # Counted separately, not dropped: together they are all the findings.
    assert len(result.findings) + len(result.exempted) == len(run().findings)


def test_arn_glob_with_a_path() -> None:
    result = run({"arn": "arn:aws:iam::*:user/ops/ci/*", "reason": "ops CI"})
    assert {u for u, _ in pairs(result.exempted)} == {"ci-deploy"}
    # The user name alone does not match an ARN pattern.
    assert run({"arn": "ci-*", "reason": "r"}).exempted == ()


def test_exemption_limited_to_check_ids() -> None:
    result = run(
        {"user": "ci-*", "checks": ["access_key_not_rotated"], "reason": "yearly rotation"}
    )
    assert pairs(result.exempted) == {
        ("ci-deploy", "access_key_not_rotated"),
        ("ci-build", "access_key_not_rotated"),
    }
    assert ("ci-build", "access_key_never_used") in pairs(result.findings)


def test_root_can_be_exempted_by_name() -> None:
    result = run({"user": "<root_account>", "checks": ["root_mfa_disabled"], "reason": "r"})
    assert pairs(result.exempted) == {("<root_account>", "root_mfa_disabled")}


def test_exemption_applies_through_its_expiry_day_then_stops_and_is_reported() -> None:
    today = AS_OF.date().isoformat()
    live = run({"user": "alice", "reason": "until today", "expires": today})
    assert pairs(live.exempted) == {("alice", "console_without_mfa")}
    assert live.expired_exemptions == ()
    expired = run({"user": "alice", "reason": "was until yesterday", "expires": "2026-11-23"})
    assert expired.exempted == ()
    assert ("alice", "console_without_mfa") in pairs(expired.findings)
    [gone] = expired.expired_exemptions
    assert (gone.pattern, gone.reason, gone.expires.isoformat()) == (  # type: ignore[union-attr]
        "alice", "was until yesterday", "2026-11-23"
    )  # fmt: skip
    assert gone.as_dict() == {
        "user": "alice", "checks": None, "reason": "was until yesterday", "expires": "2026-11-23"
    }  # fmt: skip


def test_glob_is_case_sensitive_like_iam_arns() -> None:
    assert run({"user": "ALICE", "reason": "r"}).exempted == ()
