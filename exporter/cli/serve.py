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
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from exporter import __version__
from exporter.config import Config, load_config
from exporter.config.flags import FLAGS, format_duration, parse_listen_address, with_command_line
from exporter.config.settings import Settings
from exporter.core.report import ReportFormatError, parse_report
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.app import Daemon, DaemonSettings, Hooks
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.labels import make_labeler
from exporter.daemon.logs import setup_logging
from exporter.daemon.refresh import AccountTarget, utc_now
from exporter.sources.base import FileReportSource, SourceError

log = logging.getLogger("exporter.serve")

STOP_GRACE_SECONDS = 3.0


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
            shown = "" if flag.default in (None, ()) else f" (default: {_show(flag.default)})"
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
        return format_duration(value)
    return str(value)


def resolve_flags(args: argparse.Namespace, config: Config) -> Settings:
    """Command line, else the config file's flags:, else the default."""
    return with_command_line(config.settings, {f.dest: getattr(args, f.dest, None) for f in FLAGS})


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    flags = resolve_flags(args, config)
    config = replace(config, settings=flags)
    setup_logging(flags.log_level, flags.log_format)
    targets = build_targets(flags, config)
    accounts = AccountsWiring(config, targets)  # the accounts: section, roles, shards
    interval: timedelta = flags.refresh_interval
    settings = DaemonSettings(
        listen=parse_listen_address(flags.web_listen_address),
        telemetry_path=flags.web_telemetry_path,
        refresh_interval=interval,
        workers=flags.refresh_workers,
        max_connections=flags.web_max_connections,
        exposition=ExpositionOptions(
            refresh_interval=interval,
            finding_series=flags.metrics_finding_series,
            finding_series_limit=flags.metrics_finding_series_limit,
            user_facts=flags.metrics_user_facts,
            user_label=make_labeler(flags.labels_user, flags.labels_user_hash_key_file),
            collectors=(accounts.collector,),
        ),
    )
    hooks, target_list = security_hooks(flags, config, settings, accounts.targets)
    hooks.state_hooks = [accounts.state_hook, *hooks.state_hooks]
    try:
        daemon = Daemon(target_list, config, settings, hooks)
    except OSError as err:
        raise ValueError(
            f"--web.listen-address: cannot listen on {flags.web_listen_address}: {err.strerror}"
        ) from None
    return serve_until_signalled(daemon)


def security_hooks(
    flags: Settings,
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

    web = WebHooks(WebAccess(flags.web_config_file))
    hooks = Hooks(auth=web.auth, headers=web.headers, ssl_context=web.ssl_context)
    if flags.state_dir:
        persistence = StatePersistence(StateStore(flags.state_dir), config, settings.exposition)
        hooks.state_hooks = [*hooks.state_hooks, persistence.save]
        hooks.on_snapshot = [*hooks.on_snapshot, persistence.prune]
        hooks.initial_snapshot = persistence.restore(utc_now())
        targets = persistence.wrap(targets)
    return hooks, targets


def build_targets(flags: Settings, config: Config) -> list[AccountTarget]:
    paths = list(flags.report_file)
    if flags.demo:
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
