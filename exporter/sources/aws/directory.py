"""The configured accounts, resolved to sources: ambient, explicit and discovered.

``AccountDirectory.refresh()`` runs Organizations discovery (when configured),
keeps the last good list when discovery fails, applies this replica's shard and
returns the accounts it owns. Sources are cached per account, so credentials and
clients live across refreshes.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

import boto3
import botocore.session

from exporter.config import Config
from exporter.config.accounts import AccountsConfig, AccountSpec, merge_targets
from exporter.core.sharding import Shard
from exporter.sources.aws.account_source import AwsAccountSource
from exporter.sources.aws.assume_role import ClientCreator, assume_role_session, ensure_credentials
from exporter.sources.aws.clients import ClientSettings, make_client
from exporter.sources.aws.errors import classify
from exporter.sources.aws.org_features import (
    OrgRootManagement,
    management_account,
    root_credentials_management,
)
from exporter.sources.aws.organizations import active_accounts, discover_accounts
from exporter.sources.base import FetchedReport, ReportSource, SourceError

log = logging.getLogger("exporter.accounts")


class Directory(NamedTuple):
    accounts: tuple[AccountSpec, ...]  # every configured account, all shards
    owned: tuple[AccountSpec, ...]  # the ones this replica refreshes
    discovery_error: SourceError | None = None  # the last discovery failed (list kept)


class AccountDirectory:
    def __init__(
        self,
        cfg: AccountsConfig,
        shard: Shard | None = None,
        base: botocore.session.Session | None = None,
        org_client: Any = None,
        sts_client_creator: Callable[[AccountSpec], ClientCreator | None] | None = None,
        settings: ClientSettings | None = None,
        org_iam_client: Any = None,
        central_root: bool = True,
        user_tags: bool = False,
    ) -> None:
        """``central_root``: read whether Organizations manages the members' root
        credentials (``iam:ListOrganizationsFeatures``) at each discovery.
        ``user_tags``: each account also reads its users' tags (owner tags configured)."""
        self.cfg = cfg
        self.settings = settings or ClientSettings()
        self.shard = shard or Shard()
        self._base = base or botocore.session.Session()
        self._org_client = org_client
        self._org_iam_client = org_iam_client
        self._management_session: boto3.session.Session | None = None
        self.central_root = central_root
        self.user_tags = user_tags
        self.root_management: OrgRootManagement | None = None  # last good read
        self._sts_for = sts_client_creator or (lambda spec: None)
        self._discovered: list[AccountSpec] | None = None  # last good discovery
        self._sources: dict[AccountSpec, AwsAccountSource] = {}
        self._lock = threading.Lock()
        self.discovery_attempts = 0
        self.discovery_failures = 0
        self.discovery_errors: Counter[str] = Counter()  # by reason

    def refresh(self) -> Directory:
        error = self._discover() if self.cfg.organizations else None
        accounts = merge_targets(self.cfg, self._discovered or [])
        return Directory(tuple(accounts), tuple(self.shard.select(accounts)), error)

    def source(self, spec: AccountSpec) -> AwsAccountSource:
        with self._lock:
            src = self._sources.get(spec)
            if src is None:
                src = AwsAccountSource(
                    spec,
                    self._base,
                    self.settings,
                    self.cfg.roles,
                    self.cfg.account_checks,
                    self._sts_for(spec),
                    self.root_status,
                    user_tags=self.user_tags,
                )
                self._sources[spec] = src
            return src

    def _discover(self) -> SourceError | None:
        self.discovery_attempts += 1
        try:
            org = self._org()
            listed = active_accounts(org)
            self._discovered = discover_accounts(org, self.cfg.organizations, listed)  # type: ignore[arg-type]
        except Exception as err:
            self.discovery_failures += 1
            failure = classify(err)
            self.discovery_errors[failure.reason] += 1
            kept = "none yet" if self._discovered is None else len(self._discovered)
            log.warning("account discovery failed (%s), keeping the last good list (%s): %s",
                        failure.reason, kept, failure)  # fmt: skip
            return SourceError(failure.reason, f"Organizations discovery failed: {failure}")
        if self.central_root:
            self._read_root_management(listed)
        return None

    def root_status(self, account_id: str) -> bool | None:
        """Whether Organizations manages ``account_id``'s root (``AccountFacts``)."""
        known = self.root_management
        return None if known is None else known.status(account_id)

    def _read_root_management(self, listed: list[dict[str, Any]]) -> None:
        # A failure keeps the last good answer: without one, root checks run as usual.
        try:
            enabled = root_credentials_management(self._org_iam())
        except Exception as err:
            failure = classify(err)
            log.warning("cannot read the organisation's root credentials management (%s), "
                        "root checks run as usual where it was never read: %s",
                        failure.reason, failure)  # fmt: skip
            return
        members = frozenset(str(a["Id"]) for a in listed)
        self.root_management = OrgRootManagement(enabled, management_account(listed), members)

    def _org(self) -> Any:
        if self._org_client is None:
            org = self.cfg.organizations
            assert org is not None
            settings = replace(self.settings, region=org.region)
            self._org_client = make_client("organizations", self._management(), settings)
        return self._org_client

    def _org_iam(self) -> Any:
        if self._org_iam_client is None:
            org = self.cfg.organizations
            assert org is not None
            settings = replace(self.settings, region=org.region)
            self._org_iam_client = make_client("iam", self._management(), settings)
        return self._org_iam_client

    def _management(self) -> boto3.session.Session:
        """The session of the management (or delegated-admin) account, made once."""
        if self._management_session is None:
            org = self.cfg.organizations
            assert org is not None
            settings = replace(self.settings, region=org.region)
            session = boto3.session.Session(botocore_session=self._base, region_name=org.region)
            if org.management_role_arn:
                session = assume_role_session(
                    org.management_role_arn, self._base, settings, org.session_name,
                    org.external_id,
                )  # fmt: skip
                ensure_credentials(session, org.management_role_arn)
            self._management_session = session
        return self._management_session


class _Failed:
    """Stands for a step that failed before any account could be reached."""

    def __init__(self, error: SourceError) -> None:
        self.error = error

    def fetch(self) -> FetchedReport:
        raise self.error


def label(spec: AccountSpec) -> str:
    if spec.account_id is None:
        return "ambient account"
    return spec.account_id if spec.name == spec.account_id else f"{spec.name} ({spec.account_id})"


def account_sources(config: Config, shard: Shard | None = None) -> list[tuple[str, ReportSource]]:
    """(label, source) of every configured account this shard owns, for ``audit``.
    A failed discovery appears as one failing source, so it is listed with the rest."""
    directory = AccountDirectory(
        config.accounts,
        shard,
        settings=ClientSettings.from_settings(config.settings),
        central_root=config.settings.organizations_central_root,
        user_tags=bool(config.settings.labels_owner_tag),
    )
    resolved = directory.refresh()
    out: list[tuple[str, ReportSource]] = [
        (label(spec), directory.source(spec)) for spec in resolved.owned
    ]
    if resolved.discovery_error is not None:
        out.append(("organizations discovery", _Failed(resolved.discovery_error)))
    return out
