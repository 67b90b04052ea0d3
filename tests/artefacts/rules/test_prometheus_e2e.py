"""End to end: the real Prometheus scrapes real ``serve`` processes with the
project's rule files loaded.

Three exporters: ``serve --demo`` (two accounts, findings for every check), one
watching an account whose AWS endpoint refuses every connection (a loopback port
nothing listens on: every refresh fails), and a second ``serve --demo`` started once
Prometheus has scraped the first for a while: a rollout overlap, two instances
exporting the same accounts. Every dashboard query, with its template variables
resolved through Prometheus as Grafana would, must return data for the demo production
account, and its counts must be those of one demo instance; every metric the rules and
dashboards read must exist; the demo's credential and exemption alerts must reach
``firing``, and the second instance must fire no "increased" alert.

Prometheus scrapes and evaluates every second (tests/support/prometheus.py), so
the rules are loaded unchanged, production ``for:`` included: the credential
state alerts have none and fire on the first evaluation; the refresh-failing
alert (two ``--refresh.interval`` without success, then ``for: 10m``) is checked
to be pending for the broken exporter only: it refreshes every 2s and has never
succeeded, so it is pending once the process is 4s old.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exporter.sources.demo import DEMO_ACCOUNTS, DEMO_PRODUCTION, DEMO_SANDBOX
from tests.artefacts.rules.promql import (
    DASHBOARD_FILES,
    GRAFANA_BUILTINS,
    LABEL_VALUES,
    RULE_FILES,
    all_rules,
    load_dashboard,
    metric_names,
    queries,
    recorded_names,
    substitute,
    variables,
)
from tests.support.exporter_process import exporter_process
from tests.support.moto import aws_env
from tests.support.net import free_port
from tests.support.prometheus import DEFAULT_JOB, PrometheusServer, prometheus

pytestmark = pytest.mark.slow

DEMO_ACCOUNT = DEMO_PRODUCTION.account_id
SANDBOX_ACCOUNT = DEMO_SANDBOX.account_id


BROKEN_ACCOUNT = "999999999999"
# A configured account, so its failures are its own: a report file that never existed
# would have no account, hence no series, only aws_iam_exporter_pending_sources.
BROKEN_CONFIG = f"""
accounts:
  ambient: false
  list:
    - {{account_id: '{BROKEN_ACCOUNT}', role_arn: 'arn:aws:iam::{BROKEN_ACCOUNT}:role/reader'}}
