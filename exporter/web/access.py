"""The live web config: who may read what, over which TLS, with which headers.

Like the exporter-toolkit, changes apply without a restart: every request (and
every new TLS connection) checks whether the config file, or a certificate,
key or CA file it names, changed on disk, and reloads it. A changed file that
is invalid is logged at error level and the last valid config stays in force.
At start-up an invalid file is fatal (``WebConfigError``), so a typo never
serves unprotected.

Turning TLS on or off needs a restart: the listening socket is plain or TLS.
So does anything that protects less: switching basic auth off, or weakening
``client_auth_type``. A reload reads whatever is on disk, and a file being
rewritten in place is, for a moment, empty or cut short; an empty file is
never a config at all. ``reload_status()`` feeds the reload metrics.
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
class ReloadStatus:
    """What the reload metrics show, read at once: like Prometheus's own
    ``prometheus_config_last_reload_successful`` and ``..._success_timestamp_seconds``."""

    successful: bool  # the last attempt took effect (True until one fails)
    success_timestamp: float  # Unix time of the last load that took effect (start-up counts)
    failures: int  # attempts refused since start-up
    reloads: int  # attempts that took effect since start-up


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
        wall_clock: Callable[[], float] = time.time,
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
        self._wall_clock = wall_clock
        self.reloads = 0
        self.reload_failures = 0
        self.last_reload_successful = True
        self.last_reload_success_timestamp = wall_clock()

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

    def reload_status(self) -> ReloadStatus:
        """For the reload metrics; looks at the files first, as a request does."""
        self._current()
        with self._lock:
            return ReloadStatus(
                self.last_reload_successful,
                self.last_reload_success_timestamp,
                self.reload_failures,
                self.reloads,
            )

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
                weaker = _weakening(self._loaded.config, loaded.config)
                if weaker:
                    raise WebConfigError(f"web config file {self.path}: {weaker}")
            except Exception as err:  # a reload must never break serving
                # Logged once per change of the files, not on every request.
                watch = self._watched(self._loaded.config) + self._named_by_file()
                self._failed = (watch, _stats(watch))
                self.reload_failures += 1
                self.last_reload_successful = False
                log.error("web config not reloaded, keeping the previous one: %s", err)
                return False
            if loaded.config.users == self._loaded.config.users:
                loaded = replace(loaded, auth=self._loaded.auth)  # keep the verdict cache
            self._loaded, self._failed = loaded, None
            self.reloads += 1
            self.last_reload_successful = True
            self.last_reload_success_timestamp = self._wall_clock()
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


# How much each client_auth_type asks of a client: a reload may keep or raise it.
_CLIENT_AUTH_STRENGTH = {"NoClientCert": 0, "VerifyClientCertIfGiven": 1,
                         "RequireAndVerifyClientCert": 2}  # fmt: skip


def _weakening(old: WebConfig, new: WebConfig) -> str | None:
    """Why ``new`` would protect less than ``old``, or None.

    A file rewritten in place is read while it is half-written: truncated, it has no
    users; cut short, it may have lost a section. So a reload never removes
    authentication; doing that on purpose needs a restart, like turning TLS off.
    """
    if old.users and not new.users:
        return ("basic_auth_users: a reload cannot switch basic auth off (the new file has "
                "no users); removing authentication needs a restart")  # fmt: skip
    if old.tls is not None and new.tls is not None:
        before, after = old.tls.client_auth_type, new.tls.client_auth_type
        if _CLIENT_AUTH_STRENGTH[after] < _CLIENT_AUTH_STRENGTH[before]:
            return (f"tls_server_config.client_auth_type: a reload cannot weaken {before} "
                    f"to {after}; weakening client authentication needs a restart")  # fmt: skip
    return None


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
