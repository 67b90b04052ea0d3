"""``serve``: the long-running exporter.

Flags follow Prometheus exporter conventions. Each one can also be set in the
config file's ``flags:`` mapping under the same name without the dashes
(``refresh.interval: 30m``); the command line wins. To add a flag, add a
``Flag`` to ``FLAGS``: the config-file key and the validation come with it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from exporter import __version__
from exporter.cli.common import parse_duration
from exporter.config import Config, ConfigError, load_config
from exporter.core.report import ReportFormatError, parse_report
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.app import Daemon, DaemonSettings, Hooks
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.http import parse_listen_address
from exporter.daemon.labels import KEY_ENV, USER_LABEL_MODES, make_labeler
from exporter.daemon.logs import FORMATS, LEVELS, setup_logging
from exporter.daemon.refresh import AccountTarget, utc_now
from exporter.sources.base import FileReportSource, SourceError

log = logging.getLogger("exporter.serve")

DEFAULT_PORT = 10063
STOP_GRACE_SECONDS = 3.0


def _at_least(minimum: int, wording: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wording}, got {value}")
        return value

    return parse


_positive_int = _at_least(1, "at least 1")
_count = _at_least(0, "0 or more")


def _interval(text: str) -> timedelta:
    value = parse_duration(text)
    if value < timedelta(seconds=1):
        raise argparse.ArgumentTypeError(f"must be at least 1s, got {text!r}")
    return value


def _path(text: str) -> str:
    if not text.startswith("/") or text in ("/", "/-/healthy", "/-/ready"):
        raise argparse.ArgumentTypeError(
            f"must start with / and differ from /, /-/healthy and /-/ready, got {text!r}"
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
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


@dataclass(frozen=True)
class Flag:
    name: str  # without dashes; also the key in the config file's flags: mapping
    help: str
    default: Any = None
    parse: Callable[[str], Any] | None = None  # None: a boolean --x / --no-x
    metavar: str | None = None
    repeatable: bool = False

    @property
    def dest(self) -> str:
        return self.name.replace(".", "_").replace("-", "_")


FLAGS: list[Flag] = [
    Flag("web.listen-address", "address to listen on for the web interface and telemetry",
         f":{DEFAULT_PORT}", _address, "ADDR"),
    Flag("web.telemetry-path", "path under which to expose metrics", "/metrics", _path, "PATH"),
    Flag("web.max-connections", "most HTTP connections served at once; more are closed",
         512, _positive_int, "N"),
    Flag("log.level", "only log messages with the given severity or above: "
         + ", ".join(LEVELS), "info", _choice(tuple(LEVELS)), "LEVEL"),
    Flag("log.format", "output format of log messages: text or json", "text",
         _choice(FORMATS), "FORMAT"),
    Flag("refresh.interval", "how often to refresh the credential reports (30s, 5m, 1h...)",
         timedelta(hours=1), _interval, "DURATION"),
    Flag("refresh.workers", "accounts refreshed in parallel", 4, _positive_int, "N"),
    Flag("report-file", "serve this saved credential report instead of AWS, re-read on "
         "every refresh; repeatable", None, str, "PATH", repeatable=True),
    Flag("demo", "serve two built-in synthetic accounts (no AWS, no network)", False),
    Flag("metrics.finding-series", "export aws_iam_finding, one series per finding", True),
    Flag("metrics.finding-series-limit", "at most this many aws_iam_finding series; the "
         "rest are counted in aws_iam_finding_series_dropped", 50_000, _count, "N"),
    Flag("metrics.user-facts", "export per-user raw facts (MFA, last use and rotation "
         "times); high cardinality", False),
    # Security and reliability: exporter/web, exporter/daemon/labels.py, state_store.py.
    Flag("web.config.file", "exporter-toolkit web config (TLS, basic auth, headers); "
         "re-read when it changes", None, str, "FILE"),
    Flag("labels.user", "what the user label carries: name, hash (keyed HMAC) or none "
         "(aggregates only)", "name", _choice(USER_LABEL_MODES), "MODE"),
    Flag("labels.user-hash-key-file", f"key for --labels.user=hash (else ${KEY_ENV})",
         None, str, "FILE"),
    Flag("state.dir", "keep the last good report of each account here; served at start-up",
         None, str, "DIR"),
    Flag("aws.max-attempts", "retries of a failed AWS call, with backoff (botocore's "
         "max_attempts: the first call is not counted)", 5, _positive_int, "N"),
    Flag("aws.connect-timeout", "AWS connect timeout", timedelta(seconds=5), _interval,
         "DURATION"),
    Flag("aws.read-timeout", "AWS read timeout", timedelta(seconds=20), _interval, "DURATION"),
    Flag("aws.poll-deadline", "give up waiting for a credential report after this long",
         timedelta(minutes=2), _interval, "DURATION"),
    # Many accounts: exporter/daemon/accounts.py, exporter/core/sharding.py.
    Flag("shard.index", "this replica's shard, 0 to N-1 (e.g. a StatefulSet pod ordinal)",
         0, _count, "I"),
    Flag("shard.count", "replicas sharing the accounts by a stable hash of the account id",
         1, _positive_int, "N"),
]  # fmt: skip


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the findings to Prometheus",
        description="Refresh the IAM credential report on a schedule and serve the findings "
        "as Prometheus metrics. Every flag can also be set in the config file under flags:, "
        "e.g. 'refresh.interval: 30m'; the command line wins.",
    )
    p.add_argument("--config", metavar="FILE", help="YAML configuration file")
    for flag in FLAGS:
        if flag.parse is None:
            p.add_argument(
                f"--{flag.name}",
                dest=flag.dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{flag.help} (default: {'on' if flag.default else 'off'})",
            )
        else:
            shown = "" if flag.default is None else f" (default: {_show(flag.default)})"
            p.add_argument(
                f"--{flag.name}",
                dest=flag.dest,
                type=flag.parse,
                metavar=flag.metavar,
                action="append" if flag.repeatable else "store",
                default=None,
                help=flag.help + shown,
            )
    p.set_defaults(run=run)


def _show(value: Any) -> str:
    if isinstance(value, timedelta):
        from exporter.daemon.exposition import format_duration

        return format_duration(value)
    return str(value)


def resolve_flags(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """Command line, else the config file's flags:, else the default; keyed by flag name."""
    known = {f.name: f for f in FLAGS}
    for key in config.flags:
        if key not in known:
            raise ConfigError(
                f"flags.{key}: unknown flag (known: {', '.join(sorted(known))})"
                + (" ; --config cannot be set from the config file" if key == "config" else "")
            )
    values: dict[str, Any] = {}
    for flag in FLAGS:
        given = getattr(args, flag.dest, None)
        if given is not None:
            values[flag.name] = given
        elif flag.name in config.flags:
            values[flag.name] = _from_config(flag, config.flags[flag.name])
        else:
            values[flag.name] = flag.default
    return values


