"""Build the Grafana dashboards in grafana/dashboards/ from this file.

The JSON files are committed (Grafana's file provisioning reads them as they
are) and generated: edit this file, then run ``python grafana/build.py``.
``python grafana/build.py --check`` exits 1 when a committed file differs from
what this builder makes; the tests run the same comparison.

Every panel and every query uses the ``$datasource`` variable (a Prometheus data
source picked in the dashboard, so file provisioning needs no ``__inputs``), and
every selector of an exporter series filters on ``$job``, ``$instance`` (one shard, for
debugging it) and ``$account_id`` (the exemptions' on ``$job`` and ``$instance``: they
belong to the exporter's configuration, not to an account). Recorded series have no
instance: ``recorded()`` keeps the accounts the selected instances export.

The dashboards are built for hundreds of accounts (the sharded deployment): per-account
figures are table rows, and a time series with a line per account shows its ``topk``.
Documentation links are built from ``docs_base_url`` in deploy/generator.yaml, the one
place it is configured (deploy/kubernetes/generate.py builds the runbook_url from it).

Two exporters may export the same account at once (a rollout overlap, two replicas of
one shard), so no query sums an exporter series across instances: ``once()`` first
keeps one figure per account, as the recording rules do.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
ALERT_RULES = REPO / "deploy" / "prometheus" / "rules" / "aws-iam-alerts.rules.yml"
GENERATOR_CONFIG = REPO / "deploy" / "generator.yaml"
# Grafana 11.6's dashboard schema (the grafana-foundation-sdk pinned in the dev extra).
SCHEMA_VERSION = 41
OVERVIEW_UID = "aws-iam-credentials-overview"
ACCOUNT_UID = "aws-iam-credentials-account"
TAG = "aws-iam-credential-exporter"

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", instance=~"$instance", account_id=~"$account_id"'
JOB = 'job=~"$job", instance=~"$instance"'
# Recorded series keep job and account_id only.
RSEL = 'job=~"$job", account_id=~"$account_id"'
REF_IDS = "ABCDEFGHIJKL"
# How many lines a time series with one line per account draws at most.
TOP = 10

SEVERITY_COLOURS = {"critical": "red", "high": "orange", "medium": "yellow", "low": "blue"}

Json = dict[str, Any]


def recorded(name: str, matchers: str = "") -> str:
    """A recorded series (no instance label) for the accounts the selected instances
    export, so that ``$instance`` narrows every panel to one shard."""
    extra = f", {matchers}" if matchers else ""
    return f"({name}{{{RSEL}{extra}}} and on (job, account_id) aws_iam_account_info{{{SEL}}})"


def docs_base_url() -> str:
    """deploy/generator.yaml's docs_base_url: where docs/ is published."""
    config = yaml.safe_load(GENERATOR_CONFIG.read_text(encoding="utf-8"))
    base = config.get("docs_base_url") if isinstance(config, dict) else None
    if not isinstance(base, str) or not re.match(r"https?://\S+$", base):
        raise SystemExit(f"{GENERATOR_CONFIG}: docs_base_url must be an http(s) URL")
    return base.rstrip("/")


def check_doc(check: str) -> str:
    """The section of docs/checks.md about a check (GitHub's anchor of ``### `check` ``)."""
    return f"{docs_base_url()}/checks.md#{check}"


def runbook(alert: str) -> str:
    """The runbook's section named as the alert, as its runbook_url says."""
    return f"{docs_base_url()}/runbook.md#{alert.lower()}"


def link(title: str, url: str) -> Json:
    return {"title": title, "url": url, "targetBlank": True}


def column_links(column: str, *links: Json) -> Json:
    """Data links on the cells of one table column."""
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": "links", "value": list(links)}],
    }


def check_link(column: str = "check") -> Json:
    return column_links(column, link("Check documentation", check_doc("${__value.raw}")))


def once(selector: str, *labels: str) -> str:
    """One series per job, account and ``labels`` of an exporter series, however many
    instances export that account: the largest of their figures."""
    return f"max by ({', '.join(('job', 'account_id', *labels))}) ({selector})"


# The age past which AwsIamCredentialReportTooOld fires, per exporter target: two refresh
# intervals plus AWS's 4-hour reuse of a report, never less than 12 hours. The alert rule
# writes the same expression (tests compare them).
REPORT_AGE_LIMIT = (
    f"clamp_min(2 * aws_iam_exporter_refresh_interval_seconds{{{JOB}}} + 4 * 3600, 12 * 3600)"
)
REPORT_AGE = f"(time() - aws_iam_credential_report_generated_timestamp_seconds{{{SEL}}})"
# 1 where an account's freshest report is past the limit, else 0.
STALE = (
    f"min by (job, account_id) ({REPORT_AGE} "
    f"> bool on (job, instance) group_left {REPORT_AGE_LIMIT})"
)
# 1 where no instance's last refresh of an account succeeded, else 0.
FAILED = f"(1 - max by (job, account_id) (aws_iam_exporter_refresh_success{{{SEL}}}))"
STATE_MAPPING = {"0": ("OK", "green"), "1": ("STALE", "orange"), "2": ("FAILED", "red")}
# Refresh intervals since the last successful refresh: AwsIamExporterRefreshFailing at 2.
INTERVALS_SINCE_SUCCESS = (
    f"min by (account_id) ((time() - aws_iam_exporter_last_refresh_success_timestamp_seconds"
    f"{{{SEL}}}) / on (job, instance) group_left aws_iam_exporter_refresh_interval_seconds"
    f"{{{JOB}}})"
)

