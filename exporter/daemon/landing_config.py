"""The landing page's summary of the effective configuration: the version, what differs
from the defaults (flags, check settings, role audit) and the exemptions with their
state and expiry. Defaults are read from where they are declared (``Settings``, the
check catalogue), never repeated here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from html import escape
from typing import Any

from exporter.config import Config
from exporter.config.flags import FLAGS, format_duration
from exporter.core.policy import CheckConfig, RoleAudit, default_checks
from exporter.daemon.doc_links import check_doc_url
from exporter.daemon.exemptions import ExemptionStatus


def configuration_section(
    config: Config | None,
    exemptions: tuple[ExemptionStatus, ...],
    version: str,
    now: datetime,
) -> str:
    out = [
        "<section id='configuration'><h2>Configuration</h2>",
        f"<p>Exporter version <strong>{escape(version)}</strong>.</p>",
    ]
    if config is not None:
        changed = [*_flag_lines(config), *_check_lines(config.checks), *_role_lines(config.roles)]
        if changed:
            out.append("<p>Differs from the defaults:</p><ul>")
            out.extend(f"<li>{line}</li>" for line in changed)
            out.append("</ul>")
        else:
            out.append("<p>Every flag, check and threshold has its default value.</p>")
    if exemptions:
        out.append(exemptions_table(exemptions, now))
    elif config is not None:
        out.append("<p>No exemptions are configured.</p>")
    out.append("</section>")
    return "\n".join(out)


def exemptions_table(exemptions: tuple[ExemptionStatus, ...], now: datetime) -> str:
    out = ["<h3 id='exemptions'>Exemptions</h3><div class='scroll'>",
           "<table><tr><th>Exemption</th><th>Covers</th><th>Reason</th><th>Expires</th>"
           "<th>State</th><th>Findings suppressed</th></tr>"]  # fmt: skip
    for s in exemptions:
        e = s.exemption
        subject = f"{'arn' if e.by_arn else 'user'} {e.pattern}"
        scope = ", ".join(sorted(e.checks)) if e.checks else "every check"
        expires = e.expires.isoformat() if e.expires else "never"
        if s.expired:
            state = "<td class='fail'>expired: no longer applies</td>"
        elif s.ends_at is not None:
            state = f"<td class='ok'>active, {_left(s.ends_at, now)} left</td>"
        else:
            state = "<td class='ok'>active</td>"
        out.append(
            f"<tr><td><code>{escape(s.id)}</code></td><td>{escape(subject)} ({escape(scope)})"
            f"</td><td>{escape(e.reason)}</td><td>{expires}</td>{state}"
            f"<td>{'-' if s.expired else s.suppressed}</td></tr>"
        )
    out.append("</table></div>")
    return "\n".join(out)


def _left(until: datetime, now: datetime) -> str:
    seconds = max(0, int((until - now).total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{days}d" if days else f"{rest // 3600}h"


def _flag_lines(config: Config) -> list[str]:
    lines = []
    for flag in FLAGS:
        value = getattr(config.settings, flag.dest)
        if value != flag.default:
            lines.append(
                f"<code>--{flag.name}</code> {escape(_shown(value))} "
                f"(default {escape(_shown(flag.default))})"
            )
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _check_lines(checks: Mapping[str, CheckConfig]) -> list[str]:
    lines = []
    for cid, default in default_checks().items():
        current = checks.get(cid)
        if current is None or current == default:
            continue
        name = f"<a href='{escape(check_doc_url(cid))}'><code>{escape(cid)}</code></a>"
        if not current.enabled:
            lines.append(f"{name} disabled")
            continue
        parts = []
        if current.severity != default.severity:
            parts.append(f"severity {current.severity} (default {default.severity})")
        parts.extend(_threshold_parts(current, default))
        lines.append(f"{name}: {'; '.join(parts)}")
    return lines


def _threshold_parts(current: CheckConfig, default: CheckConfig) -> list[str]:
    parts = []
    for key, base in default.human.items():
        human, programmatic = current.human.get(key, base), current.programmatic.get(key, base)
        if human == programmatic != base:
            parts.append(f"{key} {human} (default {base})")
            continue
        if human != base:
            parts.append(f"{key} {human} for human users (default {base})")
        if programmatic != base:
            parts.append(f"{key} {programmatic} for programmatic users (default {base})")
    return parts


def _role_lines(roles: RoleAudit) -> list[str]:
    default = RoleAudit()
    if not roles.enabled:
        return ["role audit disabled"]
    if roles.exclude_paths != default.exclude_paths:
        paths = ", ".join(roles.exclude_paths) or "none"
        return [f"roles under these paths are not audited: {escape(paths)}"]
    return []
