"""Exemptions: user and ARN globs, limited to checks, expiring, counted apart."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import config_from_dict
from exporter.core.evaluate import Evaluation, evaluate
from exporter.core.exemptions import Exemption, ExemptionSet
from exporter.core.findings import Finding
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


# Globs built from the characters that mean something to fnmatch, and subjects from
# the same alphabet, so that matches, near misses and odd brackets all come up.
GLOB_ALPHABET = "ab/-.*?[]!"
SUBJECT_ALPHABET = "ab/-.[]!"
CHECK_IDS = ("console_without_mfa", "access_key_unused", "root_mfa_disabled")


exemption_strategy = st.builds(
    Exemption,
    pattern=st.text(GLOB_ALPHABET, max_size=6),
    by_arn=st.booleans(),
    checks=st.none() | st.frozensets(st.sampled_from(CHECK_IDS), min_size=1),
    reason=st.just("r"),
)
finding_strategy = st.builds(
    Finding,
    account_id=st.just("111122223333"),
    user=st.text(SUBJECT_ALPHABET, max_size=6),
    arn=st.text(SUBJECT_ALPHABET, max_size=8),
    check=st.sampled_from(CHECK_IDS),
    severity=st.just("high"),
    key=st.none(),
    message=st.just("m"),
    facts=st.just({}),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(exemption_strategy, max_size=6), st.lists(finding_strategy, max_size=12))
def test_the_compiled_set_matches_exactly_what_each_exemption_matches(
    exemptions: list[Exemption], findings: list[Finding]
) -> None:
    compiled = ExemptionSet(exemptions)
    for finding in findings * 2:  # the second pass answers from the memo
        assert compiled.matches(finding) == any(e.matches(finding) for e in exemptions)


def test_the_compiled_set_keeps_the_configured_glob_semantics() -> None:
    user = Exemption("ci-*", by_arn=False, checks=frozenset({"access_key_unused"}), reason="r")
    arn = Exemption("arn:aws:iam::*:user/ops/*", by_arn=True, checks=None, reason="r")
    compiled = ExemptionSet([user, arn])

    def finding(user: str, arn: str, check: str) -> Finding:
        return Finding("1", user, arn, check, "high", None, "m", {})

    assert compiled.matches(
        finding("ci-build", "arn:aws:iam::1:user/ci-build", "access_key_unused")
    )
    # The user glob is limited to its check; the ARN glob crosses "/" as fnmatch does.
    assert not compiled.matches(finding("ci-build", "arn:aws:iam::1:user/ci-build", "x"))
    assert compiled.matches(finding("bob", "arn:aws:iam::1:user/ops/team/bob", "x"))
    assert not compiled.matches(
        finding("CI-build", "arn:aws:iam::1:user/CI-build", "access_key_unused")
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(exemption_strategy, max_size=6), st.lists(finding_strategy, max_size=12))
def test_the_flags_of_many_findings_at_once_are_those_of_each_exemption(
    exemptions: list[Exemption], findings: list[Finding]
) -> None:
    # All findings at once: the subjects that match any glob are found first, then
    # only their findings are asked about the exemptions of their check.
    flags = ExemptionSet(exemptions).flags(findings)
    assert flags == [any(e.matches(f) for e in exemptions) for f in findings]
