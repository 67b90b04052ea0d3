"""Refresh attempts on a bounded number of worker threads, each attempt with a deadline.

A Python thread blocked in a socket read cannot be stopped (a response that
trickles one byte a second never trips a read timeout). So an attempt past its
deadline is given up on instead: a new worker takes its thread's place at once,
the ``on_expired`` callback records the failure, and whatever the old thread
returns when its call finally ends is dropped; then that thread ends. A key whose
attempt is queued or still running cannot be submitted again, so at most one
such thread exists per key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("exporter.refresh")


class Attempt:
    """One refresh of one source. ``done`` is set once it returned or expired."""

    def __init__(self, key: str, job: Callable[[Attempt], None]) -> None:
        self.key = key
        self.job = job
        self.started: float | None = None  # monotonic
        self.expired = False
        self.done = threading.Event()

    def elapsed(self, now: float) -> float:
        return 0.0 if self.started is None else now - self.started


class Workers:
    def __init__(
        self,
        slots: int,
        deadline: float,
        on_expired: Callable[[Attempt], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = max(1, slots)
        self.deadline = deadline
        self._on_expired = on_expired
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[Attempt] = deque()
        self._attempts: dict[str, Attempt] = {}  # queued or running (expired included)
        self._threads: list[threading.Thread] = []  # workers and the watchdog
        self._workers = 0  # threads taking attempts from the queue
        self._closed = False

    def submit(self, key: str, job: Callable[[Attempt], None]) -> Attempt | None:
        """Queue ``job`` for ``key``; None if ``key`` still has an attempt (see ``current``)."""
        with self._lock:
            if self._closed or key in self._attempts:
                return None
            if not self._threads:
                self._start(self._watch, "refresh-deadlines")
            while self._workers < self.slots:
                self._add_worker()
            attempt = self._attempts[key] = Attempt(key, job)
            self._queue.append(attempt)
            self._changed.notify_all()
            return attempt

    def current(self, key: str) -> Attempt | None:
        with self._lock:
            return self._attempts.get(key)

    def finish(self, attempt: Attempt, commit: Callable[[], None]) -> bool:
        """Run ``commit`` (the attempt's result) unless the attempt expired; atomic with
        expiry, so a result is either committed in time or dropped, never both."""
        with self._lock:
            if attempt.expired:
                return False
            commit()
            return True

    def running_for(self) -> float | None:
        """How long the oldest attempt within its deadline has run (0 if all are only
        queued); None when none is queued or running within its deadline."""
        with self._lock:
            now = self._clock()
            live = [a.elapsed(now) for a in self._attempts.values() if not a.expired]
            return max(live) if live else None

    def wait_idle(self, timeout: float) -> bool:
        """True once no attempt is running, expired ones included."""
        end = self._clock() + timeout
        with self._lock:
            while any(a.started is not None for a in self._attempts.values()):
                left = end - self._clock()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
            return True

    def close(self) -> None:
        """Drop the queued attempts; idle threads end (running ones when they return)."""
        with self._lock:
            self._closed = True
            for attempt in self._queue:
                del self._attempts[attempt.key]
                attempt.done.set()
            self._queue.clear()
            self._changed.notify_all()
            idle = [t for t in self._threads if t is not threading.current_thread()]
        for thread in idle:
            thread.join(timeout=0.1)

    # -- with the lock held -----------------------------------------------------------------

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _add_worker(self) -> None:
        self._workers += 1
        self._start(self._serve, f"refresh-{len(self._threads)}")

    # -- threads ----------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if self._closed:
                    self._workers -= 1
                    self._threads.remove(threading.current_thread())
                    return
                attempt = self._queue.popleft()
                attempt.started = self._clock()
                self._changed.notify_all()  # the watchdog: a new deadline
            self._run(attempt)
            if attempt.expired:
                with self._lock:  # replaced by a new worker when it expired
                    self._threads.remove(threading.current_thread())
                return

    def _run(self, attempt: Attempt) -> None:
        try:
            attempt.job(attempt)
        except Exception:
            log.exception("refresh attempt failed", extra={"source": attempt.key})
        finally:
            with self._lock:
                del self._attempts[attempt.key]
                self._changed.notify_all()
            if attempt.expired:
                log.info("a refresh that outlived its deadline returned; its result is dropped",
                         extra={"source": attempt.key})  # fmt: skip
            attempt.done.set()

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    self._threads.remove(threading.current_thread())
                    return
                expired = self._expire()
                if not expired:
                    self._changed.wait(self._until_next_deadline())
                    continue
            for attempt in expired:
                try:
                    self._on_expired(attempt)
                except Exception:
                    log.exception("recording a refresh timeout failed")
                attempt.done.set()

    def _expire(self) -> list[Attempt]:
        now = self._clock()
        expired = []
        for attempt in self._attempts.values():
            running = attempt.started is not None and not attempt.expired
            if running and attempt.elapsed(now) >= self.deadline:
                attempt.expired = True
                expired.append(attempt)
                self._workers -= 1  # its thread is given up on...
                if not self._closed:
                    self._add_worker()  # ...and replaced
        return expired

    def _until_next_deadline(self) -> float | None:
        now = self._clock()
        running = [
            self.deadline - a.elapsed(now)
            for a in self._attempts.values()
            if a.started is not None and not a.expired
        ]
        return max(0.01, min(running)) if running else None
