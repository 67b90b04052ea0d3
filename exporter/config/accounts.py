"""The ``accounts:`` configuration section: which AWS accounts to watch, and how.

Three sources, combinable:

* ``ambient``: the account of the process's own credentials (the default when
  nothing else is configured);
* ``list``: explicit accounts, each reached by assuming ``role_arn``;
* ``organizations``: accounts discovered with Organizations ``ListAccounts``,
  each reached through a role ARN built from ``role_arn_template``.

Pure: parsing and validation only. Every error names the offending key, e.g.
``accounts.list[2].role_arn``. ``exporter.sources.aws.directory`` turns the result into sources.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.config.errors import ConfigError, excerpt, key_name
from exporter.core.policy import SERVICE_LINKED_PATH, RoleAudit

AMBIENT_KEY = "ambient"
DEFAULT_SESSION_NAME = "iam-credential-exporter"
DEFAULT_ROLE_TEMPLATE = "arn:{partition}:iam::{account_id}:role/iam-credential-exporter"

# Region name prefixes of the non-commercial partitions, most specific first.
# A test checks this table against botocore's own partition data.
_PARTITION_PREFIXES = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
)
PARTITIONS = ("aws", *(p for _, p in _PARTITION_PREFIXES))
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):iam::(?P<account>\d{12}):role/(?P<name>\S+)$")
_REGION = re.compile(r"^[a-z]{2,5}(-[a-z]+)+-\d+$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")
_TEMPLATE_FIELDS = frozenset({"partition", "account_id", "account_name"})


def partition_for_region(region: str | None) -> str:
    """The AWS partition a region belongs to (``aws`` when no region is given)."""
    for prefix, partition in _PARTITION_PREFIXES:
        if region and region.startswith(prefix):
            return partition
    return "aws"


@dataclass(frozen=True)
class AccountSpec:
    """One account to watch. ``key`` is its account id, or ``ambient``."""

    key: str
    name: str
    account_id: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    region: str | None = None

    @property
    def partition(self) -> str:
        return partition_for_region(self.region)


@dataclass(frozen=True)
class OrganizationsSpec:
    role_arn_template: str = DEFAULT_ROLE_TEMPLATE
    region: str | None = None
    external_id: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    # Assumed (from the ambient credentials) only to call the Organizations API.
    management_role_arn: str | None = None
    include_accounts: frozenset[str] = frozenset()
    exclude_accounts: frozenset[str] = frozenset()
    include_ous: frozenset[str] = frozenset()
    exclude_ous: frozenset[str] = frozenset()

    def role_arn(self, account_id: str, account_name: str = "") -> str:
        return self.role_arn_template.format(
            partition=partition_for_region(self.region),
            account_id=account_id,
            account_name=account_name,
        )

    def target(self, account_id: str, account_name: str) -> AccountSpec:
        return AccountSpec(
            key=account_id,
            name=account_name or account_id,
            account_id=account_id,
            role_arn=self.role_arn(account_id, account_name),
            external_id=self.external_id,
            session_name=self.session_name,
            region=self.region,
        )


@dataclass(frozen=True)
class AccountsConfig:
    ambient: bool = True
    explicit: tuple[AccountSpec, ...] = ()
    organizations: OrganizationsSpec | None = None
    region: str | None = None
    roles: RoleAudit = field(default_factory=RoleAudit)
    account_checks: bool = True

    def ambient_spec(self) -> AccountSpec:
        return AccountSpec(key=AMBIENT_KEY, name=AMBIENT_KEY, region=self.region)


def merge_targets(cfg: AccountsConfig, discovered: Iterable[AccountSpec]) -> list[AccountSpec]:
    """Ambient, then explicit, then discovered accounts; an explicit entry wins over
    a discovered one with the same id. Sorted by key for a stable order."""
    out: dict[str, AccountSpec] = {}
    for spec in discovered:
        out[spec.key] = spec
    for spec in cfg.explicit:
        out[spec.key] = spec
    if cfg.ambient:
        out.setdefault(AMBIENT_KEY, cfg.ambient_spec())
    return [out[k] for k in sorted(out)]


_TOP_KEYS = ("ambient", "list", "organizations", "region", "roles", "account_checks")


def parse_accounts(raw: Any) -> AccountsConfig:
    where = "accounts"
    raw = {} if raw is None else raw
    _mapping(raw, where)
    _known(raw, where, _TOP_KEYS)
    region = _region(f"{where}.region", raw.get("region"))
    explicit = _explicit(raw.get("list"), region)
    org_raw = raw.get("organizations")
    organizations = None if org_raw is None else _organizations(org_raw, region)
    ambient = _bool(f"{where}.ambient", raw.get("ambient"), not explicit and organizations is None)
    if not ambient and not explicit and organizations is None:
        raise ConfigError(
            f"{where}: no account to watch (ambient is false, no list, no organizations)"
        )
    return AccountsConfig(
        ambient=ambient,
        explicit=explicit,
        organizations=organizations,
        region=region,
        roles=_roles(raw.get("roles")),
        account_checks=_bool(f"{where}.account_checks", raw.get("account_checks"), True),
    )


def _explicit(raw: Any, default_region: str | None) -> tuple[AccountSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("accounts.list: must be a list of accounts")
    seen: dict[str, str] = {}
    out = []
    for i, item in enumerate(raw):
        where = f"accounts.list[{i}]"
        spec = _account(where, item, default_region)
        if spec.key in seen:
            raise ConfigError(
                f"{where}.account_id: {spec.key} is already listed at {seen[spec.key]}"
            )
        seen[spec.key] = where
        out.append(spec)
    return tuple(out)


def _account(where: str, raw: Any, default_region: str | None) -> AccountSpec:
    _mapping(raw, where)
    _known(raw, where, ("account_id", "name", "role_arn", "external_id", "session_name", "region"))
    account_id = _account_id(f"{where}.account_id", raw.get("account_id"))
    region = _region(f"{where}.region", raw.get("region")) or default_region
    role_arn = raw.get("role_arn")
    if role_arn is None:
        raise ConfigError(f"{where}.role_arn: required (the role to assume in {account_id})")
    _role_arn(f"{where}.role_arn", role_arn, region, account_id)
    name = raw.get("name", account_id)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: must be a non-empty string")
    return AccountSpec(
        key=account_id,
        name=name.strip(),
        account_id=account_id,
        role_arn=role_arn,
        external_id=_external_id(f"{where}.external_id", raw.get("external_id")),
        session_name=_session_name(f"{where}.session_name", raw.get("session_name")),
        region=region,
    )


def _organizations(raw: Any, default_region: str | None) -> OrganizationsSpec:
    where = "accounts.organizations"
    _mapping(raw, where)
    _known(raw, where, ("role_arn_template", "region", "external_id", "session_name",
                        "management_role_arn", "include", "exclude"))  # fmt: skip
    region = _region(f"{where}.region", raw.get("region")) or default_region
    template = raw.get("role_arn_template", DEFAULT_ROLE_TEMPLATE)
    _template(f"{where}.role_arn_template", template, region)
    management = raw.get("management_role_arn")
    if management is not None:
        _role_arn(f"{where}.management_role_arn", management, region, None)
    inc_accounts, inc_ous = _filter(f"{where}.include", raw.get("include"))
    exc_accounts, exc_ous = _filter(f"{where}.exclude", raw.get("exclude"))
    return OrganizationsSpec(
        role_arn_template=template,
        region=region,
        external_id=_external_id(f"{where}.external_id", raw.get("external_id")),
        session_name=_session_name(f"{where}.session_name", raw.get("session_name")),
        management_role_arn=management,
        include_accounts=inc_accounts,
        exclude_accounts=exc_accounts,
        include_ous=inc_ous,
        exclude_ous=exc_ous,
    )


def _filter(where: str, raw: Any) -> tuple[frozenset[str], frozenset[str]]:
    if raw is None:
        return frozenset(), frozenset()
    _mapping(raw, where)
    _known(raw, where, ("accounts", "ous"))
    accounts = _list(f"{where}.accounts", raw.get("accounts"))
    ous = _list(f"{where}.ous", raw.get("ous"))
    for i, a in enumerate(accounts):
        _account_id(f"{where}.accounts[{i}]", a)
    for i, ou in enumerate(ous):
        if not isinstance(ou, str) or not _OU_ID.match(ou):
            raise ConfigError(
                f"{where}.ous[{i}]: not an OU or root id: {excerpt(ou)} "
                "(e.g. ou-ab12-cdef3456, r-ab12)"
            )
    return frozenset(accounts), frozenset(ous)


def _roles(raw: Any) -> RoleAudit:
    where = "accounts.roles"
    if raw is None:
        return RoleAudit()
    _mapping(raw, where)
    _known(raw, where, ("enabled", "exclude_paths"))
    paths = _list(f"{where}.exclude_paths", raw.get("exclude_paths", [SERVICE_LINKED_PATH]))
    for i, p in enumerate(paths):
        if not isinstance(p, str) or not p.startswith("/") or not p.endswith("/"):
            raise ConfigError(f"{where}.exclude_paths[{i}]: a path such as /aws-service-role/")
    return RoleAudit(_bool(f"{where}.enabled", raw.get("enabled"), True), tuple(paths))


def _template(where: str, template: Any, region: str | None) -> None:
    if not isinstance(template, str):
        raise ConfigError(f"{where}: must be a string such as {DEFAULT_ROLE_TEMPLATE}")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as err:
        raise ConfigError(f"{where}: not a valid template ({err})") from None
    unknown = fields - _TEMPLATE_FIELDS
    if unknown:
        raise ConfigError(
            f"{where}: unknown placeholder(s) {', '.join(sorted(unknown))} "
            f"(allowed: {', '.join(sorted(_TEMPLATE_FIELDS))})"
        )
    if "account_id" not in fields:
        raise ConfigError(f"{where}: must contain {{account_id}}")
    sample = template.format(
        partition=partition_for_region(region), account_id="123456789012", account_name="name"
    )
    _role_arn(where, sample, region, "123456789012")


def _role_arn(where: str, arn: Any, region: str | None, account_id: str | None) -> None:
    m = _ROLE_ARN.match(arn) if isinstance(arn, str) else None
    if m is None:
        raise ConfigError(
            f"{where}: not an IAM role ARN: {excerpt(arn)} "
            "(e.g. arn:aws:iam::123456789012:role/NAME)"
        )
    if m["partition"] not in PARTITIONS:
        raise ConfigError(f"{where}: unknown partition {excerpt(m['partition'])}")
    expected = partition_for_region(region)
    if m["partition"] != expected:
        raise ConfigError(
            f"{where}: the role is in partition {m['partition']} but region "
            f"{region or '(default)'} is in {expected}; set a region of that partition"
        )
    if account_id is not None and m["account"] != account_id:
        raise ConfigError(f"{where}: the role is in account {m['account']}, not {account_id}")


def _account_id(where: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        raise ConfigError(
            f"{where}: quote the account id ('{value:012d}'): YAML reads unquoted numbers "
            "as integers and drops leading zeros"
        )
    if not isinstance(value, str) or not _ACCOUNT_ID.match(value):
        raise ConfigError(f"{where}: must be a 12-digit account id, got {excerpt(value)}")
    return value


def _region(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _REGION.match(value):
        raise ConfigError(
            f"{where}: not a region name: {excerpt(value)} (e.g. us-east-1, cn-north-1)"
        )
    return value


def _session_name(where: str, value: Any) -> str:
    if value is None:
        return DEFAULT_SESSION_NAME
    if not isinstance(value, str) or not _SESSION_NAME.match(value):
        raise ConfigError(f"{where}: 2-64 characters of letters, digits and +=,.@_-")
    return value


def _external_id(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _EXTERNAL_ID.match(value):
        raise ConfigError(f"{where}: 2-1224 characters of letters, digits and +=,.@:/_-")
    return value


def _bool(where: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, got {excerpt(value)}")
    return value


def _list(where: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list")
    return value


def _known(raw: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key_name(key)}: unknown setting (allowed: {', '.join(allowed)})"
            )


def _mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {type(value).__name__}")
