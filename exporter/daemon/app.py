"""The daemon assembled: refresher + scheduler + HTTP server, started and stopped together."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.registry import Collector

from exporter import __version__
from exporter.config import Config
from exporter.config.flags import parse_listen_address
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.http import (
    Authenticator,
    HeadersProvider,
    Limits,
    ServerThread,
    SSLContextProvider,
    WebApp,
)
from exporter.daemon.refresh import AccountTarget, Clock, Refresher, ReportHook, StateHook, utc_now
from exporter.daemon.scheduler import start_scheduler
from exporter.daemon.snapshot import Snapshot

log = logging.getLogger("exporter.daemon")

STOP_GRACE_SECONDS = 3.0


@dataclass
class Hooks:
    """Where other parts plug in (security, state, multi-account). All optional."""

    auth: Authenticator | None = None
    headers: HeadersProvider | None = None
    ssl_context: SSLContextProvider | None = None
    state_hooks: Sequence[StateHook] = ()
    on_report: Sequence[ReportHook] = ()
    on_snapshot: Sequence[Callable[[Snapshot], None]] = ()
    header: Callable[[], str] = lambda: ""
    # Makes the snapshot to serve before the first refresh (--state.dir: parsing the
    # saved reports can take seconds). Run once the server listens, before the first
    # refresh starts; /-/ready stays 503 until it returns.
    restore: Callable[[], Snapshot | None] | None = None
    # Rendered with the process metrics at each scrape (counters that move between
    # refreshes, such as failed state saves).
    live_collectors: Sequence[Collector] = ()
    # Background work on schedules of its own (start() with the refresh, stop() with it).
    services: Sequence[Any] = ()


class Daemon:
    def __init__(
        self,
        targets: Callable[[], Sequence[AccountTarget]],
        config: Config,
        hooks: Hooks | None = None,
        options: ExpositionOptions | None = None,
        now: Clock = utc_now,
    ) -> None:
        """Everything comes from ``config.settings``; ``options`` adds to the exposition
        what the settings cannot say (the user labeler, more collectors)."""
        settings = self.settings = config.settings
        hooks = hooks or Hooks()
        self.refresher = Refresher(
            targets,
            config,
            options or ExpositionOptions.from_settings(settings),
            now=now,
            workers=settings.refresh_workers,
            hooks=hooks.state_hooks,
            on_snapshot=hooks.on_snapshot,
            on_report=hooks.on_report,
            deadline=settings.refresh_deadline,
            header=hooks.header,
        )
        self._restore = hooks.restore
        self._restoring: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._stopped = False
        self.app = WebApp(
            snapshot=lambda: self.refresher.snapshot,
            telemetry_path=settings.web_telemetry_path,
            auth=hooks.auth,
            headers=hooks.headers,
            ssl_context=hooks.ssl_context,
            now=now,
        )
        for collector in hooks.live_collectors:
            self.app.live.registry.register(collector)
        listen = parse_listen_address(settings.web_listen_address)
        limits = Limits(
            max_connections=settings.web_max_connections,
            read_header_timeout=settings.web_read_header_timeout.total_seconds(),
        )
        self._http = ServerThread(listen, self.app, limits)
        self._scheduler: Any = None
        self._services = list(hooks.services)

    @property
    def port(self) -> int:
        return self._http.server.port

    def start(self, schedule: bool = True) -> None:
        """Serve HTTP at once; then restore the saved state, if any (in a thread, so
        nothing parsed delays listening); then, with ``schedule``, refresh now and
        every interval. Without ``schedule`` the restore is waited for."""
        self._http.start()
        log.info(
            "listening",
            extra={"address": self._http.server.server_address[0], "port": self.port},
        )
        if self._restore is None:
            self._begin(schedule)
            return
        self._restoring = threading.Thread(
            target=self._restore_then_begin, args=(schedule,), name="restore", daemon=True
        )
        self._restoring.start()
        if not schedule:
            self._restoring.join()

    def _restore_then_begin(self, schedule: bool) -> None:
        assert self._restore is not None
        try:
            snapshot = self._restore()
        except Exception:
            log.exception("could not restore the saved state; starting without it")
            snapshot = None
        with self._lifecycle:
            if self._stopped:
                return
            # Never over a newer snapshot (a refresh run by hand meanwhile).
            if snapshot is not None and self.refresher.snapshot is None:
                self.refresher.install(snapshot)
        self._begin(schedule)

    def _begin(self, schedule: bool) -> None:
        if not schedule:
            return
        with self._lifecycle:
            if not self._stopped:
                interval = self.settings.refresh_interval
                self._scheduler = start_scheduler(self.refresher.tick, interval)
                for service in self._services:
                    service.start()

    def stop(self) -> None:
        with self._lifecycle:
            self._stopped = True
            scheduler = self._scheduler
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for service in self._services:
            service.stop()
        self._http.stop()
        if self._restoring is not None:
            # A restore still parsing is left to the process's end (a daemon thread).
            self._restoring.join(timeout=STOP_GRACE_SECONDS)
        self.refresher.close()


def run_until_signalled(daemon: Daemon) -> int:
    """Serve until SIGTERM or SIGINT; 0 once stopped."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.start()
        log.info("started", extra={"version": __version__})
        while not stop.wait(1.0):
            pass
    finally:
        daemon.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not daemon.refresher.wait_idle(STOP_GRACE_SECONDS):
        # A fetch stuck in an AWS call would keep the interpreter alive until its
        # timeouts and retries run out; nothing it could still produce is needed.
        log.warning("a refresh is still running; exiting without waiting for it")
        logging.shutdown()
        os._exit(0)
    return 0
