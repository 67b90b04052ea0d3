"""The command-line flags of ``serve``, one per ``Settings`` field, and their parsers.

Each flag is also a key of the config file's ``flags:`` mapping (its name without
the dashes); both are parsed by the same function, so they accept the same values
and reject bad ones with the same message. Defaults live in ``Settings`` only.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any

from exporter.config.errors import ConfigError, excerpt, key_name
from exporter.config.settings import Settings

LOG_LEVELS = ("debug", "info", "warn", "error")
# logfmt is Prometheus's default; "text" is the same format, by its older name here.
LOG_FORMATS = ("logfmt", "json", "text")
USER_LABEL_MODES = ("name", "hash", "none")
KEY_ENV = "AWS_IAM_EXPORTER_USER_HASH_KEY"

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# Every duration (refresh interval, AWS timeouts, poll deadline) is at most this: beyond
# it a schedule or a deadline overflows the date arithmetic (999999999d raised
# OverflowError), and no sane interval or timeout is longer.
MAX_DURATION = timedelta(days=3650)
_TELEMETRY_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+/?")
_DURATION_CHARS = 40  # "3650d23h59m59s" is 14; longer text is not a duration worth parsing
_DEFAULTS = Settings()


def parse_duration(text: str) -> timedelta:
    """A duration as Prometheus writes it: ``30s``, ``5m``, ``1h``, ``1h30m``, ``2d``;
    at most ``MAX_DURATION``."""
    m = _DURATION.match(text.strip()) if len(text) <= _DURATION_CHARS else None
    if not text.strip() or not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(
            f"not a duration: {excerpt(text)} (examples: 30s, 5m, 1h, 1h30m)"
        )
    d, h, mi, s = (int(g or 0) for g in m.groups())
    try:
        value = timedelta(days=d, hours=h, minutes=mi, seconds=s)
    except OverflowError:  # beyond timedelta's 999,999,999 days
        value = None
    if value is None or value > MAX_DURATION:
        raise argparse.ArgumentTypeError(
            f"must be at most {format_duration(MAX_DURATION)} (ten years), got {excerpt(text)}"
        )
    return value


def format_duration(d: timedelta) -> str:
    """Prometheus style: 1h, 30m, 1h30m, 45s."""
    seconds = int(d.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def parse_listen_address(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` (all interfaces) or ``[v6]:port``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or len(port) > 5 or not 0 <= int(port) <= 65535:
        raise ValueError(
            f"--web.listen-address: {excerpt(text)} is not host:port "
            "(examples: :10063, 127.0.0.1:10063)"
        )
    host = host.strip("[]") if host.startswith("[") else host
    if ":" in host and not text.startswith("["):
        raise ValueError(f"--web.listen-address: write IPv6 addresses in brackets: {excerpt(text)}")
    return host, int(port)


def _at_least(minimum: int, wording: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"not a whole number: {excerpt(text)}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wording}, got {value}")
        return value

    return parse


_positive_int = _at_least(1, "at least 1")
_count = _at_least(0, "0 or more")


def _interval(text: str) -> timedelta:
    value = parse_duration(text)
    if value < timedelta(seconds=1):
        raise argparse.ArgumentTypeError(f"must be at least 1s, got {excerpt(text)}")
    return value


_SIZE = re.compile(r"^([0-9]{1,15})\s*([KMG]i?B|B)?$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}  # fmt: skip


def _byte_size(text: str) -> int:
    """A size in bytes: ``1048576``, ``64MiB``, ``500KB`` (KB, MB, GB are powers of 1000)."""
    m = _SIZE.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(
            f"not a size: {excerpt(text)} (examples: 67108864, 64MiB, 500KB)"
        )
    value = int(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, got {excerpt(text)}")
    return value


def _path(text: str) -> str:
    # The server compares the request path, query cut off, with this text as it is: a
    # "?", "#", "%" or space, an empty, "." or ".." segment, or anything under /-/ (the
    # health paths) would never match a request, and every scrape would be a 404.
    if (
        not _TELEMETRY_PATH.fullmatch(text)
        or text.startswith("/-/")
        or any(segment in (".", "..") for segment in text.split("/"))
    ):
        raise argparse.ArgumentTypeError(
            "must be an absolute path of letters, digits and -._~/ other than / and not "
            f"under /-/ (e.g. /metrics), got {excerpt(text)}"
        )
    return text


# IAM's tag key: 1 to 128 letters, digits, spaces and _.:/=+-@ (IAM's TagKeyType).
_TAG_KEY_CHARS = frozenset("_.:/=+-@ ")
TAG_KEY_MAX = 128


def parse_tag_key(text: str) -> str:
    if (
        not text
        or len(text) > TAG_KEY_MAX
        or not all(c.isalnum() or c in _TAG_KEY_CHARS for c in text)
    ):
        raise argparse.ArgumentTypeError(
            f"not an IAM tag key: {excerpt(text)} (1 to {TAG_KEY_MAX} letters, digits, "
            "spaces and _.:/=+-@, e.g. owner)"
        )
    return text


def _address(text: str) -> str:
    try:
        parse_listen_address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).split(": ", 1)[1]) from None
    return text


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"must be one of {', '.join(choices)}, got {excerpt(text)}"
            )
        return text

    return parse


@dataclass(frozen=True)
class Flag:
    name: str  # without dashes; also the key in the config file's flags: mapping
    help: str
    parse: Callable[[str], Any] | None = None  # None: a boolean --x / --no-x
    metavar: str | None = None
    repeatable: bool = False

    @property
    def dest(self) -> str:
        """The ``Settings`` field (and argparse destination) of this flag."""
        return self.name.replace(".", "_").replace("-", "_")

    @property
    def default(self) -> Any:
        return getattr(_DEFAULTS, self.dest)


FLAGS: tuple[Flag, ...] = (
    Flag("web.listen-address", "address to listen on for the web interface and telemetry",
         _address, "ADDR"),
    Flag("web.telemetry-path", "path under which to expose metrics", _path, "PATH"),
    Flag("web.max-connections", "most HTTP connections served at once; more are closed",
         _positive_int, "N"),
    Flag("log.level", "only log messages with the given severity or above: "
         + ", ".join(LOG_LEVELS), _choice(LOG_LEVELS), "LEVEL"),
    Flag("log.format", "output format of log messages: logfmt (also called text) or json",
         _choice(LOG_FORMATS), "FORMAT"),
    Flag("refresh.interval", "how often to refresh the credential reports (30s, 5m, 1h...)",
         _interval, "DURATION"),
    Flag("refresh.workers", "accounts refreshed in parallel", _positive_int, "N"),
    Flag("report-file", "serve this saved credential report instead of AWS, re-read on "
         "every refresh; repeatable", str, "PATH", repeatable=True),
    Flag("report.allow-incomplete", "serve reports without the <root_account> row (moto, "
         "trimmed fixtures) without the root checks, instead of failing the refresh"),
    Flag("demo", "serve three built-in synthetic accounts (no AWS, no network)"),
    Flag("metrics.finding-series", "export aws_iam_finding, one series per finding"),
    Flag("metrics.finding-series-limit", "at most this many aws_iam_finding series; the "
         "rest are counted in aws_iam_finding_series_dropped", _count, "N"),
    Flag("metrics.user-facts", "export per-user raw facts (MFA, last use and rotation "
         "times); high cardinality"),
    Flag("web.config.file", "exporter-toolkit web config (TLS, basic auth, headers); "
         "re-read when it changes", str, "FILE"),
    Flag("labels.user", "what the user label carries: name, hash (keyed HMAC) or none "
         "(aggregates only)", _choice(USER_LABEL_MODES), "MODE"),
    Flag("labels.user-hash-key-file", f"key for --labels.user=hash (else ${KEY_ENV})",
         str, "FILE"),
    Flag("labels.owner-tag", "IAM tag whose value is the owner label of user and role "
         "findings; repeatable, first match wins (users without it: owner=\"\")",
         parse_tag_key, "TAG", repeatable=True),
    Flag("state.dir", "keep the last good report of each account here; served at start-up",
         str, "DIR"),
    Flag("aws.max-attempts", "retries of a failed AWS call, with backoff (botocore's "
         "max_attempts: the first call is not counted)", _positive_int, "N"),
    Flag("aws.connect-timeout", "AWS connect timeout", _interval, "DURATION"),
    Flag("aws.read-timeout", "AWS read timeout", _interval, "DURATION"),
    Flag("aws.poll-deadline", "give up waiting for a credential report after this long",
         _interval, "DURATION"),
    Flag("shard.index", "this replica's shard, 0 to N-1 (e.g. a StatefulSet pod ordinal)",
         _count, "I"),
    Flag("shard.count", "replicas sharing the accounts by a stable hash of the account id",
         _positive_int, "N"),
    Flag("web.read-header-timeout", "close a connection whose TLS handshake and request "
         "head take longer than this in all, however slowly they trickle in",
         _interval, "DURATION"),
    Flag("report.max-bytes", "refuse a credential report larger than this, in bytes or "
         "with a unit (64MiB, 500KB); real reports of 5000 users are 1-2 MB",
         _byte_size, "SIZE"),
    Flag("organizations.central-root", "with Organizations discovery, read whether the "
         "organisation manages its members' root credentials (iam:ListOrganizationsFeatures); "
         "a member root without any credential then skips the root MFA checks"),
    Flag("access-advisor.enabled", "run IAM Access Advisor jobs for each account's roles "
         "(role_unused_services), on their own schedule"),
    Flag("access-advisor.interval", "re-read a role's Access Advisor result when it is older "
         "than this", _interval, "DURATION"),
    Flag("access-advisor.jobs-per-account", "at most this many Access Advisor jobs per account "
         "per run", _positive_int, "N"),
    Flag("access-advisor.concurrency", "Access Advisor jobs running at once, all accounts "
         "together", _positive_int, "N"),
    Flag("upcoming.window", "findings that a day threshold will raise within this long are "
         "upcoming (aws_iam_upcoming_findings)", parse_duration, "DURATION"),
)  # fmt: skip

_BY_NAME = {f.name: f for f in FLAGS}
assert {f.dest for f in FLAGS} == {f.name for f in fields(Settings)}, "a flag per setting"


def settings_from_file(raw: Mapping[str, Any]) -> Settings:
    """The config file's ``flags:`` mapping, validated; every error names its key."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        flag = _BY_NAME.get(key) if isinstance(key, str) else None
        if flag is None:
            raise ConfigError(
                f"flags.{key_name(key)}: unknown flag (known: {', '.join(sorted(_BY_NAME))})"
                + (" ; --config cannot be set from the config file" if key == "config" else "")
            )
        values[flag.dest] = _from_file(flag, value)
    return replace(_DEFAULTS, **values)


