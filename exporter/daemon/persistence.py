"""The daemon side of ``--state.dir``: save each good report, restore them at start.

After every successful refresh of an account the refresher hands its raw report to
``save``, which writes it to the ``StateStore`` under the account id. At start-up the
saved reports are evaluated against the current time and installed as the first
snapshot, so ``/metrics`` and ``/-/ready`` answer before AWS does, and the first
refresh is diffed against the report seen before the restart instead of an empty
one (no flood of ``user_created``). A source whose account is not known yet has
nothing saved: its first good read creates its file.

A restored account shows no ``aws_iam_exporter_refresh_success`` until its first
refresh in this process ends; ``aws_iam_exporter_last_refresh_success_timestamp_seconds``
keeps the time of the saved refresh.

The account facts and, with ``--labels.owner-tag``, the users' owners are saved with
the report, so that a restart shows what the last refresh did: a centrally managed
root stays so (no critical ``root_mfa_disabled`` until the first refresh), and the
series keep their ``owner`` label (no new series, no alert routed to nobody). The
role and account checks themselves wait for the first refresh, as roles are not saved.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.config import Config
from exporter.core.analyse import Analysis, analyse
from exporter.core.central_root import apply_central_root
from exporter.core.evaluate import evaluate_details, merge
from exporter.core.report import ReportFormatError
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.snapshot import AccountState, DetailsState, Snapshot, exemption_statuses
from exporter.daemon.state_details import SavedOwners
from exporter.daemon.state_store import PRUNE_AFTER_SECONDS, SavedReport, StateError, StateStore
from exporter.daemon.stored import compress, store
from exporter.sources.base import FetchedReport

log = logging.getLogger("exporter.state")

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_NO_OWNERS: Mapping[str, str] = MappingProxyType({})


class StatePersistence:
    def __init__(
        self,
        store: StateStore,
        config: Config,
        options: ExpositionOptions,
        prune_after: float = PRUNE_AFTER_SECONDS,
    ) -> None:
        self.store = store
        self.prune_after = prune_after
        self.config = config
        self.options = options
        self.owner_tags = config.settings.labels_owner_tag
        self.save_errors = 0  # exported live by SaveErrorsCollector
        self._lock = threading.Lock()

    def save(self, state: AccountState, fetched: FetchedReport) -> None:
        """A report hook: write the account's good report to disk."""
        if state.last_success is None:
            return
        saved = SavedReport(
            key=state.account_id,
            content=fetched.content,
            generated_time=fetched.generated_time,
            fetched_at=state.last_success,
            account_id=state.account_id,
            name=state.name,
            facts=state.details.facts,
            owners=SavedOwners(self.owner_tags, state.details.owners) if self.owner_tags else None,
        )
        try:
            self.store.save_report(saved)
        except StateError as err:
            with self._lock:
                self.save_errors += 1
            log.error(
                "state not saved (the exporter keeps running): %s", err,
                extra={"account_id": state.account_id},
            )  # fmt: skip

    def collector(self) -> Collector:
        return SaveErrorsCollector(self)

    def prune(self, snapshot: Snapshot) -> None:
        """An on_snapshot hook: forget the saved reports of accounts no longer refreshed
        (after ``prune_after`` seconds without an update)."""
        if snapshot.generation == 0:
            return  # the restored snapshot itself: nothing has been refreshed yet
        keep = {state.account_id for state in snapshot.accounts}
        for path in self.store.prune(keep, self.prune_after):
            log.info("removed the state of an account no longer watched: %s", path.name)

    def restore(self, now: datetime) -> Snapshot | None:
        """The snapshot rebuilt from the saved reports, or None when there are none."""
        states: dict[str, AccountState] = {}
        found = self.store.load_all().values()
        self._log_stale_owners(found)
        for saved in found:
            state = self._restored(saved, now)
            if state is None:
                continue
            other = states.get(state.account_id)
            # Files of older versions were named after their source (a report file's
            # path): one account may have two. The newer one wins.
            if other is None or _fetched(other) < saved.fetched_at:
                states[state.account_id] = state
        if not states:
            return None
        log.info("restored %d account(s) from %s", len(states), self.store.directory)
        accounts = tuple(states[a] for a in sorted(states))
        current = exemption_statuses(accounts, self.config, now)
        exposition = render(accounts, self.config, self.options, (), current)
        return Snapshot(accounts, now, 0, exposition, exemptions=current)

    def _restored(self, saved: SavedReport, now: datetime) -> AccountState | None:
        try:
            analysis = analyse(FetchedReport(saved.content, saved.generated_time), self.config, now)
        except ReportFormatError as err:
            log.warning("ignoring saved report of %s: %s", saved.key, err)
            return None
        account_id = _account_id(saved.account_id) or analysis.report.account_id
        if not account_id:
            log.warning("ignoring saved report of %s: no account id", saved.key)
            return None
        # Roles are not saved: the role and account checks are not evaluated until the
        # first refresh fetches their input, rather than read as clean.
        unknown = evaluate_details(account_id, None, None, self.config, now)
        merged = merge(analysis.evaluation, unknown)
        managed: bool | None = None
        if self.config.settings.organizations_central_root:  # as AccountsWiring.state_hook
            merged, managed = apply_central_root(
                merged, saved.facts, analysis.report, self.config.enabled_checks
            )
        final = Analysis(analysis.report, merged)
        # The facts are the last good ones: a failed first refresh re-evaluates them,
        # as after any failed refresh, instead of forgetting that root is managed.
        details = DetailsState(
            facts=saved.facts, root_centrally_managed=managed, owners=self._owners(saved)
        )
        return AccountState(
            account_id=account_id,
            name=saved.name or account_id,
            # Kept small, as the refresh keeps it (exporter/daemon/stored.py).
            analysis=store(final, compress(saved.content), analysis, self.config, now),
            evaluated_at=now,
            last_success=saved.fetched_at,
            details=details,
        )

    def _owners(self, saved: SavedReport) -> Mapping[str, str]:
        """The saved owners, if read with the owner tags configured now; else none
        (the first refresh reads them)."""
        if not self.owner_tags or saved.owners is None or saved.owners.tags != self.owner_tags:
            return _NO_OWNERS
        return saved.owners.users

    def _log_stale_owners(self, found: Iterable[SavedReport]) -> None:
        if not self.owner_tags:
            return
        saved_under = (s.owners.tags for s in found if s.owners is not None)
        stale = Counter(tags for tags in saved_under if tags != self.owner_tags)
        for tags, count in sorted(stale.items()):
            log.info(
                "owners saved under --labels.owner-tag %s not restored for %d account(s): "
                "the tags are now %s; the first refresh of each reads them",
                ",".join(tags), count, ",".join(self.owner_tags),
            )  # fmt: skip


class SaveErrorsCollector(Collector):
    """Read at scrape time: a save fails after the refresh's snapshot is published."""

    def __init__(self, persistence: StatePersistence) -> None:
        self.persistence = persistence

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "aws_iam_exporter_state_save_errors",
            "Reports that could not be saved to --state.dir (disk full, permissions...); "
            "the exporter keeps serving them from memory.",
            value=self.persistence.save_errors,
        )


def _account_id(value: str) -> str:
    return value if _ACCOUNT_ID.match(value) else ""


def _fetched(state: AccountState) -> datetime:
    assert state.last_success is not None
    return state.last_success
