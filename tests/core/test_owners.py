"""Owners from IAM tags: first configured key wins, a missing tag is owner ""."""

from __future__ import annotations

from exporter.core.owners import owner_of, owners_of_users
from exporter.core.records import UserTags


def test_first_configured_key_wins_whatever_order_aws_lists_tags() -> None:
    tags = (("owner", "alice"), ("team", "payments"))
    assert owner_of(tags, ("team", "owner")) == "payments"
    assert owner_of(tags, ("owner", "team")) == "alice"


def test_a_later_key_is_used_when_the_first_is_missing() -> None:
    assert owner_of((("owner", "alice"),), ("team", "owner")) == "alice"


def test_no_configured_key_is_the_empty_owner() -> None:
    assert owner_of((("cost-center", "42"),), ("team",)) == ""
    assert owner_of((), ("team",)) == ""


def test_keys_are_case_sensitive_as_in_iam() -> None:
    assert owner_of((("Team", "payments"),), ("team",)) == ""


def test_an_empty_tag_value_is_an_empty_owner_and_stops_the_search() -> None:
    # The tag is there: it was set, to nothing; a later key does not override it.
    assert owner_of((("team", ""), ("owner", "alice")), ("team", "owner")) == ""


def test_owners_of_users_keeps_only_users_with_an_owner() -> None:
    users = (UserTags("alice", (("team", "payments"),)), UserTags("bob", ()))
    assert owners_of_users(users, ("team",)) == {"alice": "payments"}
