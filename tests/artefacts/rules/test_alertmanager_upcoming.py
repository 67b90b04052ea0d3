"""Upcoming findings go to their own low-urgency receiver, whatever the finding's severity."""

from __future__ import annotations

import yaml

from tests.artefacts.rules.promql import alerts
from tests.artefacts.rules.test_alertmanager_config import CONFIG, receivers_for

ALERT = "AwsIamUpcomingFindings"


def test_the_upcoming_alert_is_low_and_routed_to_the_quiet_receiver() -> None:
    [alert] = [a for a in alerts() if a["alert"] == ALERT]
    assert alert["labels"]["severity"] == "low"
    labels = ("account_id=123456789012", f"alertname={ALERT}", "severity=low",
              "category=credentials")  # fmt: skip
    assert receivers_for(*labels, "finding_severity=critical") == ["slack-security-upcoming"]
    assert receivers_for(*labels, "finding_severity=high") == ["slack-security-upcoming"]
    # Other low alerts keep their digest.
    assert receivers_for("severity=low", "category=credentials") == ["slack-security-digest"]


def test_the_quiet_receiver_batches_and_never_resolves() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    [route] = [r for r in config["route"]["routes"] if r["receiver"] == "slack-security-upcoming"]
    assert route["repeat_interval"] == "24h" and route["group_wait"] == "1h"
    [receiver] = [r for r in config["receivers"] if r["name"] == "slack-security-upcoming"]
    [slack] = receiver["slack_configs"]
    assert slack["send_resolved"] is False and slack["api_url_file"].startswith("/")