# Failed refreshes per account and reason (every reason's counter starts at 0).
REFRESH_ERRORS = once(
    f"increase(aws_iam_exporter_refresh_errors_total{{{SEL}}}[$__rate_interval])", "reason"
)
# Console users without MFA, per account (root is severity critical).
CONSOLE_WITHOUT_MFA = once(f'aws_iam_users_without_mfa{{{SEL}, severity="high"}}')


def exemption_warning_days() -> int:
    """The warning period of AwsIamExemptionExpiringSoon, written only in its rule."""
    text = ALERT_RULES.read_text()
    m = re.search(r"- alert: AwsIamExemptionExpiringSoon\n\s+expr: .* < (\d+) \* 86400 > 0\n", text)
    if m is None:
        raise SystemExit(f"{ALERT_RULES}: no warning period in AwsIamExemptionExpiringSoon")
    return int(m[1])


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    t: Json = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto"}
    if instant or table:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def coloured_by(cell: str, *steps: tuple[float | None, str]) -> list[Json]:
    """The properties that colour a table cell (``cell``: color-text or color-background)
    by the thresholds ``steps``."""
    return [
        {"id": "custom.cellOptions", "value": {"type": cell}},
        {"id": "color", "value": {"mode": "thresholds"}},
        {"id": "thresholds", "value": thresholds(*steps)},
    ]


def value_map(mapping: dict[str, tuple[str, str]]) -> list[Json]:
    """``{"0": ("OK", "green")}`` -> a Grafana value mapping."""
    options = {
        value: {"text": text, "color": colour, "index": i}
        for i, (value, (text, colour)) in enumerate(mapping.items())
    }
    return [{"type": "value", "options": options}]


def severity_overrides(by_name: bool) -> list[Json]:
    """Colour each severity's series (timeseries) or a table's severity column."""
    if by_name:
        return [
            {
                "matcher": {"id": "byName", "options": sev},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": c}}],
            }
            for sev, c in SEVERITY_COLOURS.items()
        ]
    return [
        {
            "matcher": {"id": "byName", "options": "severity"},
            "properties": [
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                {
                    "id": "mappings",
                    "value": value_map({s: (s, c) for s, c in SEVERITY_COLOURS.items()}),
                },
            ],
        }
    ]


