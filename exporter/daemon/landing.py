"""The HTML landing page, rendered once per snapshot (``with_landing``) and served as
stored bytes: totals across accounts, the accounts worst first with the failing and
stale ones above the rest, each account's findings linked to the documentation and
the runbook, the sources that yield no account of their own, and the configuration.

Times are printed in UTC at publication; an inline script (the page loads nothing
else) adds how long ago each was, so a page served an hour after it was rendered
still tells the truth. Without scripts the absolute times remain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from html import escape

from exporter import __version__
from exporter.config import Config
from exporter.config.flags import format_duration
from exporter.core.analyse import Analysis
from exporter.core.checks import CHECKS
from exporter.core.findings import SEVERITIES, SEVERITY_RANK, Finding, role_name
from exporter.core.upcoming import Upcoming
from exporter.daemon.doc_links import DOCS_BASE_URL, check_doc_url, runbook_url
from exporter.daemon.landing_config import configuration_section
from exporter.daemon.landing_owners import owners_section
from exporter.daemon.snapshot import AccountState, DetailsState, PendingSource, Snapshot
from exporter.daemon.stored import summary_of, upcoming_of


def stale_report_age(refresh_interval: timedelta) -> timedelta:
    """The age at which the AwsIamCredentialReportTooOld alert fires: two refresh intervals
    plus 4 hours, at least 12 hours (its expression in
    deploy/prometheus/rules/aws-iam-alerts.rules.yml; a test keeps the two equal)."""
    return max(2 * refresh_interval + timedelta(hours=4), timedelta(hours=12))


_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em;max-width:80em;color:#222;
line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin:1.2em 0 .4em}
h3{font-size:1.05em;margin:1em 0 .3em}
.version{font-size:.6em;font-weight:normal;color:#555}
table{border-collapse:collapse;margin:.3em 0 1em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}
.scroll{overflow-x:auto;max-width:100%}
.totals{display:flex;flex-wrap:wrap;gap:.5em;margin:.3em 0}
.tile{border:1px solid #ccc;border-radius:.3em;padding:.3em .8em;min-width:7em}
.tile b{display:block;font-size:1.4em}
.critical{color:#b00;font-weight:bold}.high{color:#c50}.medium{color:#970}.low{color:#456}
.zero{color:#888;font-weight:normal}
.fail{color:#b00}.ok{color:#080}
tr.attention td{background:#fff1f0}
section.attention{border-left:.3em solid #b00;padding-left:.6em}
.banner{border:1px solid #b00;background:#fff1f0;padding:.4em .7em;border-radius:.3em}
code{overflow-wrap:anywhere}
@media (max-width:40em){body{padding:.5em}td,th{padding:.2em .3em}
table.overview{font-size:.75em}table.overview td,table.overview th{padding:.15em .2em}
table.checks code{display:none}}
"""

# Adds "(5m ago)" after each <time data-ago>, from the viewer's clock.
_SCRIPT = """
(function(){var now=Date.now();
document.querySelectorAll('time[data-ago]').forEach(function(t){
var s=Math.max(0,Math.round((now-Date.parse(t.getAttribute('datetime')))/1000));
var u=[[86400,'d'],[3600,'h'],[60,'m'],[1,'s']],v='0s';
for(var i=0;i<u.length;i++){if(s>=u[i][0]){v=Math.floor(s/u[i][0])+u[i][1];break;}}
t.insertAdjacentText('afterend',' ('+v+' ago)');});})();
"""


def with_landing(snapshot: Snapshot, config: Config) -> Snapshot:
    """``snapshot`` with its landing page rendered, as of its own creation."""
    page = render_landing(
        snapshot, config.settings.web_telemetry_path, snapshot.created_at, config=config
    )
    return replace(snapshot, landing=page)


def render_landing(
    snapshot: Snapshot | None,
    telemetry_path: str,
    now: datetime,
    *,
    config: Config | None = None,
    version: str = __version__,
) -> bytes:
    path = escape(telemetry_path)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>AWS IAM credential exporter</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>AWS IAM credential exporter <span class='version'>{escape(version)}</span></h1>",
        f"<p><a href='{path}'>Metrics</a> &middot; <a href='-/healthy'>Health</a> "
        f"&middot; <a href='-/ready'>Readiness</a> &middot; "
        f"<a href='{escape(DOCS_BASE_URL)}checks.md'>Checks</a> &middot; "
        f"<a href='{escape(DOCS_BASE_URL)}runbook.md'>Runbook</a></p>",
    ]
    if snapshot is None:
        parts.append("<p>The first refresh has not finished yet.</p>")
        parts.append(configuration_section(config, (), version, now))
    else:
        parts.extend(_body(snapshot, config, version, now))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts).encode("utf-8")


