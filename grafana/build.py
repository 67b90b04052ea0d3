"""Build the Grafana dashboards in grafana/dashboards/ from this file.

The JSON files are committed (Grafana's file provisioning reads them as they
are) and generated: edit this file, then run ``python grafana/build.py``.
``python grafana/build.py --check`` exits 1 when a committed file differs from
what this builder makes; the tests run the same comparison.

Every panel and every query uses the ``$datasource`` variable (a Prometheus data
source picked in the dashboard, so file provisioning needs no ``__inputs``), and
every selector filters on ``$job`` and ``$account_id`` (the exemptions' on ``$job``:
they belong to the exporter's configuration, not to an account).

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

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
ALERT_RULES = (
    Path(__file__).resolve().parents[1]
    / "deploy"
    / "prometheus"
    / "rules"
    / "aws-iam-alerts.rules.yml"
)
OVERVIEW_UID = "aws-iam-credentials-overview"
ACCOUNT_UID = "aws-iam-credentials-account"
TAG = "aws-iam-credential-exporter"

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", account_id=~"$account_id"'
JOB = 'job=~"$job"'

SEVERITY_COLOURS = {"critical": "red", "high": "orange", "medium": "yellow", "low": "blue"}

Json = dict[str, Any]


def once(selector: str, *labels: str) -> str:
    """One series per job, account and ``labels`` of an exporter series, however many
    instances export that account: the largest of their figures."""
    return f"max by ({', '.join(('job', 'account_id', *labels))}) ({selector})"


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
) -> Json:
    for ref, t in zip("ABCDEFGH", targets, strict=False):
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
                f'sum(account_id_severity:aws_iam_findings:sum{{{SEL}, severity="{severity}"}})',
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
) -> Json:
    custom: Json = {"drawStyle": "bars" if bars else "line", "fillOpacity": 60 if bars else 10}
    if bars:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    defaults = {"custom": custom, "color": {"mode": "palette-classic"}, "min": 0}
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


def bargauge(title: str, description: str, targets: list[Json], *, unit: str = "none") -> Json:
    options = {
        "displayMode": "basic",
        "orientation": "horizontal",
        "showUnfilled": True,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    defaults = {
        "min": 0,
        "color": {"mode": "thresholds"},
        "thresholds": thresholds((None, "orange")),
    }
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
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
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


def findings_table() -> Json:
    return table(
        "Findings",
        "One row per finding from aws_iam_finding: account, severity, check, IAM user and "
        "access key number (empty when the finding is not about a key). When the exporter's "
        "series cap applies, some rows are left out: see 'Report problems and dropped series'.",
        [
            target(
                once(f"aws_iam_finding{{{SEL}}}", "check", "severity", "user", "key"),
                table=True,
            )
        ],
        hide=("Time", "__name__", "job", "instance", "Value"),
        order=("account_id", "severity", "check", "user", "key"),
        overrides=[*severity_overrides(by_name=False), account_link("Account dashboard")],
    )


def stale_keys_bargauge() -> Json:
    return bargauge(
        "Stale access keys by reason",
        "Active access keys that are not_rotated (older than the rotation limit), unused "
        "(not used recently) or never_used.",
        [
            target(
                f"sum by (reason) (account_id_reason:aws_iam_stale_access_keys:sum{{{SEL}}})",
                "{{reason}}",
                instant=True,
            )
        ],
    )


def health_panels(lay: Layout) -> None:
    lay.add(
        stat(
            "Credential report age",
            "Time since AWS generated the credential report the metrics come from. AWS "
            "regenerates it at most every 4 hours; the AwsIamCredentialReportTooOld alert "
            "fires past 12 hours.",
            [
                target(
                    f"account_id:aws_iam_credential_report_age_seconds:max{{{SEL}}}",
                    "{{account_id}}",
                    instant=True,
                )
            ],
            unit="s",
            steps=thresholds((None, "green"), (5 * 3600, "yellow"), (12 * 3600, "red")),
        ),
        6,
        5,
    )
    lay.add(
        stat(
            "Last refresh",
            "Result of the exporter's last refresh of each account (OK or FAILED). After a "
            "failure the exporter keeps serving the last good data.",
            [
                target(
                    f"max by (account_id) (aws_iam_exporter_refresh_success{{{SEL}}})",
                    "{{account_id}}",
                    instant=True,
                )
            ],
            steps=thresholds((None, "red"), (1, "green")),
            mappings=value_map({"1": ("OK", "green"), "0": ("FAILED", "red")}),
            colour_mode="background",
        ),
        6,
        5,
    )
    lay.add(
        stat(
            "Since last successful refresh",
            "Time since the exporter last refreshed each account successfully. "
            "AwsIamExporterRefreshFailing fires past two refresh intervals "
            "(aws_iam_exporter_refresh_interval_seconds); the colours assume the default 1h.",
            [
                target(
                    "time() - max by (account_id) "
                    f"(aws_iam_exporter_last_refresh_success_timestamp_seconds{{{SEL}}})",
                    "{{account_id}}",
                    instant=True,
                )
            ],
            unit="s",
            steps=thresholds((None, "green"), (2 * 3600, "yellow"), (6 * 3600, "red")),
        ),
        6,
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
                    'up{job=~"$job"} and on (job, instance) '
                    'last_over_time(aws_iam_exporter_build_info{job=~"$job"}[1d])',
                    "{{instance}}",
                    instant=True,
                )
            ],
            steps=thresholds((None, "red"), (1, "green")),
            mappings=value_map({"1": ("UP", "green"), "0": ("DOWN", "red")}),
            colour_mode="background",
        ),
        6,
        5,
    )
    lay.add(
        timeseries(
            "Refresh duration",
            "How long the last refresh took per account: generating, polling and "
            "downloading the report, then evaluating the checks.",
            [
                target(
                    f"max by (account_id) (aws_iam_exporter_refresh_duration_seconds{{{SEL}}})",
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
            "Failed refreshes per account and reason (throttled, access_denied, ...), "
            "from aws_iam_exporter_refresh_errors_total; 0 for an account with no failure.",
            [
                # Every reason's counter exists from the start at 0: the reasons that rose,
                # and one 0 for each account where none did (not one per reason).
                target(
                    f"sum by (account_id, reason) ({REFRESH_ERRORS}) > 0 "
                    f"or on (account_id) sum by (account_id) ({REFRESH_ERRORS})",
                    "{{account_id}} {{reason}}",
                )
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
    expiry = f"exemption:aws_iam_exemption_expiry_timestamp_seconds:max{{{JOB}}}"
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
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        {"id": "color", "value": {"mode": "thresholds"}},
                        {
                            "id": "thresholds",
                            "value": thresholds((None, "red"), (0, "orange"), (soon, "green")),
                        },
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
            query_var(
                "account_id",
                "Account",
                'label_values(aws_iam_account_info{job=~"$job"}, account_id)',
                account_multi,
            ),
        ]
    }


def dashboard(uid: str, title: str, description: str, lay: Layout, account_multi: bool) -> Json:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG, "aws", "iam", "security"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "timezone": "",
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "title": "IAM credentials",
            }
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
            "has no MFA; the other columns count active root access keys and recent root "
            "use. Click an account for its dashboard.",
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
            ],
            hide=("Time", "Value #A"),
            order=("account_id", "account_name", "Value #B", "Value #C", "Value #D"),
            rename={
                "Value #B": "Root MFA missing",
                "Value #C": "Root access keys",
                "Value #D": "Root used recently",
            },
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": "Root.*"},
                    "properties": [
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        {"id": "color", "value": {"mode": "thresholds"}},
                        {"id": "thresholds", "value": thresholds((None, "green"), (1, "red"))},
                    ],
                },
                account_link("Account dashboard"),
            ],
            merge=True,
        ),
        12,
        8,
    )
    lay.add(
        bargauge(
            "Console users without MFA",
            "IAM users with a console password and no MFA device, per account "
            "(aws_iam_users_without_mfa, severity high). Root is in the table on the left.",
            [
                target(
                    f"sum by (account_id) ({CONSOLE_WITHOUT_MFA})",
                    "{{account_id}}",
                    instant=True,
                )
            ],
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
                    f"sum by (severity) (account_id_severity:aws_iam_findings:sum{{{SEL}}})",
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
                    f"sum by (reason) (account_id_reason:aws_iam_stale_access_keys:sum{{{SEL}}})",
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
            "Findings per check in the selected accounts; docs/checks.md explains each check.",
            [
                target(
                    f"sort_desc(sum by (check) ({once(f'aws_iam_findings{{{SEL}}}', 'check')}))",
                    "{{check}}",
                    instant=True,
                )
            ],
        ),
        8,
        12,
    )
    lay.add(findings_table(), 16, 12)

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
            overrides=severity_overrides(by_name=False),
            merge=True,
        ),
        8,
        12,
    )
    lay.add(findings_table(), 16, 12)
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
