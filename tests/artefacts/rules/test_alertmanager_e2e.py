"""The example Alertmanager configuration in a real Alertmanager: routing by severity,
grouping per account, inhibition scoped to one account, and the Slack and SNS
notifications the templates render; first with alerts posted to its API, then
with the whole chain (serve --demo -> Prometheus with the project's rules ->
Alertmanager).

Only the endpoints and timings of deploy/alertmanager/alertmanager.yml are changed
for the test: Slack's webhook URL points at a loopback sink, SNS at a moto server
(real SNS -> SQS delivery, read back with boto3), and group_wait/group_interval
are one second instead of minutes. Routes, receivers, inhibit rules and
templates are the shipped ones.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import yaml

from exporter.sources.demo import DEMO_PRODUCTION, DEMO_SANDBOX
from tests.artefacts.rules.promql import ALERTMANAGER_DIR, RULE_FILES, alerts
from tests.support.alertmanager import Alertmanager, HttpSink, alertmanager, http_sink
from tests.support.exporter_process import exporter_process
from tests.support.moto import FAKE_CREDENTIALS, moto_server
from tests.support.prometheus import prometheus

pytestmark = pytest.mark.slow

A = "111111111111"
B = "222222222222"
DEMO = DEMO_PRODUCTION.account_id  # serve --demo: root without MFA
SANDBOX = DEMO_SANDBOX.account_id  # serve --demo: root with a virtual MFA device
RUNBOOK = {a["alert"]: a["annotations"]["runbook_url"] for a in alerts()}
SEVERITY = {a["alert"]: a["labels"]["severity"] for a in alerts()}
CATEGORY = {a["alert"]: a["labels"]["category"] for a in alerts()}


def alert(name: str, account: str) -> dict[str, Any]:
    return {
        "labels": {
            "alertname": name,
            "severity": SEVERITY[name],
            "category": CATEGORY[name],
            "account_id": account,
            "job": "aws-iam-credential-exporter",
        },
        "annotations": {
            "summary": f"{name} in {account}",
            "description": f"{name} description",
            "runbook_url": RUNBOOK[name],
        },
    }


SENT = [
    alert("AwsIamRootMfaDisabled", A),  # critical: Slack + SNS
    alert("AwsIamRootAccessKeyPresent", A),  # inhibited by the critical one (same account)
    alert("AwsIamConsoleUsersWithoutMfa", A),  # inhibited too
    alert("AwsIamExporterRefreshFailing", A),  # exporter health: never inhibited
    alert("AwsIamRootAccessKeyPresent", B),  # another account: not inhibited
]


def loopback_config(sink: str, sns_endpoint: str) -> dict[str, Any]:
    config = copy.deepcopy(yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text()))
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            del slack["api_url_file"]
            slack["api_url"] = f"{sink}/slack/{receiver['name']}"
        for sns in receiver.get("sns_configs", []):
            sns["api_url"] = sns_endpoint
            sns["sigv4"].update(
                access_key=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                secret_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
    routes = [config["route"], *config["route"]["routes"]]
    for route in routes:
        route.update(group_wait="1s", group_interval="1s")
    return config


@dataclass
class Stack:
    am: Alertmanager
    sink: HttpSink
    sqs: Any
    queue_url: str


@contextmanager
def notification_stack() -> Iterator[Stack]:
    """The example config in a real Alertmanager, Slack -> sink, SNS -> moto -> SQS."""
    with moto_server() as endpoint, http_sink() as sink:
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        sns = session.client("sns", endpoint_url=endpoint)
        sqs = session.client("sqs", endpoint_url=endpoint)
        config = loopback_config(sink.url, endpoint)
        topic_arn = config["receivers"][0]["sns_configs"][0]["topic_arn"]
        created = sns.create_topic(Name=topic_arn.rsplit(":", 1)[1])["TopicArn"]
        assert created == topic_arn, "moto's default account and region match the example ARN"
        queue_url = sqs.create_queue(QueueName="security-alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        templates = {
            f"templates/{p.name}": p.read_text()
            for p in sorted((ALERTMANAGER_DIR / "templates").glob("*.tmpl"))
        }
        with alertmanager(config, files=templates) as am:
            yield Stack(am, sink, sqs, queue_url)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with notification_stack() as st:
        st.am.post_alerts(SENT)
        yield st


def _sns_messages(st: Stack) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        got = st.sqs.receive_message(QueueUrl=st.queue_url, WaitTimeSeconds=1)
        messages = [json.loads(m["Body"]) for m in got.get("Messages", [])]
    assert messages, f"nothing published to SNS; Alertmanager log:\n{st.am.log()[-3000:]}"
    return messages


def _state(am: Alertmanager) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["labels"]["alertname"], a["labels"]["account_id"]): a["status"] for a in am.alerts()}


def test_critical_inhibits_lesser_credential_alerts_of_the_same_account_only(
    stack: Stack,
) -> None:
    status = _state(stack.am)
    assert len(status) == len(SENT)
    suppressed = {k for k, s in status.items() if s["state"] == "suppressed"}
    assert suppressed == {
        ("AwsIamRootAccessKeyPresent", A),
        ("AwsIamConsoleUsersWithoutMfa", A),
    }
    for key in suppressed:
        assert status[key]["inhibitedBy"], key


def _attachments(sink: HttpSink, receiver: str) -> list[dict[str, Any]]:
    return [att for body in sink.bodies(f"/slack/{receiver}") for att in body["attachments"]]


def test_critical_goes_to_slack_with_the_runbook(stack: Stack) -> None:
    stack.sink.wait_for(
        lambda seen: any(p == "/slack/critical-slack-and-sns" for p, _ in seen), "critical"
    )
    (att,) = _attachments(stack.sink, "critical-slack-and-sns")
    assert att["title"] == f"[FIRING:1] AWS account {A}: IAM credential alerts"
    assert att["color"] == "danger"
    assert f"[CRITICAL] AwsIamRootMfaDisabled in {A}" in att["text"]
    assert f"Runbook: {RUNBOOK['AwsIamRootMfaDisabled']}" in att["text"]
    (body,) = stack.sink.bodies("/slack/critical-slack-and-sns")
    assert body["channel"] == "#aws-iam-security"


def test_high_goes_to_slack_one_notification_per_account(stack: Stack) -> None:
    stack.sink.wait_for(
        lambda seen: sum(p == "/slack/slack-security" for p, _ in seen) >= 2, "two groups"
    )
    titles = sorted(att["title"] for att in _attachments(stack.sink, "slack-security"))
    # Account A's group holds only the exporter alert: its root key alert is inhibited.
    assert titles == [
        f"[FIRING:1] AWS account {A}: IAM credential alerts",
        f"[FIRING:1] AWS account {B}: IAM credential alerts",
    ]
    texts = " ".join(att["text"] for att in _attachments(stack.sink, "slack-security"))
    assert f"AwsIamExporterRefreshFailing in {A}" in texts
    assert f"AwsIamRootAccessKeyPresent in {B}" in texts
    assert f"AwsIamRootAccessKeyPresent in {A}" not in texts


def test_critical_is_published_to_the_sns_topic(stack: Stack) -> None:
    (note,) = _sns_messages(stack)
    assert note["Subject"] == f"[FIRING] AWS account {A}: 1 IAM credential alert(s)"
    assert note["Message"].startswith(f"AWS account {A}: 1 firing, 0 resolved.")
    assert f"[CRITICAL] AwsIamRootMfaDisabled in {A}" in note["Message"]
    assert RUNBOOK["AwsIamRootMfaDisabled"] in note["Message"]


def test_whole_chain_demo_exporter_to_prometheus_to_slack_and_sns() -> None:
    """serve --demo -> Prometheus with the project's rules -> this Alertmanager: the
    rules' labels meet the routes and inhibit rules, their annotations the templates.
    The demo production account's root has no MFA (critical), so that account's high
    and medium credential alerts are held back and only the critical one is notified;
    the sandbox account's medium alert is not (inhibition is per account)."""
    with (
        notification_stack() as st,
        exporter_process("--demo") as demo,
        prometheus(
            [f"127.0.0.1:{demo.port}"],
            RULE_FILES,
            alertmanagers=[st.am.url.removeprefix("http://")],
        ) as prom,
    ):
        prom.wait_for_alerts(
            {"AwsIamRootMfaDisabled", "AwsIamRootAccessKeyPresent", "AwsIamConsoleUsersWithoutMfa"}
        )
        (note,) = _sns_messages(st)
        assert note["Subject"] == f"[FIRING] AWS account {DEMO}: 1 IAM credential alert(s)"
        assert f"[CRITICAL] Root account of AWS account {DEMO} has no MFA" in note["Message"]
        st.sink.wait_for(
            lambda seen: any(p == "/slack/critical-slack-and-sns" for p, _ in seen), "critical"
        )
        (att,) = _attachments(st.sink, "critical-slack-and-sns")
        assert "Whoever has the root password alone controls the whole account." in att["text"]
        # The demo's exemption alerts have no account_id.
        status = {
            (a["labels"]["alertname"], a["labels"].get("account_id", "")): a["status"]
            for a in st.am.alerts()
        }
        assert status[("AwsIamRootMfaDisabled", DEMO)]["state"] == "active"
        for held_back in ("AwsIamRootAccessKeyPresent", "AwsIamConsoleUsersWithoutMfa"):
            assert status[(held_back, DEMO)]["state"] == "suppressed", held_back
            assert status[(held_back, DEMO)]["inhibitedBy"], held_back
        sandbox = status[("AwsIamConsoleUsersWithoutMfa", SANDBOX)]
        assert sandbox["state"] == "active" and not sandbox["inhibitedBy"]
