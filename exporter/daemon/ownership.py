"""The account table: which source yields which account, and each account's state.

Accounts are keyed by their id only. A source configured with an account id owns
that account. A source without one (a report file, the ambient credentials) owns
the account its last good read named, unless another source owns it already: the
first to yield an account keeps it while it is listed (when two first yield it in
the same round, the first to answer), and a later one fails with
``duplicate_account`` (counted on the account, shown as a pending source). Until a
source's account is known, the source is pending: no state, no series.

After a restart the restored accounts are claimed by the sources that saved them
(by name: a report file's path, ``ambient``) until those sources are read again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from exporter.daemon.snapshot import AccountState, PendingSource
from exporter.daemon.transitions import with_error

if TYPE_CHECKING:
    from exporter.daemon.refresh import AccountTarget

log = logging.getLogger("exporter.refresh")

DUPLICATE = "duplicate_account"


@dataclass
class _Source:
    target: AccountTarget
    account_id: str = ""  # configured, learnt from its last good read, or restored
    pending: PendingSource | None = None


class AccountTable:
    """Thread-safe; every method holds the lock only briefly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[str, _Source] = {}  # by AccountTarget.key, in target order
        self._owner: dict[str, str] = {}  # account id -> source key
        self._states: dict[str, AccountState] = {}  # account id -> state
        self._restored: dict[str, str] = {}  # source name -> account id, from saved state
        self._ready = False

    def restore(self, states: Iterable[AccountState]) -> None:
        with self._lock:
            for state in states:
                self._states[state.account_id] = state
                self._restored[state.name] = state.account_id
            self._ready = True  # the restored data is served at once

    def retarget(self, targets: Sequence[AccountTarget]) -> bool:
        """Make ``targets`` the current sources; True if published accounts went away."""
        with self._lock:
            before = (set(self._states), self._pending_keys())
            sources: dict[str, _Source] = {}
            for target in targets:
                src = self._sources.get(target.key) or _Source(target, self._claim(target))
                src.target = target
                if target.account_id:
                    src.account_id = target.account_id
                sources.setdefault(target.key, src)
            self._sources = sources
            self._owner = self._owners()
            self._states = {a: s for a, s in self._states.items() if a in self._owner}
            return before != (set(self._states), self._pending_keys())

    def target(self, key: str) -> AccountTarget | None:
        with self._lock:
            src = self._sources.get(key)
            return None if src is None else src.target

    def account_of(self, key: str) -> str:
        """The account the source yields, "" while unknown or owned by another source."""
        with self._lock:
            src = self._sources.get(key)
            if src is None or self._owner.get(src.account_id) != key:
                return ""
            return src.account_id

    def owned_elsewhere(self, account_id: str, key: str) -> bool:
        with self._lock:
            return self._owner.get(account_id, key) != key

    def state_for(self, account_id: str, name: str) -> AccountState:
        """The account's current state, under the source's current name."""
        with self._lock:
            state = self._states.get(account_id) or AccountState(account_id, name)
        # e.g. an account renamed in Organizations: the new name applies at once.
        return state if state.name == name else replace(state, name=name)

    def accept(
        self,
        target: AccountTarget,
        account_id: str,
        state: AccountState | None,
        reason: str | None,
        message: str,
        now: datetime,
    ) -> None:
        """Swap in one attempt's result (``state`` None: the source yielded no account)."""
        with self._lock:
            src = self._sources.get(target.key)
            if src is None:
                return  # no longer listed
            owner = self._owner.get(account_id, target.key) if account_id else None
            if owner is not None and owner != target.key:
                self._duplicate(src, account_id, owner, now)
            elif state is None:
                src.pending = _pending(src, reason or "error", message, now)
            else:
                self._claim_account(src, account_id)
                self._states[account_id] = with_error(state, self._states.get(account_id), reason)

    def view(self) -> tuple[tuple[AccountState, ...], tuple[PendingSource, ...], bool]:
        """(accounts in target order, pending sources, ready) to publish."""
        with self._lock:
            accounts = []
            for key, src in self._sources.items():
                state = self._states.get(src.account_id)
                if state is not None and self._owner.get(src.account_id) == key:
                    accounts.append(state)
            pending = tuple(src.pending for src in self._sources.values() if src.pending)
            self._ready = self._ready or all(map(self._has_outcome, self._sources.values()))
            return tuple(accounts), pending, self._ready

    # -- with the lock held -----------------------------------------------------------------

    def _claim(self, target: AccountTarget) -> str:
        return target.account_id or self._restored.pop(target.name, "")

    def _owners(self) -> dict[str, str]:
        # Configured ids first, then the accounts each source already owned, then the
        # ones sources claim from saved state: an earlier claim is never taken away.
        owners = {s.account_id: k for k, s in self._sources.items() if s.target.account_id}
        for account_id, key in self._owner.items():
            src = self._sources.get(key)
            if src is not None and src.account_id == account_id:
                owners.setdefault(account_id, key)
        for key, src in self._sources.items():
            if src.account_id:
                owners.setdefault(src.account_id, key)
        return owners

    def _claim_account(self, src: _Source, account_id: str) -> None:
        key = src.target.key
        if src.account_id != account_id and self._owner.get(src.account_id) == key:
            # The source now yields another account (a report file was replaced).
            del self._owner[src.account_id]
            self._states.pop(src.account_id, None)
        self._owner[account_id] = key
        src.account_id = account_id
        src.pending = None

    def _duplicate(self, src: _Source, account_id: str, owner: str, now: datetime) -> None:
        first = self._sources[owner].target.name
        message = f"it yields account {account_id}, which {first} already yields"
        log.warning("source ignored: %s", message,
                    extra={"source": src.target.name, "reason": DUPLICATE})  # fmt: skip
        current = self._states.get(account_id) or AccountState(account_id, first)
        self._states[account_id] = with_error(current, current, DUPLICATE)
        src.pending = _pending(src, DUPLICATE, message, now, account_id)

    def _pending_keys(self) -> set[str]:
        return {k for k, s in self._sources.items() if s.pending}

    def _has_outcome(self, src: _Source) -> bool:
        if src.pending is not None:
            return True
        state = self._states.get(src.account_id)
        return state is not None and (state.attempted or state.analysis is not None)


def _pending(
    src: _Source, reason: str, message: str, now: datetime, account_id: str = ""
) -> PendingSource:
    before = src.pending
    failures = 1 if before is None else before.failures + 1
    since = now if before is None else before.since
    return PendingSource(src.target.name, reason, message, failures, since, account_id)
