"""The refresh job: fetch every account's report, evaluate it, swap in a new snapshot.

Accounts refresh in parallel on a bounded pool. A failure touches only its own
account: the last good analysis stays (re-evaluated against the new time, so
ages keep moving), ``success`` goes to 0 and the reason is counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import NamedTuple

from exporter.config import Config
from exporter.core.analyse import Analysis, analyse
from exporter.core.diff import diff_reports
from exporter.core.evaluate import evaluate
from exporter.core.report import ReportFormatError
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.snapshot import AccountState, Snapshot, frozen_counts
from exporter.daemon.stored import AnyAnalysis, StoredAnalysis, compress, store
from exporter.sources.base import ReportSource, SourceError, failure_reason

log = logging.getLogger("exporter.refresh")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AccountTarget(NamedTuple):
    """One account to watch.

    ``key`` is the ``account_id`` label. Leave it empty when the id is not known
    in advance (the ambient account): it is then learned from the first report's
    ARNs, and the state is tracked under ``name`` until then.
    """

    key: str
    name: str
    source: ReportSource

    @property
    def identity(self) -> str:
        return self.key or self.name


# Called after each account's refresh, in the worker thread; returns the state to
# keep. Collaborators use it to attach account/role checks or persist state.
StateHook = Callable[[AccountTarget, AccountState, datetime], AccountState]


class Refresher:
    """Owns the current snapshot; ``run()`` is the scheduled job."""

    def __init__(
        self,
        targets: Callable[[], Sequence[AccountTarget]],
        config: Config,
        options: ExpositionOptions | None = None,
        now: Clock = utc_now,
        workers: int = 4,
        hooks: Sequence[StateHook] = (),
        on_snapshot: Sequence[Callable[[Snapshot], None]] = (),
    ) -> None:
        self.targets = targets
        self.config = config
        self.options = options or ExpositionOptions()
        self.now = now
        self.workers = max(1, workers)
        self.hooks = list(hooks)
        self.on_snapshot = list(on_snapshot)
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._last_targets: list[AccountTarget] = []
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="refresh")

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot  # one reference read: a whole snapshot or none

    def install(self, snapshot: Snapshot) -> None:
        """Make ``snapshot`` current (e.g. one restored from disk before the first refresh)."""
        with self._lock:
            self._snapshot = snapshot
        for callback in self.on_snapshot:
            callback(snapshot)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wait_idle(self, timeout: float) -> bool:
        """True once no refresh is running (waiting up to ``timeout`` seconds)."""
        if self._run_lock.acquire(timeout=timeout):
            self._run_lock.release()
            return True
        return False

    def run(self) -> Snapshot:
        # Two overlapping runs would race on the counters; the scheduler also prevents it.
        with self._run_lock:
            return self._run()

    def _run(self) -> Snapshot:
        started = time.monotonic()
        try:
            targets = list(self.targets())
        except Exception:
            log.exception("could not list the accounts; keeping the previous list")
            targets = list(self._last_targets)
        self._last_targets = targets
        previous = self._snapshot
        before = {} if previous is None else {s.key: s for s in previous.accounts}
        now = self.now()
        futures = [
            self._pool.submit(self._refresh_one, t, before.get(t.identity), now) for t in targets
        ]
        states = tuple(f.result() for f in futures)
        snapshot = self._build(states, now)
        self.install(snapshot)
        failed = [s.account_id for s in states if not s.success]
        log.info(
            "refresh done",
            extra={
                "accounts": len(states),
                "failed": len(failed),
                "duration_seconds": round(time.monotonic() - started, 3),
            },
        )
        return snapshot

    def _build(self, states: tuple[AccountState, ...], now: datetime) -> Snapshot:
        exposition = render(states, self.config, self.options)
        generation = 1 if self._snapshot is None else self._snapshot.generation + 1
        return Snapshot(states, now, generation, exposition)

    def _refresh_one(
        self, target: AccountTarget, before: AccountState | None, now: datetime
    ) -> AccountState:
        state = before or AccountState(key=target.identity, account_id=target.key, name=target.name)
        if state.name != target.name or (target.key and state.account_id != target.key):
            # e.g. an account renamed in Organizations: the new name applies at once.
            state = replace(state, name=target.name, account_id=target.key or state.account_id)
        previous = state.analysis
        started = time.monotonic()
        try:
            fetched = target.source.fetch()
            analysis = analyse(fetched, self.config, now)
        except Exception as err:
            state = self._failed(target, state, err, now, time.monotonic() - started)
            content = previous.content if isinstance(previous, StoredAnalysis) else None
        else:
            state = self._succeeded(target, state, analysis, now, time.monotonic() - started)
            content = compress(fetched.content)
            del fetched
        base = state.analysis
        for hook in self.hooks:
            try:
                state = hook(target, state, now)
            except Exception:
                log.exception("state hook failed", extra={"account_id": state.account_id})
        return self._stored(state, base, content, now)

    def _stored(
        self,
        state: AccountState,
        base: AnyAnalysis | None,
        content: bytes | None,
        now: datetime,
    ) -> AccountState:
        """The state with its analysis kept small until the next refresh (stored.py)."""
        analysis = state.analysis
        if content is None or not isinstance(analysis, Analysis):
            return state
        if not isinstance(base, Analysis) or state.evaluated_at != now:
            return state
        return replace(state, analysis=store(analysis, content, base, self.config, now))

    def _succeeded(
        self,
        target: AccountTarget,
        state: AccountState,
        analysis: Analysis,
        now: datetime,
        duration: float,
    ) -> AccountState:
        changes = dict(state.changes_total)
        if state.analysis is not None:
            for change in diff_reports(state.analysis.report, analysis.report):
                changes[change.change] = changes.get(change.change, 0) + 1
        return replace(
            state,
            account_id=target.key or analysis.report.account_id or state.account_id or target.name,
            analysis=analysis,
            evaluated_at=now,
            attempted=True,
            success=True,
            duration_seconds=duration,
            last_success=now,
            last_error_reason=None,
            last_error_message=None,
            changes_total=frozen_counts(changes),
        )

    def _failed(
        self,
        target: AccountTarget,
        state: AccountState,
        err: Exception,
        now: datetime,
        duration: float,
    ) -> AccountState:
        reason = failure_reason(err)
        expected = isinstance(err, (SourceError, ReportFormatError))
        message = str(err) if expected else f"{type(err).__name__}: {err}"
        log.warning(
            "refresh failed: %s",
            message,
            extra={"account_id": state.account_id or target.name, "reason": reason},
            exc_info=not expected,
        )
        errors = Counter(state.errors_total)
        errors[reason] += 1
        kept = state.analysis
        analysis = None
        if kept is not None:
            # Keep the last good report, but let its ages move with the clock.
            report = kept.report  # parsed again when the analysis is stored
            analysis = Analysis(report, evaluate(report, self.config, now))
        return replace(
            state,
            account_id=state.account_id or target.name,
            analysis=analysis,
            evaluated_at=now if analysis is not None else None,
            attempted=True,
            success=False,
            duration_seconds=duration,
            last_error_reason=reason,
            last_error_message=message,
            errors_total=frozen_counts(errors),
        )
