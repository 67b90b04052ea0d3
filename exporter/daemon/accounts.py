"""Many accounts in the daemon: targets, role and account checks, shard metrics.

* ``AccountsWiring.targets`` is the daemon's target list: the ``accounts:`` section
  resolved by ``AccountDirectory`` (Organizations discovery re-run on each refresh,
  the last good list kept when it fails), filtered to this replica's shard.
* ``state_hook`` runs in the refresh worker after an account's report: it fetches
  roles and account facts (when the report succeeded), evaluates ``role_unused`` and
  ``root_hardware_mfa_missing``, and merges their findings into the account's
  evaluation, so ``aws_iam_findings``, exemptions and the landing page count them.
  When the account fails, its last good roles and facts are re-evaluated instead.
* ``header`` is the landing page's line on shard ownership and discovery.
* ``collector`` adds the metrics below to each rendering.

Per-role detail is ``aws_iam_role_finding{account_id,check,severity,role}`` (value 1):
a separate family, so ``aws_iam_finding`` keeps its user/key labels unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.config import Config
from exporter.config.accounts import AccountsConfig
from exporter.config.settings import Settings
from exporter.core.analyse import Analysis
from exporter.core.central_root import apply_central_root, withhold
from exporter.core.checks.services import unknown_services
from exporter.core.evaluate import evaluate_details, merge
from exporter.core.findings import role_name
from exporter.core.owners import NO_OWNER, owner_of, owners_of_users
from exporter.core.records import RoleRecord
from exporter.core.sharding import Shard
from exporter.daemon.exposition import with_zeros
from exporter.daemon.owner_metrics import findings_by_owner
from exporter.daemon.refresh import AccountTarget
from exporter.daemon.snapshot import AccountState, DetailsState
from exporter.daemon.stored import summary_of
from exporter.sources.base import REASONS, AccountDetails, AccountDetailsSource

# What an IAM or Organizations call can fail with: the reasons the detail and discovery
# counters start at 0 with. The others are the credential report's own (or a file's, or
# the daemon's); one of them would still be counted, from 1.
CALL_REASONS = tuple(
    r for r in REASONS
    if r not in {"report_in_progress", "report_expired", "report_not_present", "invalid_report",
                 "incomplete_report", "file_error", "duplicate_account"}
)  # fmt: skip


class AccountsWiring:
    def __init__(
        self,
        config: Config,
        fixed: Sequence[AccountTarget] = (),
        directory: Any = None,
    ) -> None:
        """``fixed``: targets of --demo / --report-file (no directory, no sharding);
        otherwise the accounts come from the config's ``accounts:`` section."""
        self.config = config
        self.accounts: AccountsConfig = config.accounts
        flags = config.settings
        self.shard = Shard(flags.shard_index, flags.shard_count)
        self.finding_series = flags.metrics_finding_series
        self.series_limit = flags.metrics_finding_series_limit
        self.owner_tags = flags.labels_owner_tag
        self._fixed = list(fixed)
        self.directory = None if fixed else (directory or self._directory(flags))
        # IAM Access Advisor (access_advisor.py), when enabled: fed here, run on its own.
        self.advisor: Any = None
        self.configured = len(self._fixed)
        self.discovery_error: str | None = None
        # The accounts whose roles and account facts are fetched, and the parts fetched:
        # every AWS account; of the fixed targets, those whose source can (the demo).
        self.detail_parts = tuple(
            part
            for part, on in (("roles", self.accounts.roles.enabled),
                             ("account", self.accounts.account_checks),
                             ("users", bool(flags.labels_owner_tag)))
            if on
        )  # fmt: skip
        self._fixed_with_details = {
            t.account_id for t in self._fixed if isinstance(t.source, AccountDetailsSource)
        }

    def _directory(self, flags: Settings) -> Any:
        from exporter.sources.aws.clients import ClientSettings
        from exporter.sources.aws.directory import AccountDirectory

        settings = ClientSettings.from_settings(flags)
        return AccountDirectory(
            self.accounts, self.shard, settings=settings,
            central_root=flags.organizations_central_root,
            user_tags=bool(flags.labels_owner_tag),
        )  # fmt: skip

    # -- the daemon's target list ---------------------------------------------------------

    def targets(self) -> list[AccountTarget]:
        if self.directory is None:
            return list(self._fixed)
        resolved = self.directory.refresh()
        self.configured = len(resolved.accounts)
        self.discovery_error = resolved.discovery_error and resolved.discovery_error.reason
        return [
            AccountTarget(spec.account_id or "", spec.name, self.directory.source(spec))
            for spec in resolved.owned
        ]

    def fetches_details(self, account_id: str) -> bool:
        return self.directory is not None or account_id in self._fixed_with_details

    # -- after each account's refresh -----------------------------------------------------

    def state_hook(self, target: AccountTarget, state: AccountState, now: datetime) -> AccountState:
        details = state.details
        source = target.source
        if state.success and isinstance(source, AccountDetailsSource):
            details = _updated(details, source.fetch_details(), self.owner_tags)
        throttled = getattr(source, "throttled_total", None)
        if isinstance(throttled, int):
            details = replace(details, throttled_total=throttled)
        analysis = state.analysis
        roles = details.roles
        if self.advisor is not None and roles is not None:
            self.advisor.observe(state.account_id, source, roles)
            roles = self.advisor.attach(state.account_id, roles)
        if analysis is not None:
            found = evaluate_details(state.account_id, roles, details.facts, self.config, now)
            found = withhold(found, unknown_services(roles, self.config.enabled_checks))
            # Checks whose roles or facts were never fetched are in found.not_evaluated:
            # the exposition leaves them out instead of exporting a clean 0.
            merged = merge(analysis.evaluation, found)
            managed: bool | None = None
            if self.config.settings.organizations_central_root:
                merged, managed = apply_central_root(
                    merged, details.facts, analysis.report, self.config.enabled_checks
                )
            details = replace(details, root_centrally_managed=managed)
            analysis = Analysis(analysis.report, merged)
        return replace(state, analysis=analysis, details=details)

    def header(self) -> str:
        if self.directory is None:
            return ""
        n = self.configured
        configured = f"{n} account{'' if n == 1 else 's'} configured"
        # One replica owns everything: shards are not worth a word then.
        if self.shard.count == 1:
            text = f"{configured}."
        else:
            text = f"This replica owns shard {self.shard.label}: {configured} in all."
        if self.directory.cfg.organizations is not None:
            text += (
                f" Organizations discovery failed ({self.discovery_error}); "
                "keeping the last good account list."
                if self.discovery_error
                else " Organizations discovery succeeded."
            )
        return text

    # -- metrics, rendered once per refresh --------------------------------------------------

    def collector(self, accounts: Sequence[AccountState]) -> Collector:
        return _AccountsCollector(self, accounts)