def _body(snapshot: Snapshot, config: Config | None, version: str, now: datetime) -> list[str]:
    settings = (config or Config()).settings
    limit = stale_report_age(settings.refresh_interval)
    rows = sorted(
        (_Row.of(state, now, limit, config or Config()) for state in snapshot.accounts),
        key=_Row.order,
    )
    parts = [f"<p>Published {_time(snapshot.created_at)}.</p>"]
    if snapshot.header:  # shard ownership and discovery (exporter/daemon/accounts.py)
        parts.append(f"<p>{escape(snapshot.header)}</p>")
    lapsed = sum(1 for e in snapshot.exemptions if e.expired)
    if lapsed:
        they = "it no longer applies" if lapsed == 1 else "they no longer apply"
        parts.append(
            f"<p class='banner fail'>{_count(lapsed, 'exemption')} expired: {they} "
            "(<a href='#exemptions'>Exemptions</a>).</p>"
        )
    parts.append(_totals(rows))
    if rows:
        parts.append(_overview(rows))
    owners = owners_section(snapshot.accounts, settings.labels_owner_tag)
    if owners:
        parts.append(owners)
    if snapshot.pending:
        parts.append(_pending(snapshot.pending))
    parts.extend(_account(row) for row in rows)
    parts.append(configuration_section(config, snapshot.exemptions, version, now))
    return parts


@dataclass(frozen=True)
class _Row:
    """One account as the page shows it, with what orders it."""

    state: AccountState
    by_severity: Mapping[str, int]  # empty without data
    users: int | None  # None: no data yet
    failing: bool
    stale: bool
    stale_after: timedelta
    window: str  # the upcoming window, as the configuration writes it
    upcoming: tuple[Upcoming, ...] | None = None  # None: not worked out

    @classmethod
    def of(cls, state: AccountState, now: datetime, stale_after: timedelta, config: Config) -> _Row:
        window = format_duration(config.settings.upcoming_window)
        generated = state.report_generated
        stale = generated is not None and now - generated > stale_after
        failing = state.attempted and not state.success
        if state.analysis is None:
            return cls(state, {}, None, failing, stale, stale_after, window)
        summary = summary_of(state.analysis)
        soon = summary.upcoming
        # An analysis kept whole (a failed refresh's last good report) has them worked out
        # at its evaluation time, as the metrics do (upcoming_metrics.py).
        if soon is None and isinstance(state.analysis, Analysis) and state.evaluated_at:
            soon = upcoming_of(state.analysis, config, state.evaluated_at)
        return cls(state, summary.by_severity(), summary.users, failing, stale, stale_after,
                   window, soon)  # fmt: skip

    @property
    def attention(self) -> bool:
        return self.failing or self.stale

    @property
    def worst(self) -> int:
        """The rank of the most severe finding; after "low": no data, then none at all."""
        ranks = [SEVERITY_RANK[s] for s, n in self.by_severity.items() if n]
        if ranks:
            return min(ranks)
        return len(SEVERITIES) + (0 if self.users is None else 1)

    def order(self) -> tuple[object, ...]:
        counts = tuple(-self.by_severity.get(s, 0) for s in SEVERITIES)
        return (not self.attention, self.worst, counts, self.state.name, self.state.account_id)

    @property
    def anchor(self) -> str:
        return f"account-{escape(self.state.account_id or self.state.name)}"

    @property
    def title(self) -> str:
        s = self.state
        return escape(f"{s.name} ({s.account_id})" if s.name != s.account_id else s.name)


def _totals(rows: list[_Row]) -> str:
    totals = dict.fromkeys(SEVERITIES, 0)
    for row in rows:
        for severity, count in row.by_severity.items():
            totals[severity] += count
    users = sum(row.users or 0 for row in rows)
    failing = sum(1 for row in rows if row.failing)
    stale = sum(1 for row in rows if row.stale)
    tiles = [_tile(_noun(len(rows), "account"), len(rows)), _tile(_noun(users, "user"), users)]
    tiles.extend(_tile(s, totals[s], s) for s in SEVERITIES)
    tiles.append(_tile("failing", failing, "fail"))
    tiles.append(_tile("stale", stale, "fail"))
    known = [row.upcoming for row in rows if row.upcoming is not None]
    if known:
        soon = sum(len(u) for u in known)
        tiles.append(_tile(f"due in {rows[0].window}", soon, "medium"))
    out = ["<section id='totals'><h2>All accounts</h2>", "<div class='totals'>", *tiles, "</div>"]
    attention = [r for r in rows if r.attention]
    if attention:
        needs = "needs" if len(attention) == 1 else "need"
        out.append(
            f"<p class='fail'>{_count(len(attention), 'account')} {needs} attention: "
            + ", ".join(f"<a href='#{r.anchor}'>{r.title}</a>" for r in attention)
            + ".</p>"
        )
    out.append("</section>")
    return "\n".join(out)


