"""The composition root: a validated ``Config`` becomes a ready-to-start ``Daemon``.

Where the accounts come from (``--demo``, ``--report-file``, else the ``accounts:``
section), the web access rules of ``--web.config.file``, ``--state.dir`` and the
``user`` labeler are wired here and nowhere else. Errors that must stop start-up
(an invalid web config, an unusable state directory, a port in use) are raised as
``ValueError``/``ConfigError`` with a one-line message.
"""

from __future__ import annotations

from dataclasses import replace

from exporter.config import Config
from exporter.config.settings import Settings
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.app import Daemon, Hooks
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.labels import make_labeler
from exporter.daemon.refresh import AccountTarget, utc_now
from exporter.sources.base import FileReportSource


def build_daemon(config: Config) -> Daemon:
    settings = config.settings
    if settings.demo and not config.exemptions:
        config = with_demo_exemptions(config)
    if settings.demo:
        from exporter.sources.demo import with_demo_owner_tag

        config = with_demo_owner_tag(config)  # owners show unless other tags are named
        settings = config.settings
    accounts = AccountsWiring(config, fixed_targets(settings))  # accounts:, roles, shards
    options = ExpositionOptions.from_settings(
        settings,
        user_label=make_labeler(settings.labels_user, settings.labels_user_hash_key_file),
        collectors=(accounts.collector,),
    )
    hooks = web_hooks(settings)
    hooks.state_hooks = [accounts.state_hook]
    hooks.header = accounts.header
    # AWS accounts, and the demo's (whose sources answer Access Advisor's jobs too).
    if settings.access_advisor_enabled and (accounts.directory is not None or settings.demo):
        hooks = with_access_advisor(hooks, accounts, config)
    if settings.state_dir:
        hooks = with_state(hooks, settings.state_dir, config, options)
    try:
        return Daemon(accounts.targets, config, hooks, options)
    except OSError as err:
        address = settings.web_listen_address
        raise ValueError(
            f"--web.listen-address: cannot listen on {address}: {err.strerror}"
        ) from None


def fixed_targets(settings: Settings) -> list[AccountTarget]:
    """The targets of --demo or --report-file; [] for AWS (the accounts: section)."""
    paths = list(settings.report_file)
    if settings.demo:
        if paths:
            raise ValueError("--demo cannot be combined with --report-file")
        from exporter.sources.demo import DEMO_ACCOUNTS, DemoSource

        return [AccountTarget(a.account_id, a.name, DemoSource(account=a)) for a in DEMO_ACCOUNTS]
    if "-" in paths:
        raise ValueError("--report-file - (standard input) cannot be served: give a file")
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise ValueError(f"--report-file: {', '.join(twice)} given more than once")
    # A file's account is the one its report names, learnt at each read (refresh.py).
    limit = settings.report_max_bytes
    return [AccountTarget("", path, FileReportSource(path, limit)) for path in paths]


def with_demo_exemptions(config: Config) -> Config:
    """The demo's exemptions (one active, one expiring soon, one expired), dated from today."""
    from exporter.sources.demo import demo_exemptions

    named = demo_exemptions(utc_now().date())
    return replace(
        config,
        exemptions=tuple(e for _, e in named),
        exemption_ids=tuple(i for i, _ in named),
    )


def web_hooks(settings: Settings) -> Hooks:
    """TLS, auth and headers from --web.config.file (invalid: start-up stops here)."""
    from exporter.daemon.web_metrics import WebReloadCollector
    from exporter.web import WebAccess
    from exporter.web.hooks import WebHooks

    web = WebHooks(WebAccess(settings.web_config_file))
    return Hooks(
        auth=web.auth,
        headers=web.headers,
        ssl_context=web.ssl_context,
        live_collectors=(WebReloadCollector(web.reload_status),),
    )


def with_access_advisor(hooks: Hooks, accounts: AccountsWiring, config: Config) -> Hooks:
    """IAM Access Advisor jobs on their own schedule, fed by the refresh's state hook."""
    from exporter.daemon.access_advisor import AccessAdvisor

    advisor = accounts.advisor = AccessAdvisor(config)
    return replace(
        hooks,
        services=[*hooks.services, advisor],
        live_collectors=[*hooks.live_collectors, advisor.collector()],
    )


def with_state(hooks: Hooks, directory: str, config: Config, options: ExpositionOptions) -> Hooks:
    """Save each good report under --state.dir and serve the saved ones at start-up."""
    from exporter.daemon.persistence import StatePersistence
    from exporter.daemon.state_store import StateStore

    store = StateStore(directory, config.settings.report_max_bytes)
    persistence = StatePersistence(store, config, options)
    return replace(
        hooks,
        on_report=[*hooks.on_report, persistence.save],
        on_snapshot=[*hooks.on_snapshot, persistence.prune],
        restore=lambda: persistence.restore(utc_now()),
        live_collectors=[*hooks.live_collectors, persistence.collector()],
    )