@dataclass
class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping rows."""

    panels: list[Json] = field(default_factory=list)
    x: int = 0
    y: int = 0
    row_height: int = 0

    def add(self, panel: Json, w: int, h: int) -> None:
        if self.x + w > 24:
            self.newline()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def row(self, title: str) -> None:
        self.newline()
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self.newline()

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    options: Json | None = None,
    defaults: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
    links: list[Json] | None = None,
) -> Json:
    if len(targets) > len(REF_IDS):
        raise ValueError(f"{title}: more than {len(REF_IDS)} queries")
    for ref, t in zip(REF_IDS, targets, strict=False):
        t["refId"] = ref
    p: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {
            "defaults": {"unit": unit, **(defaults or {})},
            "overrides": overrides or [],
        },
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    if links:
        p["links"] = links
    return p


def stat(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str = "none",
    steps: Json | None = None,
    colour_mode: str = "value",
    mappings: list[Json] | None = None,
    text_mode: str = "auto",
    overrides: list[Json] | None = None,
    links: list[Json] | None = None,
) -> Json:
    defaults: Json = {
        "thresholds": steps or thresholds((None, "green")),
        "color": {"mode": "thresholds"},
    }
    if mappings:
        defaults["mappings"] = mappings
    options = {
        "colorMode": colour_mode,
        "graphMode": "none",
        "justifyMode": "auto",
        "textMode": text_mode,
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    return panel(
        "stat",
        title,
        description,
        targets,
        unit=unit,
        options=options,
        defaults=defaults,
        overrides=overrides,
        links=links,
    )


def severity_stat(severity: str) -> Json:
    # Critical and high fill the whole panel with colour as soon as they are non-zero.
    loud = severity in ("critical", "high")
    return stat(
        f"{severity.capitalize()} findings",
        f"Findings of severity {severity} in the selected accounts (exempted findings "
        "are not counted). Green at zero.",
        [
            target(
                "sum("
                + recorded("account_id_severity:aws_iam_findings:sum", f'severity="{severity}"')
                + ")",
                severity,
                instant=True,
            )
        ],
        steps=thresholds((None, "green"), (1, SEVERITY_COLOURS[severity])),
        colour_mode="background" if loud else "value",
    )


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str = "none",
    bars: bool = False,
    overrides: list[Json] | None = None,
    data_links: list[Json] | None = None,
) -> Json:
    custom: Json = {"drawStyle": "bars" if bars else "line", "fillOpacity": 60 if bars else 10}
    if bars:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    defaults: Json = {"custom": custom, "color": {"mode": "palette-classic"}, "min": 0}
    if data_links:
        defaults["links"] = data_links
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel(
        "timeseries",
        title,
        description,
        targets,
        unit=unit,
        options=options,
        defaults=defaults,
        overrides=overrides,
    )


def bargauge(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str = "none",
    data_links: list[Json] | None = None,
) -> Json:
    options = {
        "displayMode": "basic",
        "orientation": "horizontal",
        "showUnfilled": True,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    defaults: Json = {
        "min": 0,
        "color": {"mode": "thresholds"},
        "thresholds": thresholds((None, "orange")),
    }
    if data_links:
        defaults["links"] = data_links
    return panel(
        "bargauge", title, description, targets, unit=unit, options=options, defaults=defaults
    )


def table(
    title: str,
    description: str,
    targets: list[Json],
    *,
    hide: tuple[str, ...] = ("Time", "__name__", "job", "instance"),
    order: tuple[str, ...] = (),
    rename: dict[str, str] | None = None,
    overrides: list[Json] | None = None,
    merge: bool = False,
    sort_by: tuple[str, bool] | None = None,
    links: list[Json] | None = None,
) -> Json:
    transformations: list[Json] = [{"id": "merge", "options": {}}] if merge else []
    transformations.append(
        {
            "id": "organize",
            "options": {
                "excludeByName": dict.fromkeys(hide, True),
                "indexByName": {name: i for i, name in enumerate(order)},
                "renameByName": rename or {},
            },
        }
    )
    options: Json = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by[0], "desc": sort_by[1]}]
    return panel(
        "table",
        title,
        description,
        targets,
        unit="none",
        options=options,
        defaults={"custom": {"align": "auto", "filterable": True}},
        overrides=overrides,
        transformations=transformations,
        links=links,
    )


def account_link(title: str) -> Json:
    """A data link from an account_id table cell to the per-account dashboard."""
    return {
        "matcher": {"id": "byName", "options": "account_id"},
        "properties": [
            {
                "id": "links",
                "value": [
                    {
                        "title": title,
                        "url": f"/d/{ACCOUNT_UID}/{ACCOUNT_UID}?var-account_id=${{__value.raw}}"
                        "&${datasource:queryparam}&${job:queryparam}&${__url_time_range}",
                    }
                ],
            }
        ],
    }


# -- shared panels ------------------------------------------------------------------


def finding_rows(
    title: str, description: str, metric: str, labels: tuple[str, ...], doc: Json
) -> Json:
    """A table of one row per series of a per-finding metric: the account, then the
    severity, then the check, then the other ``labels``."""
    check, severity, *rest = labels
    return table(
        title,
        description,
        [target(once(f"{metric}{{{SEL}}}", *labels), table=True)],
        hide=("Time", "__name__", "job", "instance", "Value"),
        order=("account_id", severity, check, *rest),
        overrides=[
            *severity_overrides(by_name=False),
            account_link("Account dashboard"),
            check_link(),
        ],
        links=[doc],
    )


def findings_table() -> Json:
    return finding_rows(
        "Findings",
        "One row per finding from aws_iam_finding: account, severity, check, IAM user and "
        "access key number (empty when the finding is not about a key). When the exporter's "
        "series cap applies, some rows are left out: see 'Report problems and dropped series'.",
        "aws_iam_finding",
        ("check", "severity", "user", "key"),
        link("Checks documentation", f"{docs_base_url()}/checks.md"),
    )


def upcoming_table() -> Json:
    """Upcoming findings, soonest first: what a day threshold will raise, and when."""
    due = once(
        f"aws_iam_finding_due_timestamp_seconds{{{SEL}}}", "check", "severity", "user", "key"
    )
    return table(
        "Due in the next 14 days",
        "Upcoming findings from aws_iam_finding_due_timestamp_seconds: not findings yet, but "
        "a day threshold (key rotation, inactivity...) will raise them on the day shown, "
        "within the exporter's upcoming.window (14 days by default). Act before they start; "
        "AwsIamUpcomingFindings warns of the critical and high ones.",
        [target(f"{due} * 1000", table=True)],
        hide=("Time", "__name__", "job", "instance"),
        order=("Value", "account_id", "severity", "check", "user", "key"),
        rename={"Value": "due"},
        overrides=[
            {
                "matcher": {"id": "byName", "options": "due"},
                "properties": [{"id": "unit", "value": "dateTimeAsIsoNoDateIfToday"}],
            },
            *severity_overrides(by_name=False),
            account_link("Account dashboard"),
            check_link(),
        ],
        sort_by=("due", False),
        links=[link("Runbook: AwsIamUpcomingFindings", runbook("AwsIamUpcomingFindings"))],
    )


def stale_keys_bargauge() -> Json:
    return bargauge(
        "Stale access keys by reason",
        "Active access keys that are not_rotated (older than the rotation limit), unused "
        "(not used recently) or never_used.",
        [
            target(
                f"sum by (reason) ({recorded('account_id_reason:aws_iam_stale_access_keys:sum')})",
                "{{reason}}",
                instant=True,
            )
        ],
    )


def owners_bargauge() -> Json:
    """Findings per owner (--labels.owner-tag): who has to act, across the accounts."""
    per_owner = once(f"aws_iam_findings_by_owner{{{SEL}}}", "owner", "severity")
    named = f'label_replace(sum by (owner) ({per_owner}), "owner", "(no owner tag)", "owner", "")'
    return bargauge(
        "Findings by owner",
        "Findings of users and roles per owner, from aws_iam_findings_by_owner: the value of "
        "the first --labels.owner-tag the user or role carries, '(no owner tag)' for those "
        "without. Empty unless the exporter runs with --labels.owner-tag. "
        "AwsIamOwnerHighFindings alerts each owner on its high findings.",
        [target(f"sort_desc({named})", "{{owner}}", instant=True)],
        data_links=[link("Runbook: AwsIamOwnerHighFindings", runbook("AwsIamOwnerHighFindings"))],
    )


def role_findings_table() -> Json:
    """Role findings: unused roles, and roles granting services they do not use."""
    return finding_rows(
        "Role findings",
        "One row per role finding from aws_iam_role_finding: role_unused (a role not used "
        "within its threshold) and role_unused_services (a role whose policies grant "
        "services Access Advisor saw it not use; the landing page lists the services). "
        "The owner column is there with --labels.owner-tag.",
        "aws_iam_role_finding",
        ("check", "severity", "role", "owner"),
        link("Check: role_unused_services", check_doc("role_unused_services")),
    )


def access_advisor_timeseries() -> Json:
    """The Access Advisor job pipeline (--access-advisor.enabled), per outcome."""

    def jobs(counter: str, *labels: str) -> str:
        name = f"aws_iam_exporter_access_advisor_jobs_{counter}_total"
        rate = f"increase({name}{{{SEL}}}[$__rate_interval])"
        by = f" by ({', '.join(labels)})" if labels else ""
        return f"sum{by} ({once(rate, *labels)})"

    pending = f"sum({once(f'aws_iam_exporter_access_advisor_principals_pending{{{SEL}}}')})"
    return timeseries(
        "Access Advisor jobs",
        "IAM Access Advisor jobs (role_unused_services) started, completed and failed by "
        "reason, and the roles it has not reported on yet. Empty unless the exporter runs "
        "with --access-advisor.enabled. AwsIamAccessAdvisorJobsFailing fires when an "
        "account's jobs fail for two days and none completes.",
        [
            target(jobs("started"), "started"),
            target(jobs("completed"), "completed"),
            target(jobs("failed", "reason"), "failed: {{reason}}"),
            target(pending, "roles pending"),
        ],
        bars=True,
        data_links=[
            link(
                "Runbook: AwsIamAccessAdvisorJobsFailing", runbook("AwsIamAccessAdvisorJobsFailing")
            )
        ],
    )


def severity_cells(title: str) -> list[Json]:
    """Colour each severity column of a table: neutral at 0, the severity's colour above."""
    return [
        {
            "matcher": {"id": "byName", "options": sev.capitalize()},
            "properties": [
                *coloured_by("color-background", (None, "transparent"), (1, c)),
                {"id": "links", "value": [link(title, f"{docs_base_url()}/checks.md")]},
            ],
        }
        for sev, c in SEVERITY_COLOURS.items()
    ]


