"""Access to the HTTP endpoints: the exporter-toolkit web config (TLS, basic auth, headers)."""

from exporter.web.access import OPEN_PATHS, ReloadStatus, WebAccess
from exporter.web.basic_auth import BasicAuth
from exporter.web.tls import build_ssl_context
from exporter.web.webconfig import TLSConfig, WebConfig, WebConfigError, load_web_config

__all__ = [
    "OPEN_PATHS",
    "BasicAuth",
    "ReloadStatus",
    "TLSConfig",
    "WebAccess",
    "WebConfig",
    "WebConfigError",
    "build_ssl_context",
    "load_web_config",
]