def _tile(label: str, value: int, css: str = "") -> str:
    css = "zero" if value == 0 else css
    return f"<div class='tile'><b class='{css}'>{value:,}</b>{escape(label)}</div>"


def _overview(rows: list[_Row]) -> str:
    head = "".join(f"<th class='n'>{s}</th>" for s in SEVERITIES)
    out = [
        "<section id='accounts'><h2>Accounts, worst first</h2><div class='scroll'>",
        "<table class='overview'><tr><th>Account</th><th>State</th>"
        f"{head}<th class='n'>Users</th></tr>",
    ]
    for row in rows:
        cls = " class='attention'" if row.attention else ""
        cells = "".join(_count_cell(row, s) for s in SEVERITIES)
        users = "-" if row.users is None else f"{row.users:,}"
        # Why the account has no root MFA finding, under its name (which is wider than
        # the note's words, so the table keeps its width on a phone).
        central = row.state.details.root_centrally_managed
        note = "<br><small>root centrally managed</small>" if central else ""
        out.append(
            f"<tr{cls}><td><a href='#{row.anchor}'>{row.title}</a>{note}</td>"
            f"<td>{_state_word(row)}</td>{cells}<td class='n'>{users}</td></tr>"
        )
    out.append("</table></div></section>")
    return "\n".join(out)


def _count_cell(row: _Row, severity: str) -> str:
    if row.users is None:
        return "<td class='n zero'>-</td>"
    n = row.by_severity.get(severity, 0)
    return f"<td class='n {severity if n else 'zero'}'>{n:,}</td>"


def _state_word(row: _Row) -> str:
    words = []
    if row.failing:
        words.append("<span class='fail'>refresh failing</span>")
    if row.stale:
        words.append("<span class='fail'>report stale</span>")
    if not words:
        words.append("not refreshed yet" if not row.state.attempted else "ok")
    return ", ".join(words)


def _not_evaluated(why: Iterable[tuple[str, str]]) -> list[str]:
    """One line per reason, naming its checks: a missing report row, a centrally managed
    root and Access Advisor's silence are different stories."""
    by_reason: dict[str, list[str]] = {}
    for check, reason in why:
        by_reason.setdefault(reason, []).append(check)
    return [
        f"<p>Not evaluated ({escape(reason)}): "
        + ", ".join(f"<code>{escape(c)}</code>" for c in checks)
        + ".</p>"
        for reason, checks in by_reason.items()
    ]


def _account(row: _Row) -> str:
    state = row.state
    section = "attention" if row.attention else "account"
    out = [f"<section class='{section}' id='{row.anchor}'><h3>{row.title}</h3>",
           "<p>", _refresh_line(state)]  # fmt: skip
    out.extend(f"<br>{escape(line)}" for line in _detail_lines(state.details))
    generated = state.report_generated
    if generated is not None:
        out.append(f"<br>Credential report generated {_time(generated)}.")
        if row.stale:
            out.append(
                f"<br><span class='fail'>The report is older than "
                f"{_hours(row.stale_after)}: its findings may be out of date.</span>"
            )
    out.append("</p>")
    if state.analysis is None:
        out.append("<p>No data yet.</p></section>")
        return "\n".join(out)
    summary = summary_of(state.analysis)
    by_sev = summary.by_severity()
    out.append(
        "<p>Findings: "
        + ", ".join(_severity_count(s, by_sev.get(s, 0)) for s in SEVERITIES)
        + f" &middot; {_count(summary.users, 'user')}</p>"
    )
    out.extend(_not_evaluated(summary.not_evaluated_why))
    out.append(_check_table(summary.findings))
    out.extend(_unused_services(summary.role_findings))
    out.extend(_upcoming(row))
    out.append("</section>")
    return "\n".join(out)


