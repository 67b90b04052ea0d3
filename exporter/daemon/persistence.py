"""The daemon side of ``--state.dir``: save each good report, restore them at start.

After every successful refresh of an account its raw report is written to the
``StateStore``. At start-up the saved reports are evaluated against the current
time and installed as the first snapshot, so ``/metrics`` and ``/-/ready`` answer
before AWS does, and the first refresh is diffed against the report seen before
the restart instead of an empty one (no flood of ``user_created``).

A restored account shows no ``aws_iam_exporter_refresh_success`` until its first
refresh in this process ends; ``aws_iam_exporter_last_refresh_success_timestamp_seconds``
keeps the time of the saved refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from exporter.config import Config
from exporter.core.analyse import analyse
from exporter.core.report import ReportFormatError
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.refresh import AccountTarget
from exporter.daemon.snapshot import AccountState, Snapshot
from exporter.daemon.state_store import PRUNE_AFTER_SECONDS, SavedReport, StateError, StateStore
from exporter.daemon.stored import compress, store
from exporter.sources.base import AccountDetails, AccountDetailsSource, FetchedReport, ReportSource

log = logging.getLogger("exporter.state")

Targets = Callable[[], Sequence[AccountTarget]]


class RecordingSource:
    """Passes ``fetch()`` through and keeps the last raw report for saving.

    Other attributes are forwarded, so code that asks the source for more
    (account facts, roles) still finds them.
    """

    def __init__(self, inner: ReportSource) -> None:
        self.inner = inner
        self.last: FetchedReport | None = None

    def fetch(self) -> FetchedReport:
        self.last = None
        fetched = self.inner.fetch()
        self.last = fetched
        return fetched

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingDetailsSource(RecordingSource):
    """For sources that also fetch account details. Spelled out, not forwarded: from
    Python 3.12 ``isinstance`` against a runtime-checkable Protocol such as
    ``AccountDetailsSource`` ignores ``__getattr__``."""

    def fetch_details(self) -> AccountDetails:
        details: AccountDetails = self.inner.fetch_details()  # type: ignore[attr-defined]
        return details


def recording(source: ReportSource) -> RecordingSource:
    if isinstance(source, AccountDetailsSource):
        return RecordingDetailsSource(source)
    return RecordingSource(source)


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
        self._recorders: dict[str, RecordingSource] = {}

    def wrap(self, targets: Targets) -> Targets:
        """The same targets, their sources recording what they fetch."""

        def wrapped() -> list[AccountTarget]:
            return [t._replace(source=self._recorder(t)) for t in targets()]

        return wrapped

    def _recorder(self, target: AccountTarget) -> RecordingSource:
        # One recorder per source object, so the same one is reused on every refresh.
        recorder = self._recorders.get(target.identity)
        if recorder is None or recorder.inner is not target.source:
            recorder = self._recorders[target.identity] = recording(target.source)
        return recorder

    def save(self, target: AccountTarget, state: AccountState, now: datetime) -> AccountState:
        """A state hook: after a successful refresh, write the report to disk."""
        source = target.source
        if not state.success or not isinstance(source, RecordingSource) or source.last is None:
            return state
        saved = SavedReport(
            key=target.identity,
            content=source.last.content,
            generated_time=source.last.generated_time,
            fetched_at=state.last_success or now,
            account_id=state.account_id,
            name=state.name,
        )
        try:
            self.store.save_report(saved)
        except StateError as err:
            log.error("state not saved (the exporter keeps running): %s", err)
        source.last = None  # written: do not hold every account's raw report until the next fetch
        return state

    def prune(self, snapshot: Snapshot) -> None:
        """An on_snapshot hook: forget the saved reports of accounts no longer refreshed
        (after ``prune_after`` seconds without an update)."""
        if snapshot.generation == 0:
            return  # the restored snapshot itself: nothing has been refreshed yet
        keep = {state.key for state in snapshot.accounts}
        for path in self.store.prune(keep, self.prune_after):
            log.info("removed the state of an account no longer watched: %s", path.name)

    def restore(self, now: datetime) -> Snapshot | None:
        """The snapshot rebuilt from the saved reports, or None when there are none."""
        states = []
        for saved in self.store.load_all().values():
            try:
                analysis = analyse(
                    FetchedReport(saved.content, saved.generated_time), self.config, now
                )
            except ReportFormatError as err:
                log.warning("ignoring saved report of %s: %s", saved.key, err)
                continue
            states.append(
                AccountState(
                    key=saved.key,
                    account_id=saved.account_id or analysis.report.account_id or saved.key,
                    name=saved.name or saved.key,
                    # Kept small, as the refresh keeps it (exporter/daemon/stored.py).
                    analysis=store(analysis, compress(saved.content), analysis, self.config, now),
                    evaluated_at=now,
                    last_success=saved.fetched_at,
                )
            )
        if not states:
            return None
        log.info("restored %d account(s) from %s", len(states), self.store.directory)
        accounts = tuple(sorted(states, key=lambda s: s.key))
        return Snapshot(accounts, now, 0, render(accounts, self.config, self.options))