def with_command_line(settings: Settings, given: Mapping[str, Any]) -> Settings:
    """``settings`` with the flags given on the command line (by ``Settings`` field;
    ``None`` means not given). The command line wins over the file."""
    values = {dest: value for dest, value in given.items() if value is not None}
    for flag in FLAGS:
        if flag.repeatable and flag.dest in values:
            values[flag.dest] = tuple(values[flag.dest])
    return replace(settings, **values)


def _from_file(flag: Flag, raw: Any) -> Any:
    where = f"flags.{flag.name}"
    if flag.parse is None:
        if not isinstance(raw, bool):
            raise ConfigError(f"{where}: must be true or false, got {excerpt(raw)}")
        return raw
    items = raw if flag.repeatable and isinstance(raw, list) else [raw]
    if flag.repeatable and not isinstance(raw, (list, str)):
        raise ConfigError(f"{where}: must be a string or a list of strings, got {excerpt(raw)}")
    out = []
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            raise ConfigError(f"{where}: must be a single value, got {excerpt(item)}")
        try:
            out.append(flag.parse(item if isinstance(item, str) else str(item)))
        except (argparse.ArgumentTypeError, ValueError) as err:
            # ValueError: str() of an integer of thousands of digits refuses to convert it.
            raise ConfigError(f"{where}: {err}") from None
    return tuple(out) if flag.repeatable else out[0]