def _from_config(flag: Flag, raw: Any) -> Any:
    where = f"flags.{flag.name}"
    if flag.parse is None:
        if not isinstance(raw, bool):
            raise ConfigError(f"{where}: must be true or false, got {raw!r}")
        return raw
    items = raw if flag.repeatable and isinstance(raw, list) else [raw]
    if flag.repeatable and not isinstance(raw, (list, str)):
        raise ConfigError(f"{where}: must be a string or a list of strings, got {raw!r}")
    out = []
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            raise ConfigError(f"{where}: must be a single value, got {item!r}")
        try:
            out.append(flag.parse(str(item)))
        except argparse.ArgumentTypeError as err:
            raise ConfigError(f"{where}: {err}") from None
    return out if flag.repeatable else out[0]


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    flags = resolve_flags(args, config)
    setup_logging(flags["log.level"], flags["log.format"])
    targets = build_targets(flags, config)
    accounts = AccountsWiring(flags, config, targets)  # the accounts: section, roles, shards
    interval: timedelta = flags["refresh.interval"]
    settings = DaemonSettings(
        listen=parse_listen_address(flags["web.listen-address"]),
        telemetry_path=flags["web.telemetry-path"],
        refresh_interval=interval,
        workers=flags["refresh.workers"],
        max_connections=flags["web.max-connections"],
        exposition=ExpositionOptions(
            refresh_interval=interval,
            finding_series=flags["metrics.finding-series"],
            finding_series_limit=flags["metrics.finding-series-limit"],
            user_facts=flags["metrics.user-facts"],
            user_label=make_labeler(flags["labels.user"], flags["labels.user-hash-key-file"]),
            collectors=(accounts.collector,),
        ),
    )
    hooks, target_list = security_hooks(flags, config, settings, accounts.targets)
    hooks.state_hooks = [accounts.state_hook, *hooks.state_hooks]
    try:
        daemon = Daemon(target_list, config, settings, hooks)
    except OSError as err:
        raise ValueError(
            f"--web.listen-address: cannot listen on {flags['web.listen-address']}: {err.strerror}"
        ) from None
    return serve_until_signalled(daemon)


