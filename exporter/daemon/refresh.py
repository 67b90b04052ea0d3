"""The refresh job: every account refreshed on its own, each result published when ready.

``tick()`` (the scheduled job) lists the targets and queues one attempt per source
on the bounded ``Workers``; it returns at once. An attempt reads its source,
evaluates the report, runs the state hooks (role and account checks) and hands its
result to ``_accept``, which swaps it into the account table; the ``Publisher``
re-renders the snapshot from that table. A slow account never delays another's.

Reading runs on many threads; computing does not. Parsing, evaluating, storing and
rendering are pure Python bound by the GIL, so threads running them at once finish
no sooner in all, each finishes later (the first account of a round waited for every
other's share), and a scrape waits behind all of them for the interpreter. So they
take turns on one lock (``self._compute``), while fetches, which release the GIL,
still overlap.

An attempt still running at its deadline (``Settings.refresh_deadline``) fails with
reason ``timeout``: the account keeps its last good data and its ``refresh_success``
goes to 0; the stuck thread's eventual result is dropped, and while it runs no new
attempt starts for that source: each round counts it as timed out again.

Identity is the account id (ownership.py): a source yields the account it was
configured with, or the one its report names. A source that yields an account
another source already yields fails with ``duplicate_account``.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import NamedTuple

from exporter.config import Config
from exporter.config.flags import format_duration
from exporter.config.settings import Settings
from exporter.core.analyse import analyse
from exporter.core.report import IncompleteReportError, gc_paused, require_complete
from exporter.daemon import exemptions
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.landing import with_landing
from exporter.daemon.ownership import AccountTable
from exporter.daemon.publisher import Publisher
from exporter.daemon.snapshot import AccountState, Snapshot, exemption_statuses
from exporter.daemon.stored import StoredAnalysis, compress
from exporter.daemon.transitions import describe, failed, kept_small, succeeded
from exporter.daemon.workers import Attempt, Workers
from exporter.sources.base import FetchedReport, ReportSource, SourceError

log = logging.getLogger("exporter.refresh")

Clock = Callable[[], datetime]
STARVED_SECONDS = 30.0
_DEFAULTS = Settings()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AccountTarget(NamedTuple):
    """One source to read. ``account_id`` is empty when only the report can tell
    (a report file, the ambient credentials); ``name`` then names the source."""

    account_id: str
    name: str
    source: ReportSource

    @property
    def key(self) -> str:
        """Identifies the source across refreshes, whatever account it yields."""
        return self.account_id or self.name


# Called after each account's refresh, in the worker thread; returns the state to
# keep. Collaborators use it to attach account and role checks.
StateHook = Callable[[AccountTarget, AccountState, datetime], AccountState]
# Called with each good report once its result is accepted (persistence saves it).
ReportHook = Callable[[AccountState, FetchedReport], None]


class _Result(NamedTuple):
    account_id: str  # "" when the source's account is still unknown
    state: AccountState | None  # the account's new state; None for a pending source
    reason: str | None  # the failure's, None on success
    message: str = ""
    fetched: FetchedReport | None = None


class _Round:
    """The attempts one tick started, for the "refresh done" line once all have ended."""

    def __init__(self, keys: set[str]) -> None:
        self.left = keys
        self.accounts = len(keys)
        self.failed = 0
        self.started = time.monotonic()


class Refresher:
    """Owns the account table and the current snapshot; ``tick()`` is the scheduled job."""

    def __init__(
        self,
        targets: Callable[[], Sequence[AccountTarget]],
        config: Config,
        options: ExpositionOptions | None = None,
        now: Clock = utc_now,
        workers: int = _DEFAULTS.refresh_workers,
        hooks: Sequence[StateHook] = (),
        on_snapshot: Sequence[Callable[[Snapshot], None]] = (),
        on_report: Sequence[ReportHook] = (),
        deadline: timedelta = _DEFAULTS.refresh_deadline,
        header: Callable[[], str] = lambda: "",
    ) -> None:
        self.targets = targets
        self.config = config
        self.options = options or ExpositionOptions()
        self.now = now
        self.workers = max(1, workers)
        self.deadline = deadline
        self.hooks = list(hooks)
        self.on_report = list(on_report)
        self.header = header
        self._pool = Workers(self.workers, deadline.total_seconds(), self._expired)
        self.publisher = Publisher(self._build, self._pool.running_for, on_snapshot)
        self._table = AccountTable()
        self._tick_lock = threading.Lock()
        self._compute = threading.Lock()  # one thread computes at a time: see the docstring
        self._gc_lock = threading.Lock()
        self._gc_resumed = time.monotonic()  # when the collector was last seen on, or run
        self.starved_seconds = STARVED_SECONDS
        self._last_targets: list[AccountTarget] = []
        self._round_lock = threading.Lock()
        self._round: _Round | None = None
        self._expiry_log = exemptions.ExpiryLog()
        # At start-up, not at the first publication: the log says it before any refresh.
        self._expiry_log(exemptions.statuses(config, (), now()))

    @property
    def snapshot(self) -> Snapshot | None:
        return self.publisher.snapshot

    def install(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` (e.g. restored from disk) until the first results."""
        self._table.restore(snapshot.accounts)
        self.publisher.install(with_landing(snapshot, self.config))

    def close(self) -> None:
        self._pool.close()
        self.publisher.close()

    def wait_idle(self, timeout: float) -> bool:
        """True once no refresh thread is running (waiting up to ``timeout`` seconds)."""
        return self._pool.wait_idle(timeout)

    def run(self) -> Snapshot:
        """Refresh every account, wait for each (or its deadline), publish."""
        for attempt in self.tick():
            attempt.done.wait()
        snapshot = self.publisher.flush()
        assert snapshot is not None
        return snapshot

    def tick(self) -> list[Attempt]:
        """Start an attempt for every source that has none running; returns them."""
        with self._tick_lock:
            targets = self._list_targets()
            if self._table.retarget(targets) or not targets:
                self.publisher.changed()
            with self._round_lock:
                self._round = _Round({t.key for t in targets})
            attempts = []
            for target in targets:
                attempt = self._pool.submit(target.key, partial(self._attempt, target))
                if attempt is not None:
                    attempts.append(attempt)
                    continue
                self._ended(target.key, failed=False, counted=False)
                running = self._pool.current(target.key)
                if running is not None and running.expired and running.done.is_set():
                    self._timed_out(target, running, again=True)
            if not targets:
                self._ended("", failed=False, counted=False)
            return attempts

    def _list_targets(self) -> list[AccountTarget]:
        try:
            self._last_targets = list(self.targets())
        except Exception:
            log.exception("could not list the accounts; keeping the previous list")
        return list(self._last_targets)

    # -- one attempt, in its worker thread --------------------------------------------------

    def _attempt(self, target: AccountTarget, attempt: Attempt) -> None:
        # The collector waits until the attempt has dropped its parsed records and
        # findings: resumed while they live, it walked them all again and again (one
        # round of 200 x 1000 users spent seconds in collections of up to 0.7 s, each
        # holding the GIL from the scrapes). They form no cycles: counting frees them.
        with gc_paused():
            result = self._read(target, self.now(), time.monotonic())
        self._collect_if_starved()
        if not self._pool.finish(attempt, lambda: self._accept(target, result)):
            return
        if result.reason is None and result.fetched is not None and result.state is not None:
            for hook in self.on_report:
                try:
                    hook(result.state, result.fetched)
                except Exception:
                    log.exception("report hook failed", extra={"account_id": result.account_id})

    def _collect_if_starved(self) -> None:
        """Attempts that overlap without end (short intervals, slow accounts) would keep
        the collector paused for good: then the young objects are collected here, at
        most every ``STARVED_SECONDS``, between attempts, so cyclic garbage (a failed
        attempt's traceback) is still freed."""
        now = time.monotonic()
        with self._gc_lock:
            if gc.isenabled():
                self._gc_resumed = now
                return
            if now - self._gc_resumed < self.starved_seconds:
                return
            self._gc_resumed = now
        gc.collect(1)

    def _read(self, target: AccountTarget, now: datetime, started: float) -> _Result:
        known = self._table.account_of(target.key)
        try:
            fetched = target.source.fetch()
            with self._compute:
                analysis = analyse(fetched, self.config, now)
            account_id = target.account_id or analysis.report.account_id or _identify(target)
            if not account_id:
                raise SourceError("invalid_report", "no ARN in the report names its account")
        except Exception as err:
            reason, message = describe(err, known or target.name)
            # A failure is the account's if the source can tell it without the report.
            account_id = known or _identify(target, quiet=True)
            return self._failure(target, account_id, reason, message, now,
                                 time.monotonic() - started)  # fmt: skip
        if self._table.owned_elsewhere(account_id, target.key):
            return _Result(account_id, None, "duplicate_account")
        if not self.config.settings.report_allow_incomplete:
            try:
                require_complete(analysis.report)
            except IncompleteReportError as err:
                # Its silence must not read as a clean account: the last good data stays.
                return self._failure(target, account_id, "incomplete_report",
                                     f"{target.name}: {err}", now,
                                     time.monotonic() - started)  # fmt: skip
        duration = time.monotonic() - started  # the report's: fetched and evaluated
        with self._compute:
            state = succeeded(self._table.state_for(account_id, target.name), analysis, now,
                              duration)  # fmt: skip
        state = self._hooked(target, state, now)
        with self._compute:
            content = compress(fetched.content)
            state = kept_small(state, analysis, content, self.config, now)
        # The raw report is held only as long as a report hook (persistence) needs it.
        return _Result(account_id, state, None, "", fetched if self.on_report else None)

    def _failure(
        self,
        target: AccountTarget,
        account_id: str,
        reason: str,
        message: str,
        now: datetime,
        duration: float,
    ) -> _Result:
        if not account_id:
            return _Result("", None, reason, message)
        before = self._table.state_for(account_id, target.name)
        previous = before.analysis
        with self._compute:
            state = failed(before, reason, message, self.config, now, duration)
        base = state.analysis
        state = self._hooked(target, state, now)
        content = previous.content if isinstance(previous, StoredAnalysis) else None
        with self._compute:
            state = kept_small(state, base, content, self.config, now)
        return _Result(account_id, state, reason, message)

    def _hooked(self, target: AccountTarget, state: AccountState, now: datetime) -> AccountState:
        for hook in self.hooks:
            try:
                state = hook(target, state, now)
            except Exception:
                log.exception("state hook failed", extra={"account_id": state.account_id})
        return state

    def _accept(self, target: AccountTarget, result: _Result) -> None:
        # The first data served at all is news: published at once, not at the round's
        # end. Later accounts of the round are coalesced as before: each rendering while
        # refreshes run costs a rendering of everything served so far.
        new = result.state is not None and result.state.analysis is not None
        news = new and not _serves_data(self.publisher.snapshot)
        self._table.accept(target, result.account_id, result.state, result.reason,
                           result.message, self.now())  # fmt: skip
        self.publisher.changed(news=news)
        self._ended(target.key, failed=result.reason is not None)

    def _ended(self, key: str, failed: bool, counted: bool = True) -> None:
        """One source of the current round is done (``counted``: it was refreshed)."""
        with self._round_lock:
            done = self._round
            if done is None or (key and key not in done.left):
                return
            done.left.discard(key)
            done.failed += failed
            done.accounts -= not counted
            if done.left:
                return
            self._round = None
        log.info("refresh done", extra={
            "accounts": done.accounts, "failed": done.failed,
            "duration_seconds": round(time.monotonic() - done.started, 3),
        })  # fmt: skip

    # -- deadlines --------------------------------------------------------------------------

    def _expired(self, attempt: Attempt) -> None:
        target = self._table.target(attempt.key)
        if target is not None:
            self._timed_out(target, attempt, again=False)

    def _timed_out(self, target: AccountTarget, attempt: Attempt, again: bool) -> None:
        elapsed = attempt.elapsed(time.monotonic())
        limit = _duration(self.deadline)
        message = (
            f"the refresh started {elapsed:.0f}s ago is still running (deadline {limit}); "
            "no new one starts until it returns"
            if again
            else f"the refresh did not finish within its deadline of {limit}"
        )
        known = self._table.account_of(target.key)
        reason, message = describe(SourceError("timeout", message), known or target.name)
        self._accept(target, self._failure(target, known, reason, message, self.now(), elapsed))

    # -- publication ------------------------------------------------------------------------

    def _build(self, generation: int) -> Snapshot:
        with self._compute, gc_paused():  # as in _attempt: the metric families form no cycles
            return self._render(generation)

    def _render(self, generation: int) -> Snapshot:
        accounts, pending, ready = self._table.view()
        now = self.now()
        current = exemption_statuses(accounts, self.config, now)
        self._expiry_log(current)
        exposition = render(accounts, self.config, self.options, pending, current)
        snapshot = Snapshot(accounts, now, generation, exposition, pending, self.header(), ready,
                            current)  # fmt: skip
        return with_landing(snapshot, self.config)


def _serves_data(snapshot: Snapshot | None) -> bool:
    return snapshot is not None and any(s.analysis is not None for s in snapshot.accounts)


def _identify(target: AccountTarget, quiet: bool = False) -> str:
    """The account id a source can tell without its report (AWS: STS), else ""."""
    identify = getattr(target.source, "account_id", None)
    if not callable(identify):
        return ""
    try:
        return str(identify())
    except Exception as err:
        if not quiet:
            raise
        log.debug("the source cannot tell its account: %s", err, extra={"source": target.name})
        return ""


def _duration(d: timedelta) -> str:
    seconds = d.total_seconds()
    return format_duration(d) if seconds == int(seconds) else f"{seconds:g}s"