def accounts_table() -> Json:
    """One row per account: the exporter's health of it and its findings by severity."""
    sev_targets = [
        target(
            "sum by (account_id) ("
            + recorded("account_id_severity:aws_iam_findings:sum", f'severity="{sev}"')
            + ")",
            table=True,
        )
        for sev in SEVERITY_COLOURS
    ]
    last_success = (
        "time() - max by (account_id) "
        f"(aws_iam_exporter_last_refresh_success_timestamp_seconds{{{SEL}}})"
    )
    refs = "ABCDEFGHI"
    columns = {
        "State": refs[1],
        "Report age": refs[2],
        "Since last success": refs[3],
        "Refresh intervals since success": refs[4],
        **{sev.capitalize(): refs[5 + i] for i, sev in enumerate(SEVERITY_COLOURS)},
    }
    return table(
        "Account health",
        "One row per account, worst state first. State: FAILED when the last refresh failed "
        "(the exporter serves the last good data), STALE when the credential report is older "
        "than AwsIamCredentialReportTooOld's limit (two refresh intervals plus AWS's 4 hours, "
        "at least 12 hours, from aws_iam_exporter_refresh_interval_seconds), else OK. "
        "'Refresh intervals since success' turns red at 2, where "
        "AwsIamExporterRefreshFailing fires. Findings by severity exclude exempted ones. "
        "Click an account for its dashboard, a state for the runbook.",
        [
            target(
                f"max by (account_id, account_name) (aws_iam_account_info{{{SEL}}})", table=True
            ),
            target(f"max by (account_id) (2 * {FAILED} + (1 - {FAILED}) * {STALE})", table=True),
            target(f"min by (account_id) ({REPORT_AGE})", table=True),
            target(last_success, table=True),
            target(INTERVALS_SINCE_SUCCESS, table=True),
            *sev_targets,
        ],
        hide=("Time", "Value #A"),
        order=("account_id", "account_name", *columns),
        rename={f"Value #{ref}": name for name, ref in columns.items()},
        overrides=[
            account_link("Account dashboard"),
            {
                "matcher": {"id": "byName", "options": "State"},
                "properties": [
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    {"id": "mappings", "value": value_map(STATE_MAPPING)},
                    {
                        "id": "links",
                        "value": [
                            link(
                                "Runbook: refresh failing", runbook("AwsIamExporterRefreshFailing")
                            ),
                            link(
                                "Runbook: report too old", runbook("AwsIamCredentialReportTooOld")
                            ),
                        ],
                    },
                ],
            },
            {
                "matcher": {"id": "byRegexp", "options": "Report age|Since last success"},
                "properties": [{"id": "unit", "value": "s"}],
            },
            {
                "matcher": {"id": "byName", "options": "Refresh intervals since success"},
                "properties": [
                    {"id": "decimals", "value": 1},
                    *coloured_by("color-text", (None, "green"), (1.5, "yellow"), (2, "red")),
                ],
            },
            *severity_cells("Checks documentation"),
        ],
        merge=True,
        sort_by=("State", True),
    )


