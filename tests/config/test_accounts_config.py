"""The ``accounts:`` section: the three sources, partitions, and errors that name the key."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from exporter.config import ConfigError, config_from_dict
from exporter.config.accounts import (
    AMBIENT_KEY,
    DEFAULT_ROLE_TEMPLATE,
    AccountSpec,
    merge_targets,
    parse_accounts,
    partition_for_region,
)

ARN = "arn:aws:iam::111111111111:role/iam-credential-exporter"


def test_default_is_the_ambient_account() -> None:
    cfg = parse_accounts(None)
    assert cfg.ambient and not cfg.explicit and cfg.organizations is None
    assert [s.key for s in merge_targets(cfg, [])] == [AMBIENT_KEY]
    assert cfg.roles.exclude_paths == ("/aws-service-role/",)


def test_explicit_list() -> None:
    cfg = parse_accounts(
        {
            "list": [
                {"account_id": "111111111111", "name": "prod", "role_arn": ARN,
                 "external_id": "ext-123", "session_name": "audit"},
                {"account_id": "222222222222",
                 "role_arn": "arn:aws:iam::222222222222:role/reader"},
            ],
        }
    )  # fmt: skip
    assert not cfg.ambient
    prod, second = cfg.explicit
    assert prod == AccountSpec("111111111111", "prod", "111111111111", ARN, "ext-123", "audit")
    assert second.name == "222222222222" and second.session_name == "iam-credential-exporter"
    # ambient can be added back explicitly
    cfg = parse_accounts(
        {"ambient": True, "list": [{"account_id": "111111111111", "role_arn": ARN}]}
    )
    assert [s.key for s in merge_targets(cfg, [])] == ["111111111111", AMBIENT_KEY]


def test_organizations_discovery_and_template() -> None:
    cfg = parse_accounts(
        {
            "organizations": {
                "region": "eu-west-1",
                "include": {"ous": ["ou-ab12-cdef3456"], "accounts": ["333333333333"]},
                "exclude": {"accounts": ["444444444444"]},
                "management_role_arn": "arn:aws:iam::999999999999:role/org-reader",
            }
        }
    )
    org = cfg.organizations
    assert org is not None and not cfg.ambient
    assert org.role_arn_template == DEFAULT_ROLE_TEMPLATE
    assert org.include_ous == {"ou-ab12-cdef3456"} and org.exclude_accounts == {"444444444444"}
    target = org.target("555555555555", "dev")
    assert target.role_arn == "arn:aws:iam::555555555555:role/iam-credential-exporter"
    assert (target.key, target.name, target.region) == ("555555555555", "dev", "eu-west-1")


def test_explicit_entry_wins_over_discovered() -> None:
    cfg = parse_accounts({"list": [{"account_id": "111111111111", "name": "prod", "role_arn": ARN}],
                          "organizations": {}})  # fmt: skip
    assert cfg.organizations is not None
    discovered = [cfg.organizations.target("111111111111", "Prod Org Name"),
                  cfg.organizations.target("222222222222", "dev")]  # fmt: skip
    merged = merge_targets(cfg, discovered)
    assert [(s.key, s.name) for s in merged] == [("111111111111", "prod"), ("222222222222", "dev")]


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("eu-central-1", "aws"), ("cn-north-1", "aws-cn"),
     ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"),
     ("us-gov-east-1", "aws-us-gov"), ("us-iso-east-1", "aws-iso"),
     ("us-isob-east-1", "aws-iso-b")],
)  # fmt: skip
def test_partition_table_agrees_with_botocore(region: str, partition: str) -> None:
    assert partition_for_region(region) == partition
    assert botocore.session.Session().get_partition_for_region(region) == partition


@pytest.mark.parametrize(
    ("region", "prefix"),
    [("cn-north-1", "arn:aws-cn:"), ("us-gov-west-1", "arn:aws-us-gov:"), (None, "arn:aws:")],
)
def test_template_builds_arn_of_the_region_partition(region: str | None, prefix: str) -> None:
    org = parse_accounts({"organizations": {"region": region} if region else {}}).organizations
    assert org is not None
    arn = org.role_arn("123456789012")
    assert arn == f"{prefix}iam::123456789012:role/iam-credential-exporter"


def test_explicit_account_in_china_partition() -> None:
    arn = "arn:aws-cn:iam::111111111111:role/reader"
    cfg = parse_accounts({"list": [{"account_id": "111111111111", "role_arn": arn,
                                    "region": "cn-north-1"}]})  # fmt: skip
    assert cfg.explicit[0].partition == "aws-cn"


BAD: list[tuple[dict[str, Any], str]] = [
    ({"list": [{"account_id": 111111111111, "role_arn": ARN}]},
     "accounts.list[0].account_id: quote"),
    ({"list": [{"account_id": "1111", "role_arn": ARN}]},
     "accounts.list[0].account_id: must be a 12-digit"),
    ({"list": [{"account_id": "111111111111"}]}, "accounts.list[0].role_arn: required"),
    ({"list": [{"account_id": "222222222222", "role_arn": ARN}]},
     "accounts.list[0].role_arn: the role is in account 111111111111, not 222222222222"),
    ({"list": [{"account_id": "111111111111", "role_arn": "arn:aws:iam::111111111111:user/x"}]},
     "accounts.list[0].role_arn: not an IAM role ARN"),
    ({"list": [{"account_id": "111111111111", "role_arn": ARN, "region": "cn-north-1"}]},
     "accounts.list[0].role_arn: the role is in partition aws but region cn-north-1 is in aws-cn"),
    ({"list": [{"account_id": "111111111111", "role_arn": ARN}] * 2},
     "accounts.list[1].account_id: 111111111111 is already listed at accounts.list[0]"),
    ({"list": [{"account_id": "111111111111", "role_arn": ARN, "colour": 1}]},
     "accounts.list[0].colour: unknown setting"),
    ({"list": [{"account_id": "111111111111", "role_arn": ARN, "external_id": "x"}]},
     "accounts.list[0].external_id: 2-1224"),
    ({"list": [{"account_id": "111111111111", "role_arn": ARN, "session_name": "a b"}]},
     "accounts.list[0].session_name"),
    ({"list": {"account_id": "111111111111"}}, "accounts.list: must be a list"),
    ({"workers": 4}, "accounts.workers: unknown setting"),
    ({"region": "mars"}, "accounts.region: not a region name"),
    ({"ambient": "yes"}, "accounts.ambient: must be true or false"),
    ({"ambient": False}, "accounts: no account to watch"),
    ({"organizations": {"role_arn_template": "arn:aws:iam::123456789012:role/x"}},
     "accounts.organizations.role_arn_template: must contain {account_id}"),
    ({"organizations": {"role_arn_template": "arn:{partition}:iam::{acct}:role/x"}},
     "accounts.organizations.role_arn_template: unknown placeholder(s) acct"),
    ({"organizations": {"role_arn_template": "arn:{partition:iam::{account_id}:role/x"}},
     "accounts.organizations.role_arn_template: not a valid template"),
    ({"organizations": {"region": "cn-north-1",
                        "role_arn_template": "arn:aws:iam::{account_id}:role/x"}},
     "accounts.organizations.role_arn_template: the role is in partition aws"),
    ({"organizations": {"include": {"ous": ["engineering"]}}},
     "accounts.organizations.include.ous[0]: not an OU or root id"),
    ({"organizations": {"exclude": {"accounts": ["12"]}}},
     "accounts.organizations.exclude.accounts[0]: must be a 12-digit"),
    ({"organizations": {"exclude": {"tags": ["x"]}}},
     "accounts.organizations.exclude.tags: unknown setting"),
    ({"organizations": ["x"]}, "accounts.organizations: must be a mapping"),
    ({"roles": {"exclude_paths": ["aws-service-role"]}},
     "accounts.roles.exclude_paths[0]: a path such as"),
    ({"roles": {"enabled": "no"}}, "accounts.roles.enabled: must be true or false"),
    ({"shards": 3}, "accounts.shards: unknown setting"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_errors_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_accounts(raw)
    assert message in str(err.value)


def test_parses_from_the_whole_config() -> None:
    config = config_from_dict({"accounts": {"list": [{"account_id": "111111111111",
                                                      "role_arn": ARN}]}})  # fmt: skip
    pass

    assert config.accounts.explicit[0].role_arn == ARN