class _AccountsCollector(Collector):
    def __init__(self, wiring: AccountsWiring, accounts: Sequence[AccountState]) -> None:
        self.wiring = wiring
        self.accounts = accounts

    def collect(self) -> Iterator[Metric]:
        yield from self._roles()
        if self.wiring.owner_tags:
            yield findings_by_owner(self.accounts, self.wiring.owner_tags)
        yield self._central_root()
        yield from self._health()
        yield from self._shard()

    def _roles(self) -> Iterator[Metric]:
        roles = _gauge("aws_iam_roles", "IAM roles in the account (service-linked included).")
        owner_tags = self.wiring.owner_tags
        series = _gauge(
            "aws_iam_role_finding",
            "One series per role finding (value 1), for drill-down.",
            ["account_id", "check", "severity", "role", *(["owner"] if owner_tags else [])],
        )
        dropped = _gauge(
            "aws_iam_role_finding_series_dropped",
            "Role findings left out of aws_iam_role_finding by the series limit.",
        )
        kept = 0
        for state in self.accounts:
            if state.details.roles is not None:
                roles.add_metric([state.account_id], len(state.details.roles))
            if state.analysis is None:
                continue
            left_out = 0
            role_owners = _role_owners(state.details.roles, owner_tags)
            for f in summary_of(state.analysis).role_findings:  # scope "role"
                if kept >= self.wiring.series_limit:
                    left_out += 1
                    continue
                labels = [state.account_id, f.check, f.severity, role_name(f)]
                if owner_tags:
                    labels.append(role_owners.get(role_name(f), NO_OWNER))
                series.add_metric(labels, 1)
                kept += 1
            dropped.add_metric([state.account_id], left_out)
        yield roles
        if self.wiring.finding_series:
            yield from (series, dropped)

    def _central_root(self) -> Metric:
        managed = _gauge(
            "aws_iam_root_credentials_centrally_managed",
            "1 when AWS Organizations manages the account's root credentials and root holds "
            "none: root_mfa_disabled and root_hardware_mfa_missing do not apply; 0 when it "
            "does not. Absent when it cannot be told.",
        )
        for state in self.accounts:
            known = state.details.root_centrally_managed
            if known is not None:
                managed.add_metric([state.account_id], 1.0 if known else 0.0)
        return managed

    def _health(self) -> Iterator[Metric]:
        details = CounterMetricFamily(
            "aws_iam_exporter_detail_errors",
            "Failed role (part=roles), account-summary (part=account) or user-tag "
            "(part=users, with --labels.owner-tag) fetches, by reason; the credential "
            "report of the account may still be fine.",
            labels=["account_id", "part", "reason"],
        )
        throttled = CounterMetricFamily(
            "aws_iam_exporter_aws_throttled_responses",
            "Throttled AWS responses (retried by botocore's standard retry mode).",
            labels=["account_id"],
        )
        for state in self.accounts:
            known = (
                [(part, reason) for part in self.wiring.detail_parts for reason in CALL_REASONS]
                if self.wiring.fetches_details(state.account_id)
                else []
            )
            for (part, reason), count in with_zeros(state.details.detail_errors_total, known):
                details.add_metric([state.account_id, part, reason], count)
            throttled.add_metric([state.account_id], state.details.throttled_total)
        yield from (details, throttled)
        directory = self.wiring.directory
        if directory is None or directory.cfg.organizations is None:
            return
        ok = _gauge("aws_iam_exporter_discovery_success",
                    "1 if the last Organizations discovery succeeded, else 0.", [])  # fmt: skip
        ok.add_metric([], 0.0 if self.wiring.discovery_error else 1.0)
        errors = CounterMetricFamily(
            "aws_iam_exporter_discovery_errors",
            "Failed Organizations discoveries, by reason (the last good list is kept).",
            labels=["reason"],
        )
        for reason, count in with_zeros(directory.discovery_errors, CALL_REASONS):
            errors.add_metric([reason], count)
        yield from (ok, errors)

    def _shard(self) -> Iterator[Metric]:
        label = self.wiring.shard.label
        owned = _gauge(
            "aws_iam_exporter_account_owned",
            "1 for each account this replica owns (refreshes and exports).",
            ["account_id", "shard"],
        )
        for state in self.accounts:
            owned.add_metric([state.account_id, label], 1)
        count = _gauge(
            "aws_iam_exporter_shard_accounts",
            "Accounts owned by this replica's shard (index/count).",
            ["shard"],
        )
        count.add_metric([label], len(self.accounts))
        configured = _gauge(
            "aws_iam_exporter_configured_accounts",
            "Accounts configured or discovered, across every shard.",
            [],
        )
        configured.add_metric([], self.wiring.configured)
        yield from (owned, count, configured)


def _updated(
    details: DetailsState, fetched: AccountDetails, owner_tags: tuple[str, ...] = ()
) -> DetailsState:
    errors = Counter(details.detail_errors_total)
    for part, reason, _ in fetched.errors:
        errors[(part, reason)] += 1
    owners = details.owners
    if owner_tags and fetched.users is not None:
        owners = MappingProxyType(dict(owners_of_users(fetched.users, owner_tags)))
    return replace(
        details,
        owners=owners,
        # A part that failed keeps its last good value, like the report does.
        roles=details.roles if fetched.roles is None else fetched.roles,
        facts=details.facts if fetched.facts is None else fetched.facts,
        detail_errors_total=MappingProxyType(dict(errors)),
        last_detail_errors=fetched.errors,
    )


def _role_owners(roles: Sequence[RoleRecord] | None, owner_tags: tuple[str, ...]) -> dict[str, str]:
    """Role name -> owner, from the roles' own tags (read with the roles)."""
    if not owner_tags or roles is None:
        return {}
    return {r.name: owner_of(r.tags, owner_tags) for r in roles}


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=["account_id"] if labels is None else labels)
