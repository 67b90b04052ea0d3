"""The live web config: who may read what, over which TLS, with which headers.

Like the exporter-toolkit, changes apply without a restart: every request (and
every new TLS connection) checks whether the config file, or a certificate,
key or CA file it names, changed on disk, and reloads it. A changed file that
is invalid is logged and the last valid config stays in force. At start-up an
invalid file is fatal (``WebConfigError``), so a typo never serves unprotected.

Turning TLS on or off needs a restart: the listening socket is plain or TLS.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from exporter.web.basic_auth import BasicAuth
from exporter.web.tls import build_ssl_context
from exporter.web.webconfig import WebConfig, WebConfigError, load_web_config

log = logging.getLogger("exporter.web")

# Health endpoints stay open so orchestrators can probe without credentials.
OPEN_PATHS = frozenset({"/-/healthy", "/-/ready"})
CHECK_INTERVAL = 1.0  # seconds between looks at the files' mtimes

Fingerprint = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class _Loaded:
    config: WebConfig
    auth: BasicAuth
    ssl_context: ssl.SSLContext | None
    fingerprint: Fingerprint


class WebAccess:
    """Reads ``path`` (or nothing: no TLS, no auth) and keeps it current."""

    def __init__(
        self,
        path: str | Path | None,
        check_interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path) if path else None
        self._interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = self._load()  # raises WebConfigError: fatal at start-up
        self.tls_enabled = self._loaded.ssl_context is not None
        self._next_check = clock() + check_interval
        # After a failed reload: the files watched and how they looked then.
        self._failed: tuple[list[Path], Fingerprint] | None = None
        self.reloads = 0
        self.reload_failures = 0
        self.last_reload_ok = True

    # -- what the HTTP server asks ------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext | None:
        """The context for a new connection; None when serving plain HTTP."""
        return self._current().ssl_context

    def authorized(self, path: str, authorization: str | None) -> bool:
        if path.split("?", 1)[0] in OPEN_PATHS:
            return True
        return self._current().auth.check(authorization)

    def headers(self) -> Mapping[str, str]:
        return self._current().config.headers

    @property
    def auth_enabled(self) -> bool:
        return self._current().auth.enabled

    # -- reloading ----------------------------------------------------------------

    def _current(self) -> _Loaded:
        if self.path is not None and self._clock() >= self._next_check:
            self.reload_if_changed()
        return self._loaded

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; True when a new config took effect."""
        with self._lock:
            self._next_check = self._clock() + self._interval
            if self._failed is not None:
                # Since a failed reload, watch the files that both versions name, so
                # that creating a missing certificate later is noticed too.
                files, seen = self._failed
            else:
                files, seen = self._watched(self._loaded.config), self._loaded.fingerprint
            if _stats(files) == seen:
                return False
            try:
                loaded = self._load()
                if (loaded.ssl_context is not None) != self.tls_enabled:
                    raise WebConfigError("tls_server_config: turning TLS on or off needs a restart")
            except Exception as err:  # a reload must never break serving
                # Logged once per change of the files, not on every request.
                watch = self._watched(self._loaded.config) + self._named_by_file()
                self._failed = (watch, _stats(watch))
                self.reload_failures += 1
                self.last_reload_ok = False
                log.error("web config not reloaded, keeping the previous one: %s", err)
                return False
            if loaded.config.users == self._loaded.config.users:
                loaded = replace(loaded, auth=self._loaded.auth)  # keep the verdict cache
            self._loaded, self._failed = loaded, None
            self.reloads += 1
            self.last_reload_ok = True
            log.info("web config reloaded from %s", self.path)
            return True

    def _named_by_file(self) -> list[Path]:
        """The TLS files the config file on disk names, if it can be parsed at all."""
        assert self.path is not None
        try:
            return _tls_files(load_web_config(self.path))
        except WebConfigError:
            return []

    def _load(self) -> _Loaded:
        if self.path is None:
            return _Loaded(WebConfig(), BasicAuth({}), None, ())
        # Look at the files before reading them: a change made while loading is
        # then seen at the next check instead of being missed.
        config_stat = _stats([self.path])
        config = load_web_config(self.path)
        fingerprint = config_stat + _stats(_tls_files(config))
        ctx = build_ssl_context(config.tls) if config.tls else None
        return _Loaded(config, BasicAuth(config.users), ctx, fingerprint)

    def _watched(self, config: WebConfig) -> list[Path]:
        assert self.path is not None
        return [self.path, *_tls_files(config)]


def _tls_files(config: WebConfig) -> list[Path]:
    return list(config.tls.files) if config.tls else []


def _stats(paths: list[Path]) -> Fingerprint:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((str(p), -1, -1, -1))
    return tuple(out)
