"""The HTML landing page: each account's findings, report age and last refresh, the
sources that yield no account of their own, and the configuration's exemptions."""

from __future__ import annotations

from datetime import datetime
from html import escape

from exporter.core.checks import CHECKS
from exporter.core.findings import SEVERITIES, SEVERITY_RANK
from exporter.daemon.exemptions import ExemptionStatus
from exporter.daemon.snapshot import AccountState, DetailsState, PendingSource, Snapshot
from exporter.daemon.stored import summary_of

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.critical{color:#b00;font-weight:bold}.high{color:#d60}.medium{color:#a80}.low{color:#666}
.fail{color:#b00}.ok{color:#080}
"""


def render_landing(snapshot: Snapshot | None, telemetry_path: str, now: datetime) -> bytes:
    path = escape(telemetry_path)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>AWS IAM credential exporter</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>AWS IAM credential exporter</h1>",
        f"<p><a href='{path}'>Metrics</a> &middot; <a href='-/healthy'>Health</a> "
        "&middot; <a href='-/ready'>Readiness</a></p>",
    ]
    if snapshot is None:
        parts.append("<p>The first refresh has not finished yet.</p>")
    else:
        parts.append(f"<p>Last refresh: {_ago(snapshot.created_at, now)}.</p>")
        if snapshot.header:  # shard ownership and discovery (exporter/daemon/accounts.py)
            parts.append(f"<p>{escape(snapshot.header)}</p>")
        lapsed = sum(1 for e in snapshot.exemptions if e.expired)
        if lapsed:
            parts.append(
                f"<p class='fail'>{lapsed} exemption(s) expired: they no longer apply "
                "(<a href='#exemptions'>Exemptions</a>).</p>"
            )
        if snapshot.pending:
            parts.append(_pending(snapshot.pending, now))
        parts.extend(_account(state, now) for state in snapshot.accounts)
        if snapshot.exemptions:
            parts.append(_exemptions(snapshot.exemptions, now))
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _account(state: AccountState, now: datetime) -> str:
    title = escape(
        f"{state.name} ({state.account_id})" if state.name != state.account_id else state.name
    )
    out = [f"<h2>{title}</h2>", "<p>", _refresh_line(state, now)]
    out.extend(f"<br>{escape(line)}" for line in _detail_lines(state.details))
    generated = state.report_generated
    if generated is not None:
        out.append(f"<br>Credential report generated {_ago(generated, now)}.")
    out.append("</p>")
    if state.analysis is None:
        out.append("<p>No data yet.</p>")
        return "\n".join(out)
    summary = summary_of(state.analysis)
    by_sev = summary.by_severity()
    out.append(
        "<p>Findings: "
        + ", ".join(f"<span class='{s}'>{by_sev.get(s, 0)} {s}</span>" for s in SEVERITIES)
        + f" &middot; {summary.users} users</p>"
    )
    by_check = summary.findings
    rows = sorted(by_check.items(), key=lambda kv: (SEVERITY_RANK[kv[0][1]], -kv[1], kv[0][0]))
    if rows:
        out.append("<table><tr><th>Severity</th><th>Check</th><th>Findings</th></tr>")
        for (check, severity), count in rows:
            title = CHECKS[check].title if check in CHECKS else check
            out.append(
                f"<tr><td class='{severity}'>{severity}</td>"
                f"<td>{escape(title)} <code>{escape(check)}</code></td><td>{count}</td></tr>"
            )
        out.append("</table>")
    return "\n".join(out)


def _pending(sources: tuple[PendingSource, ...], now: datetime) -> str:
    out = ["<h2>Sources without an account of their own</h2>",
           "<table><tr><th>Source</th><th>Last failure</th><th>Since</th></tr>"]  # fmt: skip
    for p in sources:
        out.append(
            f"<tr><td>{escape(p.name)}</td><td class='fail'>{escape(p.reason)} "
            f"({escape(p.message)})</td><td>{p.failures} failure(s), first "
            f"{_ago(p.since, now)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _exemptions(exemptions: tuple[ExemptionStatus, ...], now: datetime) -> str:
    out = ["<h2 id='exemptions'>Exemptions</h2>",
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
    out.append("</table>")
    return "\n".join(out)


def _left(until: datetime, now: datetime) -> str:
    seconds = max(0, int((until - now).total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{days}d" if days else f"{rest // 3600}h"


def _detail_lines(details: DetailsState) -> list[str]:
    lines = []
    if details.roles is not None:
        lines.append(f"{len(details.roles)} IAM roles audited.")
    if details.facts is not None:
        kind = "virtual" if details.facts.root_virtual_mfa else "hardware"
        root = f"root MFA: {kind}" if details.facts.root_mfa_enabled else "root MFA: none"
        lines.append(f"Account summary read ({root}).")
    if details.root_centrally_managed:
        lines.append(
            "Root credentials are centrally managed by AWS Organizations: "
            "root_mfa_disabled and root_hardware_mfa_missing do not apply."
        )
    for part, reason, message in details.last_detail_errors:
        lines.append(f"Last {part} fetch failed: {reason} ({message}).")
    return lines


def _refresh_line(state: AccountState, now: datetime) -> str:
    if not state.attempted:
        return "Not refreshed yet."
    if state.success:
        return f"<span class='ok'>Last refresh succeeded</span> ({state.duration_seconds:.2f}s)."
    reason = escape(state.last_error_reason or "error")
    message = escape(state.last_error_message or "")
    since = (
        f" Last success {_ago(state.last_success, now)}; showing that data."
        if state.last_success
        else ""
    )
    return f"<span class='fail'>Last refresh failed: {reason}</span> ({message}).{since}"


def _ago(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago ({when:%Y-%m-%d %H:%M:%S} UTC)"
    return f"{seconds}s ago ({when:%Y-%m-%d %H:%M:%S} UTC)"