"""
BROKEN_FLAGS = ("--refresh.interval", "2s", "--aws.max-attempts", "1",
                "--aws.connect-timeout", "1s")  # fmt: skip


@dataclass
class Stack:
    prom: PrometheusServer
    broken_account: str
    first_demo: str  # its instance label; the second demo exports the same accounts


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = tmp_path_factory.mktemp("broken") / "config.yaml"
    config.write_text(BROKEN_CONFIG)
    nowhere = aws_env(f"http://127.0.0.1:{free_port()}")  # connection refused
    second = f"127.0.0.1:{free_port()}"
    with (
        # The owner tag is the demo's own; its Access Advisor answers go through the job
        # pipeline, so that the pipeline's series (panels, alert) exist.
        exporter_process(
            "--demo",
            "--labels.owner-tag",
            "team",
            "--access-advisor.enabled",
            "--access-advisor.interval",
            "1m",
        ) as demo,  # fmt: skip
        exporter_process("--config", str(config), *BROKEN_FLAGS, env=nowhere) as broken,
        prometheus(
            [f"127.0.0.1:{demo.port}", f"127.0.0.1:{broken.port}", second], RULE_FILES
        ) as prom,
    ):
        first = f"127.0.0.1:{demo.port}"
        # The first demo's findings are in the recorded series before the second starts:
        # a sum across instances would then double, and the "increased" alerts fire.
        prom.wait_for_data(f'count_over_time(up{{instance="{first}"}}[1m]) >= 4')
        prom.wait_for_data("account_id_reason:aws_iam_stale_access_keys:sum")
        with exporter_process("--demo", "--web.listen-address", second):
            prom.wait_for_data(f'count(up{{job="{DEFAULT_JOB}"}} == 1) == 3')
            # increase() over $__rate_interval needs a few samples, and every recording
            # rule must have been evaluated at least once.
            prom.wait_for_data(f'count_over_time(up{{instance="{second}"}}[1m]) >= 4')
            for name in sorted(recorded_names()):
                prom.wait_for_data(name)
            yield Stack(prom, BROKEN_ACCOUNT, first)


def _dashboard_queries() -> list[Any]:
    params = []
    for path in DASHBOARD_FILES:
        for panel, target in queries(load_dashboard(path)):
            ident = f"{path.stem}:{panel['title']}:{target['refId']}"
            params.append(pytest.param(path, target["expr"], id=ident))
    return params


def _variable_values(prom: PrometheusServer, path: Path) -> dict[str, list[str]]:
    """Every value of each query variable, found the way Grafana finds them: run its
    label_values() query with the variables before it substituted (demo first)."""
    chosen = dict(GRAFANA_BUILTINS)
    found: dict[str, list[str]] = {}
    for name, var in variables(load_dashboard(path)).items():
        if var["type"] != "query":
            continue
        m = LABEL_VALUES.match(var["query"])
        assert m, f"{path.name}: ${name}: not a label_values() query: {var['query']}"
        match = substitute(m["match"], chosen) if m["match"] else None
        found[name] = prom.label_values(m["label"], match)
        assert found[name], f"{path.name}: ${name} ({var['query']}) has no values"
        if DEMO_ACCOUNT in found[name]:
            chosen[name] = DEMO_ACCOUNT
        else:  # Grafana's default: All where the variable has it
            chosen[name] = var["allValue"] if var.get("includeAll") else found[name][0]
    return found


def _demo_values(prom: PrometheusServer, path: Path) -> dict[str, str]:
    found = _variable_values(prom, path)
    instance = variables(load_dashboard(path))["instance"]["allValue"]
    return {
        **GRAFANA_BUILTINS,
        "job": found["job"][0],
        "instance": instance,
        "account_id": DEMO_ACCOUNT,
    }


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_variables_list_the_job_and_every_account(stack: Stack, path: Path) -> None:
    found = _variable_values(stack.prom, path)
    assert found["job"] == [DEFAULT_JOB]
    expected = [*(a.account_id for a in DEMO_ACCOUNTS), stack.broken_account]
    assert sorted(found["account_id"]) == sorted(expected)


@pytest.mark.parametrize(("path", "expr"), _dashboard_queries())
def test_every_dashboard_query_returns_data(stack: Stack, path: Path, expr: str) -> None:
    query = substitute(expr, _demo_values(stack.prom, path))
    result = stack.prom.query(query)
    assert result, f"no data for {query}"
    # The $account_id filter holds: only the demo account's series come back.
    accounts = {s["metric"]["account_id"] for s in result if "account_id" in s["metric"]}
    assert accounts <= {DEMO_ACCOUNT}, accounts


_RAW_SELECTOR = re.compile(r'(?<![:\w])([a-zA-Z_][a-zA-Z0-9_]*)\{job=~"\$job"')


def _first_demo_only(expr: str, instance: str) -> str:
    """``expr`` reading only the first demo's series (recorded series have no instance)."""
    return _RAW_SELECTOR.sub(lambda m: f'{m[1]}{{job=~"$job", instance="{instance}"', expr)


# Times since the report or the last refresh differ between instances; compared with a
# limit (`> bool`) they become a state, which does not.
_TIMES = (
    "aws_iam_exporter_last_refresh_success_timestamp_seconds",
    "aws_iam_credential_report_generated_timestamp_seconds",
)


