"""The daemon's HTTP hooks (auth, headers, TLS context) backed by a ``WebAccess``."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from email.message import Message

from exporter.web.access import ReloadStatus, WebAccess


class WebHooks:
    """Bound methods for ``exporter.daemon.app.Hooks``; each call sees the live config."""

    def __init__(self, access: WebAccess) -> None:
        self.access = access

    def auth(self, path: str, headers: Message) -> bool:
        return self.access.authorized(path, headers.get("Authorization"))

    def headers(self) -> Iterable[tuple[str, str]]:
        return self.access.headers().items()

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.access.ssl_context()

    def reload_status(self) -> ReloadStatus:
        """For ``aws_iam_exporter_web_config_last_reload_successful`` and its timestamp."""
        return self.access.reload_status()