def _unused_services(role_findings: Iterable[Finding]) -> list[str]:
    """Each role that grants services it did not use, with those services (Access
    Advisor's answer): what to remove from its policies."""
    lines = []
    for f in role_findings:
        if f.check != "role_unused_services":
            continue
        services = f.facts.get("services") or ()
        listed = ", ".join(f"<code>{escape(str(s))}</code>" for s in services)
        lines.append(f"<li>{escape(role_name(f))}: {listed}</li>")
    if not lines:
        return []
    return ["<p>Roles granting services they did not use "
            f"(<a href='{escape(check_doc_url('role_unused_services'))}'>"
            "<code>role_unused_services</code></a>):</p><ul>", *lines, "</ul>"]  # fmt: skip


def _upcoming(row: _Row) -> list[str]:
    """The findings a day threshold raises within the window, soonest first."""
    if not row.upcoming:
        return []
    out = [f"<p>Due within {escape(row.window)} ({len(row.upcoming):,}): not findings yet.</p>",
           "<div class='scroll'><table class='upcoming'><tr><th>Due</th><th>Severity</th>"
           "<th>User</th><th>Check</th><th>Key</th></tr>"]  # fmt: skip
    for u in row.upcoming:
        f = u.finding
        key = "" if f.key is None else str(f.key)
        out.append(
            f"<tr><td>{u.due.isoformat()}</td><td class='{f.severity}'>{f.severity}</td>"
            f"<td>{escape(f.user)}</td><td><a href='{escape(check_doc_url(f.check))}'>"
            f"<code>{escape(f.check)}</code></a></td><td>{key}</td></tr>"
        )
    out.append("</table></div>")
    return out


def _check_table(by_check: Mapping[tuple[str, str], int]) -> str:
    rows = sorted(by_check.items(), key=lambda kv: (SEVERITY_RANK[kv[0][1]], -kv[1], kv[0][0]))
    if not rows:
        return "<p>No findings.</p>"
    out = ["<div class='scroll'><table class='checks'><tr><th>Severity</th><th>Check</th>"
           "<th class='n'>Findings</th><th>Fix</th></tr>"]  # fmt: skip
    for (check, severity), count in rows:
        title = CHECKS[check].title if check in CHECKS else check
        out.append(
            f"<tr><td class='{severity}'>{severity}</td>"
            f"<td><a href='{escape(check_doc_url(check))}'>{escape(title)}</a> "
            f"<code>{escape(check)}</code></td><td class='n'>{count:,}</td>"
            f"<td><a href='{escape(runbook_url(check))}'>runbook</a></td></tr>"
        )
    out.append("</table></div>")
    return "\n".join(out)


def _severity_count(severity: str, n: int) -> str:
    return f"<span class='{severity if n else 'zero'}'>{n:,} {severity}</span>"


def _pending(sources: tuple[PendingSource, ...]) -> str:
    out = ["<section class='attention'><h2>Sources without an account of their own</h2>",
           "<div class='scroll'><table><tr><th>Source</th><th>Last failure</th>"
           "<th>Since</th></tr>"]  # fmt: skip
    for p in sources:
        out.append(
            f"<tr><td>{escape(p.name)}</td><td class='fail'>{escape(p.reason)} "
            f"({escape(p.message)})</td><td>{_count(p.failures, 'failure')}, first "
            f"{_time(p.since)}</td></tr>"
        )
    out.append("</table></div></section>")
    return "\n".join(out)


def _detail_lines(details: DetailsState) -> list[str]:
    lines = []
    if details.roles is not None:
        lines.append(f"{_count(len(details.roles), 'IAM role')} audited.")
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


def _refresh_line(state: AccountState) -> str:
    if not state.attempted:
        return "Not refreshed yet."
    if state.success:
        return f"<span class='ok'>Last refresh succeeded</span> ({state.duration_seconds:.2f}s)."
    reason = escape(state.last_error_reason or "error")
    message = escape(state.last_error_message or "")
    since = (
        f" Last success {_time(state.last_success)}; showing that data."
        if state.last_success
        else ""
    )
    return f"<span class='fail'>Last refresh failed: {reason}</span> ({message}).{since}"


def _time(when: datetime) -> str:
    return f"<time datetime='{when.isoformat()}' data-ago>{when:%Y-%m-%d %H:%M:%S} UTC</time>"


def _hours(age: timedelta) -> str:
    return _count(int(age.total_seconds() // 3600), "hour")


def _noun(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def _count(n: int, word: str) -> str:
    """``1 account``, ``2 accounts``, ``1,204 users``."""
    return f"{n:,} {_noun(n, word)}"
