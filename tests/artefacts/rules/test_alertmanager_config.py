"""The example Alertmanager configuration: amtool accepts it, the routing tree sends
each severity where the docs say, and the inhibition is scoped to one account."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.artefacts.rules.promql import ALERTMANAGER_DIR, alerts

CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["amtool", *args], capture_output=True, text=True, timeout=60, check=False
    )


def receivers_for(*labels: str) -> list[str]:
    result = amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


def test_amtool_check_config_accepts_config_and_templates() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout
    assert "FAILED" not in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (("severity=critical", "category=credentials"), ["critical-slack-and-sns"]),
        (("severity=high", "category=credentials"), ["slack-security"]),
        (("severity=high", "category=exporter"), ["slack-security"]),
        (("severity=medium", "category=credentials"), ["slack-security-digest"]),
        (("severity=low", "category=credentials"), ["slack-security-digest"]),
        (("alertname=Unrelated",), ["slack-security"]),
        (("severity=high", "category=credentials", "owner=payments"), ["slack-owner"]),
        (("severity=high", "category=credentials", "owner="), ["slack-security"]),
    ],
)
def test_routes_by_severity(labels: tuple[str, ...], receivers: list[str]) -> None:
    assert receivers_for("account_id=123456789012", *labels) == receivers


def test_every_alert_severity_has_a_route() -> None:
    for alert in alerts():
        severity = alert["labels"]["severity"]
        assert receivers_for(f"severity={severity}", f"alertname={alert['alert']}")


def test_critical_goes_to_slack_and_sns_and_others_to_slack() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    critical = receivers["critical-slack-and-sns"]
    assert critical["slack_configs"] and critical["sns_configs"]
    assert critical["sns_configs"][0]["topic_arn"].startswith("arn:aws:sns:")
    for name in ("slack-security", "slack-security-digest", "slack-owner"):
        assert set(receivers[name]) == {"name", "slack_configs"}
    # Secrets are referenced, never inlined.
    for receiver in receivers.values():
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack and slack["api_url_file"].startswith("/")


def test_grouped_by_account_and_critical_inhibits_lesser_credential_alerts() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["route"]["group_by"] == ["account_id"]
    (rule,) = config["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"', 'category="credentials"']
    assert rule["target_matchers"] == ['severity=~"high|medium|low"', 'category="credentials"']
    assert rule["equal"] == ["account_id"]
    # Only credential alerts with an account can be inhibited by account.
    for alert in alerts():
        if alert["labels"]["category"] == "credentials":
            assert "account_id" in alert["annotations"]["summary"]


def test_owner_alerts_go_to_the_owners_channel_grouped_by_owner() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    (route,) = [r for r in config["route"]["routes"] if r["receiver"] == "slack-owner"]
    assert route["group_by"] == ["account_id", "owner"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert (
        receivers["slack-owner"]["slack_configs"][0]["channel"] == "#iam-{{ .CommonLabels.owner }}"
    )
    owned = [a for a in alerts() if a["alert"] == "AwsIamOwnerHighFindings"]
    assert owned and 'owner!=""' in owned[0]["expr"]