def _counting_queries() -> list[Any]:
    """The queries whose values are counts (not times, which differ between instances)."""
    return [
        param
        for param, (_, panel) in zip(_dashboard_queries(), _dashboard_panels(), strict=True)
        if panel["fieldConfig"]["defaults"]["unit"] == "none"
        and panel["title"] != "Exporter targets up"  # one series per instance, by design
        and (" > bool " in param.values[1] or not any(t in param.values[1] for t in _TIMES))
    ]


def _dashboard_panels() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, panel) for path in DASHBOARD_FILES for panel, _ in queries(load_dashboard(path))]


@pytest.mark.parametrize(("path", "expr"), _counting_queries())
def test_a_rollout_overlap_counts_each_account_once(stack: Stack, path: Path, expr: str) -> None:
    """Two demo instances export the same accounts: every count is one instance's."""
    values = _demo_values(stack.prom, path)
    both = stack.prom.query_values(substitute(expr, values))
    one = stack.prom.query_values(substitute(_first_demo_only(expr, stack.first_demo), values))
    assert both.keys() == one.keys()
    for labels, value in both.items():
        # Days left move with time() between the two queries.
        assert value == pytest.approx(one[labels], rel=1e-4, abs=1e-6), labels


def _annotations() -> list[Any]:
    return [
        pytest.param(path, a, id=f"{path.stem}:{a['name']}")
        for path in DASHBOARD_FILES
        for a in load_dashboard(path)["annotations"]["list"]
    ]


@pytest.mark.parametrize(("path", "annotation"), _annotations())
def test_every_annotation_query_returns_its_events(
    stack: Stack, path: Path, annotation: dict[str, Any]
) -> None:
    query = substitute(annotation["expr"], _demo_values(stack.prom, path))
    # The demo's root alert and lapsed exemption (of no account) fire on the first rule
    # evaluation; the report annotation has data from the first scrape.
    expected = (
        set()
        if annotation["useValueForTime"]
        else {"AwsIamRootMfaDisabled", "AwsIamExemptionExpired"}
    )

    def events() -> list[dict[str, Any]] | None:
        result = stack.prom.query(query)
        names = {s["metric"].get("alertname") for s in result}
        return result if result and expected <= names else None

    result = stack.prom.wait_until(events, query)
    if annotation["useValueForTime"]:
        # The value is when AWS generated the report, in milliseconds.
        ((labels, ms),) = stack.prom.query_values(query).items()
        assert dict(labels) == {"account_id": DEMO_ACCOUNT}
        generated = stack.prom.query_values(
            "max(aws_iam_credential_report_generated_timestamp_seconds"
            f'{{account_id="{DEMO_ACCOUNT}"}})'
        )
        assert ms == pytest.approx(1000 * next(iter(generated.values())))
    else:
        # Alerts of no account (the exemptions') show for the account too; no other
        # account's alert does.
        assert {s["metric"].get("account_id", "") for s in result} <= {DEMO_ACCOUNT, ""}


def test_the_recorded_findings_are_one_instances(stack: Stack) -> None:
    def unnamed(values: dict[tuple[tuple[str, str], ...], float]) -> dict[Any, float]:
        return {tuple(kv for kv in k if kv[0] != "__name__"): v for k, v in values.items()}

    demo = f'account_id="{DEMO_ACCOUNT}"'
    first = f'instance="{stack.first_demo}", {demo}'
    recorded = stack.prom.query_values(f"account_id_severity:aws_iam_findings:sum{{{demo}}}")
    direct = stack.prom.query_values(
        f"sum by (job, account_id, severity) (aws_iam_findings{{{first}}})"
    )
    assert recorded and unnamed(recorded) == unnamed(direct)
    # Both demo instances do export the account.
    instances = stack.prom.query_values(f"count by (instance) (aws_iam_findings{{{demo}}})")
    assert len(instances) == 2


def test_every_metric_read_by_rules_and_dashboards_exists(stack: Stack) -> None:
    used: set[str] = set()
    for _, rule in all_rules():
        used |= metric_names(rule["expr"])
    for path in DASHBOARD_FILES:
        for _, target in queries(load_dashboard(path)):
            used |= metric_names(target["expr"])
    assert used - set(stack.prom.label_values("__name__")) == set()


