"""The current snapshot, swapped in whole, re-rendered as refresh results arrive.

Rendering every account's exposition costs ~1 s at 200 accounts x 1000 users, and
a rendering while refreshes still run costs memory on top of theirs. So results
are coalesced. A change is published:

* at once when no refresh is queued or running any more (the end of a round);
* while refreshes run, once one of them has run for ``SLOW_SECONDS`` (a slow
  account must not hold the others back), once the change has waited
  ``MAX_HOLD_SECONDS`` (a long round of many accounts), or at once when it is
  news: the first data served at all (the first refresh after start-up serves
  its first account within a second, not after the whole organisation);

and, while refreshes run, at most once per ``gap``: the longer of
``MIN_GAP_SECONDS`` and ``GAP_PER_RENDER_SECOND`` times the last rendering, so
rendering takes at most a tenth of the time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from exporter.daemon.snapshot import Snapshot

log = logging.getLogger("exporter.refresh")

SLOW_SECONDS = 5.0
MAX_HOLD_SECONDS = 60.0
MIN_GAP_SECONDS = 1.0
GAP_PER_RENDER_SECOND = 10.0
# Results that arrive together (the last accounts of a round) make one rendering.
SETTLE_SECONDS = 0.05


class Publisher:
    def __init__(
        self,
        build: Callable[[int], Snapshot],
        running_for: Callable[[], float | None],
        on_snapshot: Sequence[Callable[[Snapshot], None]] = (),
        slow_seconds: float = SLOW_SECONDS,
    ) -> None:
        """``build(generation)`` renders a snapshot of the refresher's current state;
        ``running_for()`` is how long the oldest running refresh has run (0 for one
        only queued), None when none is queued or running."""
        self._build = build
        self._running_for = running_for
        self.on_snapshot = list(on_snapshot)
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._render_lock = threading.Lock()  # one rendering at a time
        self._dirty_since: float | None = None  # monotonic
        self._news = False  # a pending change serves an account for the first time
        self._snapshot: Snapshot | None = None
        self._gap = MIN_GAP_SECONDS
        self._last_render = float("-inf")  # monotonic end of the last rendering
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot  # one reference read: a whole snapshot or none

    def install(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot
        for callback in self.on_snapshot:
            try:
                callback(snapshot)
            except Exception:
                log.exception("snapshot callback failed")

    def changed(self, news: bool = False) -> None:
        """Something to publish; the background thread renders it soon (``news``:
        as soon as the gap between renderings allows, refreshes running or not)."""
        with self._lock:
            if self._closing.is_set():
                return
            self._news = self._news or news
            if self._dirty_since is None:
                self._dirty_since = time.monotonic()
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="publish", daemon=True)
                self._thread.start()

    def flush(self) -> Snapshot | None:
        """Publish pending changes now, in this thread; the current snapshot."""
        with self._render_lock:
            with self._lock:
                dirty, self._dirty_since = self._dirty_since is not None, None
                self._news = False
                previous = self._snapshot
            if dirty:
                started = time.monotonic()
                snapshot = self._build(1 if previous is None else previous.generation + 1)
                self.install(snapshot)
                self._last_render = time.monotonic()
                spent = self._last_render - started
                self._gap = max(MIN_GAP_SECONDS, GAP_PER_RENDER_SECOND * spent)
        return self._snapshot

    def close(self) -> None:
        with self._lock:
            self._closing.set()
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _due(self) -> bool:
        running = self._running_for()
        if running is None:
            return True
        now = time.monotonic()
        if now < self._last_render + self._gap:
            return False
        waited = now - (self._dirty_since or now)
        return self._news or running >= self.slow_seconds or waited >= MAX_HOLD_SECONDS

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._dirty_since is None and not self._closing.is_set():
                    self._changed.wait()
            while not self._closing.wait(SETTLE_SECONDS):
                if self._due():
                    break
            if self._closing.is_set():
                return
            try:
                self.flush()
            except Exception:
                log.exception("publishing the snapshot failed")
                self._closing.wait(MIN_GAP_SECONDS)
