"""``serve``: the long-running exporter.

Flags follow Prometheus exporter conventions. Each one can also be set in the
config file's ``flags:`` mapping under the same name without the dashes
(``refresh.interval: 30m``); the command line wins. To add a flag, add a
``Flag`` to ``FLAGS``: the config-file key and the validation come with it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

from exporter.config import Config, load_config
from exporter.config.flags import FLAGS, format_duration, with_command_line
from exporter.config.settings import Settings

SWITCH_INTERVAL_SECONDS = 0.0005


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
    given = {f.dest: getattr(args, f.dest, None) for f in FLAGS}
    settings = with_command_line(config.settings, given)
    if settings.demo and given.get("access_advisor_enabled") is None:
        # The demo shows every check, role_unused_services too: its accounts answer
        # Access Advisor's jobs, and no AWS quota is spent (--no-access-advisor.enabled
        # turns it off).
        settings = replace(settings, access_advisor_enabled=True)
    return settings


def run(args: argparse.Namespace) -> int:
    # Imported here: the daemon (prometheus_client, apscheduler, http.server) is a
    # third of the start-up of audit, diff and --help, which never use it.
    from exporter.daemon.app import run_until_signalled
    from exporter.daemon.compose import build_daemon
    from exporter.daemon.logs import setup_logging

    config = load_config(args.config)
    config = replace(config, settings=resolve_flags(args, config))
    # A scrape needs the interpreter a few times (accept, parse, send); each time it
    # waits for the refresh thread to hand it over, by default after 5 ms. At 0.5 ms
    # the scrape p99 during an organisation's refresh halved (docs/performance.md);
    # with no thread waiting, no hand-over happens and nothing is lost.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    setup_logging(config.settings.log_level, config.settings.log_format)
    return run_until_signalled(build_daemon(config))
