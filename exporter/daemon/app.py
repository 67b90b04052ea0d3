"""The daemon assembled: refresher + scheduler + HTTP server, started and stopped together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from exporter.config import Config
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.http import (
    Authenticator,
    HeadersProvider,
    ServerThread,
    SSLContextProvider,
    WebApp,
)
from exporter.daemon.refresh import AccountTarget, Clock, Refresher, StateHook, utc_now
from exporter.daemon.scheduler import start_scheduler
from exporter.daemon.snapshot import Snapshot

log = logging.getLogger("exporter.daemon")


@dataclass(frozen=True)
class DaemonSettings:
    listen: tuple[str, int] = ("", 10063)
    telemetry_path: str = "/metrics"
    refresh_interval: timedelta = timedelta(hours=1)
    workers: int = 4
    max_connections: int = 512
    exposition: ExpositionOptions = field(default_factory=ExpositionOptions)


@dataclass
class Hooks:
    """Where other parts plug in (security, state, multi-account). All optional."""

    auth: Authenticator | None = None
    headers: HeadersProvider | None = None
    ssl_context: SSLContextProvider | None = None
    state_hooks: Sequence[StateHook] = ()
    on_snapshot: Sequence[Callable[[Snapshot], None]] = ()
    # A snapshot to serve before the first refresh (e.g. restored from --state.dir).
    initial_snapshot: Snapshot | None = None


class Daemon:
    def __init__(
        self,
        targets: Callable[[], Sequence[AccountTarget]],
        config: Config,
        settings: DaemonSettings | None = None,
        hooks: Hooks | None = None,
        now: Clock = utc_now,
    ) -> None:
        self.settings = settings or DaemonSettings()
        hooks = hooks or Hooks()
        exposition = self.settings.exposition
        if exposition.refresh_interval != self.settings.refresh_interval:
            exposition = _with_interval(exposition, self.settings.refresh_interval)
        self.refresher = Refresher(
            targets,
            config,
            exposition,
            now=now,
            workers=self.settings.workers,
            hooks=hooks.state_hooks,
            on_snapshot=hooks.on_snapshot,
        )
        if hooks.initial_snapshot is not None:
            self.refresher.install(hooks.initial_snapshot)
        self.app = WebApp(
            snapshot=lambda: self.refresher.snapshot,
            telemetry_path=self.settings.telemetry_path,
            auth=hooks.auth,
            headers=hooks.headers,
            ssl_context=hooks.ssl_context,
            now=now,
        )
        self._http = ServerThread(self.settings.listen, self.app, self.settings.max_connections)
        self._scheduler: Any = None

    @property
    def port(self) -> int:
        return self._http.server.port

    def start(self, schedule: bool = True) -> None:
        """Serve HTTP at once; with ``schedule``, refresh now and every interval."""
        self._http.start()
        if schedule:
            self._scheduler = start_scheduler(self.refresher.run, self.settings.refresh_interval)
        log.info(
            "listening",
            extra={"address": self._http.server.server_address[0], "port": self.port},
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self._http.stop()
        self.refresher.close()


def _with_interval(options: ExpositionOptions, interval: timedelta) -> ExpositionOptions:
    from dataclasses import replace

    return replace(options, refresh_interval=interval)