def health_panels(lay: Layout) -> None:
    lay.add(
        stat(
            "Failing accounts",
            "Accounts whose last refresh failed on every instance that exports them "
            "(aws_iam_exporter_refresh_success 0). The Account health table says which.",
            [
                target(
                    "count(max by (job, account_id) "
                    f"(aws_iam_exporter_refresh_success{{{SEL}}}) == 0) or vector(0)",
                    "failing",
                    instant=True,
                )
            ],
            steps=thresholds((None, "green"), (1, "red")),
            colour_mode="background",
            links=[link("Runbook", runbook("AwsIamExporterRefreshFailing"))],
        ),
        4,
        5,
    )
    lay.add(
        stat(
            "Stale reports",
            "Accounts whose credential report is older than AwsIamCredentialReportTooOld's "
            "limit: two refresh intervals (aws_iam_exporter_refresh_interval_seconds) plus "
            "AWS's 4-hour reuse, at least 12 hours.",
            [target(f"count({STALE} == 1) or vector(0)", "stale", instant=True)],
            steps=thresholds((None, "green"), (1, "orange")),
            colour_mode="background",
            links=[link("Runbook", runbook("AwsIamCredentialReportTooOld"))],
        ),
        4,
        5,
    )
    lay.add(
        stat(
            "Exporter targets up",
            "Scrape status of each exporter instance: UP or DOWN.",
            [
                # An exporter's target is one that exposed its build_info within a day,
                # so a target that is down now still shows (as DOWN).
                target(
                    f"up{{{JOB}}} and on (job, instance) "
                    f"last_over_time(aws_iam_exporter_build_info{{{JOB}}}[1d])",
                    "{{instance}}",
                    instant=True,
                )
            ],
            steps=thresholds((None, "red"), (1, "green")),
            mappings=value_map({"1": ("UP", "green"), "0": ("DOWN", "red")}),
            colour_mode="background",
            links=[link("Runbook", runbook("AwsIamExporterDown"))],
        ),
        16,
        5,
    )
    lay.add(accounts_table(), 24, 10)
    lay.add(
        timeseries(
            f"Slowest refreshes (top {TOP})",
            f"How long the last refresh took, for the {TOP} slowest accounts at each moment: "
            "generating, polling and downloading the report, then evaluating the checks.",
            [
                target(
                    f"topk({TOP}, max by (account_id) "
                    f"(aws_iam_exporter_refresh_duration_seconds{{{SEL}}}))",
                    "{{account_id}}",
                )
            ],
            unit="s",
        ),
        7,
        7,
    )
    lay.add(
        timeseries(
            "Refresh errors",
            "Failed refreshes by reason (throttled, access_denied, ...) across the selected "
            "accounts, from aws_iam_exporter_refresh_errors_total; the Account health "
            "table says which accounts fail.",
            [
                # Every reason's counter exists from the start at 0: one line per reason.
                target(f"sum by (reason) ({REFRESH_ERRORS})", "{{reason}}")
            ],
            bars=True,
        ),
        7,
        7,
    )
    lay.add(
        stat(
            "Report problems and dropped series",
            "Rows of the credential report the exporter could not read (report problems), "
            "and aws_iam_finding series left out by the exporter's series cap. Both "
            "should be 0.",
            [
                target(
                    f"sum({once(f'aws_iam_credential_report_problems{{{SEL}}}')})",
                    "report problems",
                    instant=True,
                ),
                target(
                    f"sum({once(f'aws_iam_finding_series_dropped{{{SEL}}}')})",
                    "dropped finding series",
                    instant=True,
                ),
            ],
            steps=thresholds((None, "green"), (1, "yellow")),
        ),
        5,
        7,
    )
    lay.add(
        stat(
            "Incomplete reports",
            "Refreshes in the time range that failed because the credential report had no "
            "root row (reason incomplete_report): every user it leaves out would read as "
            "deleted, so the exporter keeps the last complete report. Should be 0.",
            [
                target(
                    "round(sum("
                    + once(
                        "increase(aws_iam_exporter_refresh_errors_total"
                        f'{{{SEL}, reason="incomplete_report"}}[$__range])'
                    )
                    + "))",
                    "incomplete reports",
                    instant=True,
                )
            ],
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        5,
        7,
    )
    lay.add(access_advisor_timeseries(), 24, 7)


def exemption_panels(lay: Layout) -> None:
    """The exporter's exemptions: of its configuration, so the same for every account."""
    soon = exemption_warning_days()
    lay.add(
        stat(
            "Exemptions",
            "Exemptions in the exporters' configuration (all accounts), active or expired. "
            "An expired one no longer applies: its findings are reported again. Red while "
            "any is expired (AwsIamExemptionExpired).",
            [
                target(
                    f'sum(max by (job) (aws_iam_exemptions{{{JOB}, state="active"}}))',
                    "active",
                    instant=True,
                ),
                target(
                    f'sum(max by (job) (aws_iam_exemptions{{{JOB}, state="expired"}}))',
                    "expired",
                    instant=True,
                ),
            ],
            colour_mode="background",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "expired"},
                    "properties": [
                        {"id": "thresholds", "value": thresholds((None, "green"), (1, "red"))}
                    ],
                }
            ],
        ),
        6,
        7,
    )
    # A recorded series of the configuration: no instance, no account.
    expiry = 'exemption:aws_iam_exemption_expiry_timestamp_seconds:max{job=~"$job"}'
    lay.add(
        table(
            "Exemptions by expiry",
            "Each exemption with an expires date: when it stops applying (the end of that "
            "day, UTC) and the days left. Red once expired, orange within the "
            f"{soon}-day warning of AwsIamExemptionExpiringSoon. Exemptions that never "
            "expire are not listed; the exporter's landing page lists every exemption "
            "with the findings it suppresses.",
            [
                target(f"{expiry} * 1000", table=True),
                target(f"({expiry} - time()) / 86400", table=True),
            ],
            hide=("Time", "job"),
            order=("exemption", "Value #A", "Value #B"),
            rename={"Value #A": "Ends", "Value #B": "Days left"},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Ends"},
                    "properties": [{"id": "unit", "value": "dateTimeAsIso"}],
                },
                {
                    "matcher": {"id": "byName", "options": "Days left"},
                    "properties": [
                        {"id": "decimals", "value": 1},
                        *coloured_by(
                            "color-background", (None, "red"), (0, "orange"), (soon, "green")
                        ),
                        {
                            "id": "mappings",
                            "value": [
                                {
                                    "type": "range",
                                    "options": {
                                        "from": -1e9,
                                        "to": 0,
                                        "result": {"text": "EXPIRED", "color": "red", "index": 0},
                                    },
                                }
                            ],
                        },
                    ],
                },
            ],
            merge=True,
            links=[
                link("Runbook: expiring soon", runbook("AwsIamExemptionExpiringSoon")),
                link("Runbook: expired", runbook("AwsIamExemptionExpired")),
            ],
        ),
        18,
        7,
    )