def security_hooks(
    flags: dict[str, Any],
    config: Config,
    settings: DaemonSettings,
    targets: Callable[[], Sequence[AccountTarget]],
) -> tuple[Hooks, Callable[[], Sequence[AccountTarget]]]:
    """TLS, auth and headers from --web.config.file; save/restore from --state.dir.

    An invalid web config or an unusable state directory stops start-up here.
    """
    from exporter.daemon.persistence import StatePersistence
    from exporter.daemon.state_store import StateStore
    from exporter.web import WebAccess
    from exporter.web.hooks import WebHooks

    web = WebHooks(WebAccess(flags["web.config.file"]))
    hooks = Hooks(auth=web.auth, headers=web.headers, ssl_context=web.ssl_context)
    if flags["state.dir"]:
        persistence = StatePersistence(StateStore(flags["state.dir"]), config, settings.exposition)
        hooks.state_hooks = [*hooks.state_hooks, persistence.save]
        hooks.on_snapshot = [*hooks.on_snapshot, persistence.prune]
        hooks.initial_snapshot = persistence.restore(utc_now())
        targets = persistence.wrap(targets)
    return hooks, targets


def build_targets(flags: dict[str, Any], config: Config) -> list[AccountTarget]:
    paths: list[str] | None = flags["report-file"]
    if flags["demo"]:
        if paths:
            raise ValueError("--demo cannot be combined with --report-file")
        from exporter.sources.demo import DEMO_ACCOUNTS, DemoSource

        return [AccountTarget(a.account_id, a.name, DemoSource(account=a)) for a in DEMO_ACCOUNTS]
    if paths:
        if "-" in paths:
            raise ValueError("--report-file - (standard input) cannot be served: give a file")
        targets = [AccountTarget(_file_account_id(p), p, FileReportSource(p)) for p in paths]
        keys = [t.identity for t in targets]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(
                f"--report-file: several files are for account(s) {', '.join(duplicates)}"
            )
        return targets
    # AWS: the accounts: section (default: the ambient account), see AccountsWiring.
    return []


def _file_account_id(path: str) -> str:
    """The account id in a report file, read once at start-up; "" if it cannot be read yet."""
    if not Path(path).is_file():
        return ""  # a missing file or a pipe: learn the id from the first refresh instead
    try:
        return parse_report(FileReportSource(path).fetch().content).account_id or ""
    except (SourceError, ReportFormatError) as err:
        log.warning("cannot read %s yet: %s", path, err)
        return ""


def serve_until_signalled(daemon: Daemon) -> int:
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
