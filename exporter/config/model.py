"""The YAML configuration: checks, exemptions, account sources and flag defaults.

``config_from_dict`` is pure and does all validation; every error names the
offending key, e.g. ``checks.password_unused.max_idle_days``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from exporter.config.accounts import AccountsConfig, parse_accounts
from exporter.config.errors import ConfigError, excerpt, key_name
from exporter.config.flags import settings_from_file
from exporter.config.safe_yaml import YAMLSyntaxError, load_yaml
from exporter.config.settings import Settings
from exporter.config.suggest import unknown_check
from exporter.core.checks import CHECKS
from exporter.core.exemptions import Exemption
from exporter.core.findings import SEVERITIES
from exporter.core.policy import CheckConfig, Policy, default_checks

TOP_LEVEL_KEYS = ("flags", "checks", "exemptions", "accounts")
USER_KINDS = ("human", "programmatic")
# A century: beyond it a threshold means "never", and dates would leave datetime's range.
MAX_DAYS = 36_500
# 2 MiB holds some 13,000 explicit accounts; the YAML parser takes about 4 s for it.
MAX_FILE_BYTES = 2 << 20


@dataclass(frozen=True)
class Config(Policy):
    """The whole validated configuration: the evaluation policy plus where to look."""

    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    settings: Settings = field(default_factory=Settings)
    # The `id` of each entry of `exemptions`, in the same order: what metrics, logs and
    # the landing page call it. Entries without one (or built in code) are `exemptions[N]`.
    exemption_ids: tuple[str, ...] = ()

    def named_exemptions(self) -> tuple[tuple[str, Exemption], ...]:
        """``(id, exemption)`` of every exemption, in the configuration's order."""
        ids = self.exemption_ids
        return tuple(
            (ids[i] if i < len(ids) else default_exemption_id(i), e)
            for i, e in enumerate(self.exemptions)
        )


def load_config(path: str | Path | None) -> Config:
    if path is None:
        return Config()
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # no more than that is ever read
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    try:
        data = load_yaml(text)
    except YAMLSyntaxError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from None
    return config_from_dict(data, source=str(path))


def config_from_dict(data: Any, source: str = "config") -> Config:
    if data is None:
        data = {}
    _require_mapping(data, source)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"{source}: unknown key {excerpt(key)} "
                f"(expected one of: {', '.join(TOP_LEVEL_KEYS)})"
            )
    flags = _or_default(data.get("flags"), {})
    _require_mapping(flags, "flags")
    settings = settings_from_file(flags)
    accounts = parse_accounts(data.get("accounts"))
    named = _exemptions(_or_default(data.get("exemptions"), []))
    return Config(
        checks=_checks(_or_default(data.get("checks"), {})),
        exemptions=tuple(e for _, e in named),
        exemption_ids=tuple(i for i, _ in named),
        settings=settings,
        accounts=accounts,
        roles=accounts.roles,
    )


def _checks(raw: Any) -> dict[str, CheckConfig]:
    _require_mapping(raw, "checks")
    checks = default_checks()
    for cid, body in raw.items():
        where = f"checks.{key_name(cid)}"
        if cid not in CHECKS:
            raise ConfigError(f"{where}: {unknown_check(cid, CHECKS)}")
        checks[cid] = _check(where, CHECKS[cid].thresholds, checks[cid], _or_default(body, {}))
    return checks


def _check(where: str, known: Mapping[str, int], base: CheckConfig, body: Any) -> CheckConfig:
    _require_mapping(body, where)
    allowed = ("enabled", "severity", *known, *(USER_KINDS if known else ()))
    for key in body:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key_name(key)}: unknown setting (allowed: {', '.join(allowed)})"
            )
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled: must be true or false, got {excerpt(enabled)}")
    severity = body.get("severity", base.severity)
    if severity not in SEVERITIES:
        raise ConfigError(
            f"{where}.severity: must be one of {', '.join(SEVERITIES)}, got {excerpt(severity)}"
        )
    common = {**known, **_thresholds(where, known, {k: body[k] for k in known if k in body})}
    per_kind = {
        kind: {**common, **_thresholds(f"{where}.{kind}", known, _or_default(body.get(kind), {}))}
        for kind in USER_KINDS
    }
    return CheckConfig(enabled, severity, per_kind["human"], per_kind["programmatic"])


def _thresholds(where: str, known: Mapping[str, int], raw: Any) -> dict[str, int]:
    _require_mapping(raw, where)
    out = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(
                f"{where}.{key_name(key)}: unknown threshold (known: {', '.join(known)})"
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
            raise ConfigError(
                f"{where}.{key}: must be a whole number of days from 0 to {MAX_DAYS}, "
                f"got {excerpt(value)}"
            )
        out[key] = value
    return out


def default_exemption_id(index: int) -> str:
    return f"exemptions[{index}]"


def _exemptions(raw: Any) -> tuple[tuple[str, Exemption], ...]:
    if not isinstance(raw, list):
        raise ConfigError("exemptions: must be a list")
    named = tuple(
        (_exemption_id(default_exemption_id(i), e), _exemption(default_exemption_id(i), e))
        for i, e in enumerate(raw)
    )
    seen: dict[str, int] = {}
    for i, (ident, _) in enumerate(named):
        if ident in seen:
            raise ConfigError(
                f"{default_exemption_id(i)}.id: {excerpt(ident)} is already the id of "
                f"{default_exemption_id(seen[ident])} (ids name one exemption each)"
            )
        seen[ident] = i
    return named


def _exemption_id(where: str, raw: Any) -> str:
    """The entry's ``id``; without one, its place in the list."""
    if not isinstance(raw, Mapping) or "id" not in raw:
        return where
    ident = raw["id"]
    if not isinstance(ident, str) or not ident.strip():
        raise ConfigError(f"{where}.id: must be a non-empty string, got {excerpt(ident)}")
    return ident.strip()


def _exemption(where: str, raw: Any) -> Exemption:
    _require_mapping(raw, where)
    allowed = ("id", "user", "arn", "checks", "reason", "expires")
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key_name(key)}: unknown setting (allowed: {', '.join(allowed)})"
            )
    if ("user" in raw) == ("arn" in raw):
        raise ConfigError(f"{where}: give exactly one of 'user' or 'arn' (a glob pattern)")
    kind = "user" if "user" in raw else "arn"
    pattern = raw[kind]
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(
            f"{where}.{kind}: must be a non-empty glob pattern, got {excerpt(pattern)}"
        )
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}.reason: required, a non-empty string")
    checks = raw.get("checks")
    if checks is not None:
        if not isinstance(checks, list) or not checks:
            raise ConfigError(f"{where}.checks: must be a non-empty list of check ids")
        for cid in checks:
            if not isinstance(cid, str) or cid not in CHECKS:
                raise ConfigError(f"{where}.checks: {unknown_check(cid, CHECKS)}")
    return Exemption(
        pattern=pattern,
        by_arn="arn" in raw,
        checks=frozenset(checks) if checks else None,
        reason=reason.strip(),
        expires=_date(f"{where}.expires", raw.get("expires")),
    )


def _date(where: str, value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: must be a date such as 2027-01-31, got {excerpt(value)}")


def _or_default(value: Any, default: Any) -> Any:
    """An empty YAML key (``checks:``) means the default; ``0`` or ``[]`` do not."""
    return default if value is None else value


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {type(value).__name__}")