def variables(account_multi: bool) -> Json:
    def query_var(name: str, label: str, query: str, multi: bool) -> Json:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DS,
            "query": query,
            "definition": query,
            "refresh": 2,
            "sort": 1,
            "multi": multi,
            "includeAll": multi,
            **({"allValue": ".+"} if multi else {}),
            "current": {},
            "options": [],
            "hide": 0,
            "regex": "",
        }

    return {
        "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "options": [],
                "hide": 0,
                "refresh": 1,
                "regex": "",
            },
            query_var("job", "Job", "label_values(aws_iam_exporter_build_info, job)", True),
            # One shard (or replica) of a sharded deployment, to debug it alone.
            query_var(
                "instance",
                "Instance",
                'label_values(aws_iam_exporter_build_info{job=~"$job"}, instance)',
                True,
            ),
            query_var(
                "account_id",
                "Account",
                'label_values(aws_iam_account_info{job=~"$job", instance=~"$instance"}, '
                "account_id)",
                account_multi,
            ),
        ]
    }


# Alerts of this exporter: every alert rule's name starts so (the rule tests check it).
ALERT_PREFIX = "AwsIam"


def annotations(per_account: bool) -> Json:
    """New credential reports, and the firing alerts of this exporter.

    A report annotation sits at the report's generation time (useValueForTime: the
    value is the timestamp; Grafana merges the repeats of one value into one event).
    Alerts without a job, instance or account label (AwsIamExporterAbsent, the
    exemptions' alerts) match the empty value too, so they show on every selection."""
    prom = {"datasource": DS, "hide": False, "step": "1m"}
    reports: Json = {
        **prom,
        "name": "New credential reports",
        # One marker per account and report: on by default for one account, a toggle
        # on the overview, where hundreds of accounts would crowd the graphs.
        "enable": per_account,
        "iconColor": "blue",
        "expr": "max by (account_id) "
        f"(aws_iam_credential_report_generated_timestamp_seconds{{{SEL}}}) * 1000",
        "useValueForTime": True,
        "titleFormat": "New credential report",
        "textFormat": "account {{account_id}}",
        "tagKeys": "account_id",
    }
    alerts: Json = {
        **prom,
        "name": "Firing alerts",
        "enable": True,
        "iconColor": "red",
        "expr": f'max by (alertname, severity, account_id) (ALERTS{{alertstate="firing", '
        f'alertname=~"{ALERT_PREFIX}.+", job=~"$job|", instance=~"$instance|", '
        'account_id=~"$account_id|"})',
        "useValueForTime": False,
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}} {{account_id}}",
        "tagKeys": "alertname,severity",
    }
    return {"list": [reports, alerts]}


def dashboard(uid: str, title: str, description: str, lay: Layout, account_multi: bool) -> Json:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG, "aws", "iam", "security"],
        # Provisioning forbids saving: editing in the UI would only lose the changes.
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        # Exemptions end at midnight UTC and AWS reports in UTC.
        "timezone": "utc",
        "annotations": annotations(per_account=not account_multi),
        "links": [
            {
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "title": "IAM credentials",
            },
            {**link("Checks", f"{docs_base_url()}/checks.md"), "type": "link", "icon": "doc"},
            {**link("Runbook", f"{docs_base_url()}/runbook.md"), "type": "link", "icon": "doc"},
        ],
        "templating": variables(account_multi),
        "panels": lay.panels,
    }


# -- overview -----------------------------------------------------------------------


