"""role_unused_services: granted services not accessed within N days (Access Advisor)."""

from __future__ import annotations

from datetime import timedelta

from exporter.config import Config
from exporter.core.checks import Thresholds
from exporter.core.checks.services import NO_ACCESS_ADVISOR, role_unused_services, unknown_services
from exporter.core.evaluate import evaluate_details
from exporter.core.records import RoleRecord, ServiceUse
from tests.support.sample_reports import NOW

LIMIT = Thresholds({"max_idle_days": 90}, {"max_idle_days": 90})


def role(created_days: int, *services: tuple[str, int | None], path: str = "/") -> RoleRecord:
    return RoleRecord(
        "app", f"arn:aws:iam::123456789012:role{path}app", path, NOW - timedelta(days=created_days),
        services=tuple(
            ServiceUse(ns, ns, None if d is None else NOW - timedelta(days=d)) for ns, d in services
        ),
    )  # fmt: skip


def test_exactly_n_days_is_not_more_than_n_days() -> None:
    assert role_unused_services([role(500, ("s3", 90))], LIMIT, NOW) == []
    ((_, key, message, facts),) = role_unused_services([role(500, ("s3", 91))], LIMIT, NOW)
    assert key is None and facts == {"unused_services": 1, "services": ["s3"]}
    assert message == "Role app: 1 granted service(s) unused for 90 days"


def test_a_service_never_used_counts_once_the_role_is_older_than_the_limit() -> None:
    assert role_unused_services([role(90, ("sqs", None))], LIMIT, NOW) == []
    ((_, _, _, facts),) = role_unused_services([role(91, ("sqs", None))], LIMIT, NOW)
    assert facts["services"] == ["sqs"]


def test_count_and_namespaces_in_the_facts_sorted_and_unique() -> None:
    subject = role(400, ("sns", 200), ("s3", 1), ("dynamodb", None), ("sns", 300))
    ((_, _, _, facts),) = role_unused_services([subject], LIMIT, NOW)
    assert facts == {"unused_services": 2, "services": ["dynamodb", "sns"]}


def test_a_role_without_an_access_advisor_answer_is_skipped() -> None:
    unread = role(400)._replace(services=None)
    assert role_unused_services([unread], LIMIT, NOW) == []
    enabled = Config().enabled_checks
    assert unknown_services([unread], enabled) == {"role_unused_services": NO_ACCESS_ADVISOR}
    assert unknown_services([unread, role(400)], enabled) == {}
    assert unknown_services(None, enabled) == {}  # the roles' own "not known" says it


def test_through_evaluation_service_linked_roles_are_excluded() -> None:
    linked = role(400, ("s3", None), path="/aws-service-role/")
    plain = role(400, ("s3", None))
    found = evaluate_details("123456789012", [linked, plain], None, Config(), NOW).findings
    hits = [f for f in found if f.check == "role_unused_services"]
    assert [f.arn for f in hits] == [plain.arn] and hits[0].severity == "low"
