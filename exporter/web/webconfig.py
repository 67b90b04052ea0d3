"""The exporter-toolkit web configuration file (``--web.config.file``).

Same YAML as every Prometheus exporter::

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: ca.crt
      min_version: TLS12
    http_server_config:
      headers:
        Strict-Transport-Security: max-age=31536000
    basic_auth_users:
      prometheus: $2b$12$...          # bcrypt hash

Parsing is strict like the toolkit's (unknown keys are errors) and every error
names the key. Settings the toolkit has but Python's ``ssl`` cannot honour
(RequestClientCert, RequireAnyClientCert, Go cipher-suite names, inline
certificates) are refused with a message rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.config.errors import ConfigError, excerpt, key_name
from exporter.config.safe_yaml import YAMLSyntaxError, load_yaml

TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")
CLIENT_AUTH_TYPES = ("NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
# The toolkit's names that Python's ssl module cannot implement: it has no
# "request a certificate but do not verify it" mode.
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
# The toolkit allows only these security headers, with these fixed values where it checks them.
ALLOWED_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
)
_HEADER_VALUES = {"X-Content-Type-Options": ("nosniff",), "X-Frame-Options": ("deny", "sameorigin")}
_BCRYPT = re.compile(r"^\$2[abxy]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$")
_TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")
_TLS_KEYS = ("cert_file", "key_file", "client_ca_file", "client_auth_type",
             "min_version", "max_version")  # fmt: skip
_TLS_UNSUPPORTED = ("cert", "key", "client_ca", "cipher_suites", "curve_preferences",
                    "prefer_server_cipher_suites", "client_allowed_sans")  # fmt: skip
_HTTP_KEYS = ("headers", "http2")
MAX_FILE_BYTES = 1 << 20


class WebConfigError(ValueError):
    """The web config file is unreadable or invalid; the message names the key."""


@dataclass(frozen=True)
class TLSConfig:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"

    @property
    def files(self) -> tuple[Path, ...]:
        extra = (self.client_ca_file,) if self.client_ca_file else ()
        return (self.cert_file, self.key_file, *extra)


@dataclass(frozen=True)
class WebConfig:
    tls: TLSConfig | None = None
    # user name -> bcrypt hash (bytes, ready for bcrypt.checkpw)
    users: Mapping[str, bytes] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate the file; raise WebConfigError naming the problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise WebConfigError(f"cannot read web config file {path}: {err.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise WebConfigError(f"web config file {path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise WebConfigError(f"web config file {path} is not UTF-8 text") from None
    except YAMLSyntaxError as err:
        raise WebConfigError(f"web config file {path} is not valid YAML: {err}") from None
    except ConfigError as err:
        raise WebConfigError(f"web config file {path}: {err}") from None
    if data is None:
        # What a reader sees while the file is rewritten in place (truncated, then
        # written): taking it for "no TLS, no auth" would open the endpoints.
        raise WebConfigError(
            f"web config file {path} is empty (or only comments): write {{}} to mean "
            "no TLS and no auth, or leave out --web.config.file"
        )
    try:
        return parse_web_config(data, base_dir=path.parent)
    except WebConfigError as err:
        raise WebConfigError(f"web config file {path}: {err}") from None


def parse_web_config(data: Any, base_dir: Path = Path()) -> WebConfig:
    """Validate an already-loaded YAML document. Pure: the files it names are not read."""
    if data is None:
        return WebConfig()
    _mapping(data, "the document")
    _known_keys(data, _TOP_KEYS, "")
    tls_raw = data.get("tls_server_config")
    http_raw = data.get("http_server_config") or {}
    _mapping(http_raw, "http_server_config")
    _known_keys(http_raw, _HTTP_KEYS, "http_server_config.")
    if "http2" in http_raw and not isinstance(http_raw["http2"], bool):
        raise WebConfigError("http_server_config.http2: must be true or false")
    return WebConfig(
        tls=None if tls_raw is None else _tls(tls_raw, base_dir),
        users=_users(data.get("basic_auth_users") or {}),
        headers=_headers(http_raw.get("headers") or {}),
    )


def _tls(raw: Any, base_dir: Path) -> TLSConfig | None:
    where = "tls_server_config"
    _mapping(raw, where)
    for key in raw:
        if key in _TLS_UNSUPPORTED:
            raise WebConfigError(f"{where}.{key_name(key)}: not supported by this exporter")
    _known_keys(raw, _TLS_KEYS, f"{where}.")
    values = {k: _string(raw, k, where) for k in _TLS_KEYS}
    if not values["cert_file"] and not values["key_file"]:
        if any(values[k] for k in ("client_ca_file", "client_auth_type")):
            raise WebConfigError(f"{where}: client settings given without cert_file and key_file")
        return None  # an empty tls_server_config means plain HTTP, as in the toolkit
    for key in ("cert_file", "key_file"):
        if not values[key]:
            raise WebConfigError(f"{where}.{key}: required when TLS is configured")
    auth = values["client_auth_type"] or "NoClientCert"
    if auth in UNSUPPORTED_CLIENT_AUTH:
        raise WebConfigError(
            f"{where}.client_auth_type: {auth} is not supported (Python's ssl module cannot "
            "request a certificate without verifying it); use one of "
            + ", ".join(CLIENT_AUTH_TYPES)
        )
    if auth not in CLIENT_AUTH_TYPES:
        raise WebConfigError(
            f"{where}.client_auth_type: unknown value {excerpt(auth)} "
            f"(expected one of {', '.join(CLIENT_AUTH_TYPES)})"
        )
    ca = values["client_ca_file"]
    if ca and auth == "NoClientCert":
        raise WebConfigError(f"{where}: client_ca_file is set but client_auth_type is NoClientCert")
    if auth != "NoClientCert" and not ca:
        raise WebConfigError(f"{where}.client_ca_file: required with client_auth_type {auth}")
    low = _version(values["min_version"] or "TLS12", f"{where}.min_version")
    high = _version(values["max_version"] or "TLS13", f"{where}.max_version")
    if TLS_VERSIONS.index(low) > TLS_VERSIONS.index(high):
        raise WebConfigError(f"{where}: min_version {low} is above max_version {high}")
    return TLSConfig(
        cert_file=base_dir / values["cert_file"],
        key_file=base_dir / values["key_file"],
        client_auth_type=auth,
        client_ca_file=base_dir / ca if ca else None,
        min_version=low,
        max_version=high,
    )


def _version(value: str, where: str) -> str:
    if value not in TLS_VERSIONS:
        raise WebConfigError(
            f"{where}: unknown TLS version {excerpt(value)} (expected TLS12 or TLS13)"
        )
    return value


def _users(raw: Any) -> dict[str, bytes]:
    _mapping(raw, "basic_auth_users")
    users: dict[str, bytes] = {}
    for name, hashed in raw.items():
        where = f"basic_auth_users.{key_name(name)}"
        if not isinstance(name, str) or not name or ":" in name:
            raise WebConfigError(f"{where}: a user name must be a non-empty string without ':'")
        if not isinstance(hashed, str) or not _BCRYPT.match(hashed):
            raise WebConfigError(f"{where}: not a bcrypt hash (expected $2b$<cost>$<53 chars>)")
        users[name] = hashed.encode("ascii")
    return users


def _headers(raw: Any) -> dict[str, str]:
    _mapping(raw, "http_server_config.headers")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        where = f"http_server_config.headers.{key_name(name)}"
        lowered = name.lower() if isinstance(name, str) else None
        canonical = next((h for h in ALLOWED_HEADERS if h.lower() == lowered), None)
        if canonical is None:
            raise WebConfigError(
                f"{where}: this header cannot be configured (allowed: {', '.join(ALLOWED_HEADERS)})"
            )
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise WebConfigError(f"{where}: must be a single-line string")
        allowed = _HEADER_VALUES.get(canonical)
        if allowed and value.lower() not in allowed:
            raise WebConfigError(
                f"{where}: must be one of {', '.join(allowed)}, got {excerpt(value)}"
            )
        headers[canonical] = value
    return headers


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebConfigError(f"{where}.{key}: must be a string, got {type(value).__name__}")
    return value


def _known_keys(raw: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in raw:
        if key not in known:
            expected = ", ".join(known)
            raise WebConfigError(
                f"{prefix}{key_name(key)}: unknown key (expected one of: {expected})"
            )


def _mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise WebConfigError(f"{where}: must be a mapping, got {type(value).__name__}")