def overview() -> Json:
    lay = Layout()
    lay.row("Summary")
    for severity in SEVERITY_COLOURS:
        lay.add(severity_stat(severity), 4, 4)
    lay.add(
        stat(
            "Accounts",
            "AWS accounts the selected exporters report on.",
            [target(f"count(max by (account_id) (aws_iam_account_info{{{SEL}}}))", instant=True)],
        ),
        4,
        4,
    )
    lay.add(
        stat(
            "IAM users",
            "IAM users in the credential reports of the selected accounts (root excluded).",
            [target(f"sum({once(f'aws_iam_users{{{SEL}}}')})", instant=True)],
        ),
        4,
        4,
    )
    lay.add(
        table(
            "Root account per account",
            "Root user findings per account: 1 in 'Root MFA missing' means the root user "
            "has no MFA; the next columns count active root access keys and recent root "
            "use. 'Centrally managed' is 1 where AWS Organizations manages the member "
            "account's root credentials and root holds none (root_mfa_disabled and "
            "root_hardware_mfa_missing do not apply), 0 where not, empty where unknown. "
            "Click an account for its dashboard.",
            [
                target(
                    f"max by (account_id, account_name) (aws_iam_account_info{{{SEL}}})",
                    table=True,
                ),
                target(
                    f'max by (account_id) (aws_iam_findings{{{SEL}, check="root_mfa_disabled"}})',
                    table=True,
                ),
                target(
                    "max by (account_id) "
                    f'(aws_iam_findings{{{SEL}, check="root_access_key_active"}})',
                    table=True,
                ),
                target(
                    f'max by (account_id) (aws_iam_findings{{{SEL}, check="root_used_recently"}})',
                    table=True,
                ),
                # Absent where unknown (no Organizations discovery): an empty cell.
                target(
                    f"max by (account_id) (aws_iam_root_credentials_centrally_managed{{{SEL}}})",
                    table=True,
                ),
            ],
            hide=("Time", "Value #A"),
            order=("account_id", "account_name", "Value #B", "Value #C", "Value #D", "Value #E"),
            rename={
                "Value #B": "Root MFA missing",
                "Value #C": "Root access keys",
                "Value #D": "Root used recently",
                "Value #E": "Centrally managed",
            },
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": "Root.*"},
                    "properties": [
                        *coloured_by("color-background", (None, "green"), (1, "red")),
                    ],
                },
                {
                    "matcher": {"id": "byName", "options": "Centrally managed"},
                    "properties": [
                        *coloured_by("color-text", (None, "text"), (1, "green")),
                    ],
                },
                account_link("Account dashboard"),
            ],
            merge=True,
            links=[
                link("Runbook: root MFA", runbook("AwsIamRootMfaDisabled")),
                link("Runbook: root access key", runbook("AwsIamRootAccessKeyPresent")),
            ],
        ),
        12,
        8,
    )
    lay.add(
        bargauge(
            "Console users without MFA",
            f"The {TOP} accounts with the most IAM users with a console password and no MFA "
            "device (aws_iam_users_without_mfa, severity high). Root is in the table on the "
            "left.",
            [
                target(
                    f"topk({TOP}, sum by (account_id) ({CONSOLE_WITHOUT_MFA}))",
                    "{{account_id}}",
                    instant=True,
                )
            ],
            data_links=[link("Check documentation", check_doc("console_without_mfa"))],
        ),
        6,
        8,
    )
    lay.add(stale_keys_bargauge(), 6, 8)

    lay.row("Trends")
    lay.add(
        timeseries(
            "Findings by severity",
            "Findings over time in the selected accounts, one line per severity.",
            [
                target(
                    f"sum by (severity) ({recorded('account_id_severity:aws_iam_findings:sum')})",
                    "{{severity}}",
                )
            ],
            overrides=severity_overrides(by_name=True),
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Users without MFA and stale keys",
            "Console users without MFA, and stale access keys by reason, over time: the "
            "numbers the 'increased' alerts watch.",
            [
                target(
                    f"sum({CONSOLE_WITHOUT_MFA})",
                    "console users without MFA",
                ),
                target(
                    "sum by (reason) "
                    f"({recorded('account_id_reason:aws_iam_stale_access_keys:sum')})",
                    "stale keys: {{reason}}",
                ),
            ],
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Credential changes",
            "Changes between consecutive credential reports (users created or deleted, MFA "
            "enabled or removed, keys created, deactivated or deleted).",
            [
                target(
                    "sum by (change) ("
                    + once(
                        f"increase(aws_iam_credential_changes_total{{{SEL}}}[$__rate_interval])",
                        "change",
                    )
                    + ")",
                    "{{change}}",
                )
            ],
            bars=True,
        ),
        8,
        8,
    )

    lay.row("Findings by check and user")
    lay.add(
        bargauge(
            "Findings by check",
            "Findings per check in the selected accounts. Click a bar for the check's "
            "documentation.",
            [
                target(
                    f"sort_desc(sum by (check) ({once(f'aws_iam_findings{{{SEL}}}', 'check')}))",
                    "{{check}}",
                    instant=True,
                )
            ],
            data_links=[link("Check documentation", check_doc("${__field.labels.check}"))],
        ),
        8,
        12,
    )
    lay.add(findings_table(), 16, 12)
    lay.add(upcoming_table(), 24, 8)

    lay.row("Owners and roles")
    lay.add(owners_bargauge(), 8, 10)
    lay.add(role_findings_table(), 16, 10)

    lay.row("Exemptions")
    exemption_panels(lay)

    lay.row("Exporter health")
    health_panels(lay)
    return dashboard(
        OVERVIEW_UID,
        "AWS IAM credentials / Overview",
        "IAM credential hygiene across AWS accounts, from aws-iam-credential-exporter.",
        lay,
        account_multi=True,
    )


# -- per account --------------------------------------------------------------------