Active = dict[tuple[str, str], dict[str, Any]]


def _active(prom: PrometheusServer, state: str) -> Active:
    """``{(alertname, account_id): alert}`` for the alerts in ``state``."""
    return {
        (a["labels"]["alertname"], a["labels"].get("account_id", "")): a
        for a in prom.alerts()
        if a["state"] == state
    }


def _wait_active(prom: PrometheusServer, state: str, keys: set[tuple[str, str]]) -> Active:
    def check() -> Active | None:
        active = _active(prom, state)
        return active if keys <= active.keys() else None

    return prom.wait_until(check, f"{sorted(keys)} {state}")


def test_demo_findings_fire_their_alerts(stack: Stack) -> None:
    expected = {
        ("AwsIamRootMfaDisabled", DEMO_ACCOUNT),
        ("AwsIamRootAccessKeyPresent", DEMO_ACCOUNT),
        ("AwsIamConsoleUsersWithoutMfa", DEMO_ACCOUNT),
        # The sandbox's root has (virtual) MFA and no keys; one console user has no MFA.
        ("AwsIamConsoleUsersWithoutMfa", SANDBOX_ACCOUNT),
        # The demo's exemptions (exporter/sources/demo.py): one ends in 10 days, one
        # ended 3 days ago. They belong to no account.
        ("AwsIamExemptionExpiringSoon", ""),
        ("AwsIamExemptionExpired", ""),
        # The demo's sec-scanner key passes the 90-day rotation limit in 6 days.
        ("AwsIamUpcomingFindings", DEMO_ACCOUNT),
        # The first demo exporter reads the demo's team tag (--labels.owner-tag team).
        ("AwsIamOwnerHighFindings", DEMO_ACCOUNT),
        ("AwsIamOwnerHighFindings", SANDBOX_ACCOUNT),
    }
    firing = _wait_active(stack.prom, "firing", expected)
    upcoming = firing[("AwsIamUpcomingFindings", DEMO_ACCOUNT)]
    assert upcoming["labels"]["severity"] == "low"
    assert upcoming["labels"]["finding_severity"] == "high"
    assert upcoming["labels"]["check"] == "access_key_not_rotated"
    soon = firing[("AwsIamExemptionExpiringSoon", "")]
    assert soon["labels"]["exemption"] == "legacy-soap-migration"
    assert 10 * 86400 < float(soon["value"]) <= 11 * 86400
    lapsed = firing[("AwsIamExemptionExpired", "")]
    assert lapsed["labels"]["exemption"] == "contractor-offboarding"
    assert 2 * 86400 <= float(lapsed["value"]) < 3 * 86400
    root = firing[("AwsIamRootMfaDisabled", DEMO_ACCOUNT)]
    assert root["labels"]["severity"] == "critical"
    assert root["annotations"]["runbook_url"].endswith("/docs/runbook.md#awsiamrootmfadisabled")
    assert (
        root["annotations"]["summary"] == f"Root account of AWS account {DEMO_ACCOUNT} has no MFA"
    )
    owned = firing[("AwsIamOwnerHighFindings", SANDBOX_ACCOUNT)]
    assert owned["labels"]["owner"] == "platform"  # sandbox-ci's old key, path /ci/
    # Nothing rose and both exporters are scraped: no other alert fires.
    assert set(firing) == expected


def test_failing_refresh_is_pending_for_the_broken_exporter_only(stack: Stack) -> None:
    key = ("AwsIamExporterRefreshFailing", stack.broken_account)
    pending = _wait_active(stack.prom, "pending", {key})
    assert set(pending) == {key}


def test_rule_groups_are_loaded_and_healthy(stack: Stack) -> None:
    groups = stack.prom.rule_groups()
    loaded = {rule["name"] for g in groups for rule in g["rules"]}
    assert loaded == {r.get("alert") or r["record"] for _, r in all_rules()}
    unhealthy = [
        (r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"
    ]
    assert unhealthy == []