def account() -> Json:
    lay = Layout()
    lay.row("Account")
    lay.add(
        stat(
            "Account",
            "Name and id of the selected account (aws_iam_account_info).",
            [
                target(
                    f"max by (account_id, account_name) (aws_iam_account_info{{{SEL}}})",
                    "{{account_name}} ({{account_id}})",
                    instant=True,
                )
            ],
            text_mode="name",
        ),
        8,
        4,
    )
    lay.add(
        stat(
            "IAM users",
            "IAM users in this account's credential report (root excluded).",
            [target(f"sum({once(f'aws_iam_users{{{SEL}}}')})", instant=True)],
        ),
        4,
        4,
    )
    lay.add(
        stat(
            "Root MFA",
            "Whether the root user has an MFA device (root_mfa_disabled finding).",
            [
                target(
                    f'max(aws_iam_findings{{{SEL}, check="root_mfa_disabled"}})',
                    instant=True,
                )
            ],
            steps=thresholds((None, "green"), (1, "red")),
            mappings=value_map({"0": ("ENABLED", "green"), "1": ("MISSING", "red")}),
            colour_mode="background",
        ),
        4,
        4,
    )
    lay.add(
        stat(
            "Root access keys",
            "Active access keys of the root user (root_access_key_active finding).",
            [
                target(
                    f'max(aws_iam_findings{{{SEL}, check="root_access_key_active"}})',
                    instant=True,
                )
            ],
            steps=thresholds((None, "green"), (1, "red")),
            colour_mode="background",
        ),
        4,
        4,
    )
    lay.add(
        stat(
            "Root used recently",
            "Recent uses of the root password or root keys (root_used_recently finding).",
            [
                target(
                    f'max(aws_iam_findings{{{SEL}, check="root_used_recently"}})',
                    instant=True,
                )
            ],
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        4,
        4,
    )
    for severity in SEVERITY_COLOURS:
        lay.add(severity_stat(severity), 4, 4)
    lay.add(
        stat(
            "Console users without MFA",
            "IAM users with a console password and no MFA device.",
            [
                target(
                    f"sum({CONSOLE_WITHOUT_MFA})",
                    instant=True,
                )
            ],
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        4,
        4,
    )
    lay.add(
        stat(
            "Exempted findings",
            "Findings suppressed by the exemption list in the exporter's configuration.",
            [target(f"sum({once(f'aws_iam_exempted_findings{{{SEL}}}', 'check')})", instant=True)],
        ),
        4,
        4,
    )
    lay.add(
        stat(
            "Root centrally managed",
            "Whether AWS Organizations manages this member account's root credentials and "
            "root holds none (aws_iam_root_credentials_centrally_managed): then "
            "root_mfa_disabled and root_hardware_mfa_missing do not apply. No value: "
            "unknown (no Organizations discovery).",
            [
                target(
                    f"max(aws_iam_root_credentials_centrally_managed{{{SEL}}})",
                    instant=True,
                )
            ],
            steps=thresholds((None, "text"), (1, "green")),
            mappings=value_map({"0": ("NO", "text"), "1": ("YES", "green")}),
        ),
        4,
        4,
    )

    lay.row("Findings")
    lay.add(
        table(
            "Findings by check",
            "Findings and exempted findings per check, with the check's severity.",
            [
                target(
                    "sum by (check, severity) "
                    f"({once(f'aws_iam_findings{{{SEL}}}', 'check', 'severity')})",
                    table=True,
                ),
                target(
                    f"sum by (check) ({once(f'aws_iam_exempted_findings{{{SEL}}}', 'check')})",
                    table=True,
                ),
            ],
            order=("check", "severity", "Value #A", "Value #B"),
            rename={"Value #A": "findings", "Value #B": "exempted"},
            overrides=[*severity_overrides(by_name=False), check_link()],
            merge=True,
        ),
        8,
        12,
    )
    lay.add(findings_table(), 16, 12)
    lay.add(upcoming_table(), 24, 8)
    lay.add(owners_bargauge(), 8, 10)
    lay.add(role_findings_table(), 16, 10)
    lay.add(stale_keys_bargauge(), 8, 8)
    lay.add(
        timeseries(
            "Findings by check over time",
            "Findings per check over time; checks with no finding are left out.",
            [
                target(
                    f"sum by (check) ({once(f'aws_iam_findings{{{SEL}}}', 'check')}) > 0",
                    "{{check}}",
                )
            ],
            data_links=[link("Check documentation", check_doc("${__field.labels.check}"))],
        ),
        16,
        8,
    )
    lay.add(
        bargauge(
            "Credential changes in the time range",
            "Changes between consecutive credential reports during the dashboard's time range.",
            [
                target(
                    "sum by (change) ("
                    + once(
                        f"increase(aws_iam_credential_changes_total{{{SEL}}}[$__range])", "change"
                    )
                    + ")",
                    "{{change}}",
                    instant=True,
                )
            ],
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Credential changes",
            "Changes between consecutive credential reports over time.",
            [
                target(
                    "sum by (change) ("
                    + once(
                        f"increase(aws_iam_credential_changes_total{{{SEL}}}[$__rate_interval])",
                        "change",
                    )
                    + ")",
                    "{{change}}",
                )
            ],
            bars=True,
        ),
        16,
        8,
    )

    lay.row("Exemptions")
    exemption_panels(lay)

    lay.row("Exporter health")
    health_panels(lay)
    return dashboard(
        ACCOUNT_UID,
        "AWS IAM credentials / Account",
        "IAM credential hygiene of one AWS account: root status, findings per user and "
        "key, changes, and the exporter's health.",
        lay,
        account_multi=False,
    )


DASHBOARDS = {"aws-iam-overview.json": overview, "aws-iam-account.json": account}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for name in DASHBOARDS:
        path = DASHBOARD_DIR / name
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("out of date, run python grafana/build.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
