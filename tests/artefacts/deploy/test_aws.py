"""The IAM policies and the CloudFormation template of the reading role (deploy/aws/).

Validated with cfn-lint (which also checks that every IAM action exists) and against the
exporter's own AWS calls, read from botocore's service models.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from cfnlint.decode import decode

from tests.artefacts.deploy.k8s import Manifests, one
from tests.artefacts.deploy.paths import AWS, REPO, run_tool

TEMPLATE = AWS / "reading-role.cfn.yaml"
READER = AWS / "reader-policy.json"
MANAGEMENT = AWS / "management-policy.json"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_template() -> Any:
    template, errors = decode(str(TEMPLATE))
    assert not errors, errors
    # cfn-lint's nodes keep line numbers; a JSON round trip makes them plain dicts.
    return json.loads(json.dumps(template))


def actions(policy: Any) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("cfn-lint", "--format", "parseable", str(path))


def policy_template(policy: Any, path: Path) -> Path:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": policy}}
        },
    }
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


def test_template_passes_cfn_lint() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_passes_cfn_lint_in_every_partition() -> None:
    """aws, aws-cn and aws-us-gov: the exporter supports all three."""
    regions = ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"]
    result = run_tool(
        "cfn-lint", "--format", "parseable", "--regions", *regions, "--", str(TEMPLATE)
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("policy", [READER, MANAGEMENT], ids=lambda p: p.name)
def test_policy_json_passes_cfn_lint_action_checks(policy: Path, tmp_path: Path) -> None:
    result = cfn_lint(policy_template(load_json(policy), tmp_path / "policy.json"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_rejects_a_misspelt_action(tmp_path: Path) -> None:
    """The check above can fail: a typo in an action name is reported (W3037)."""
    policy = load_json(READER)
    policy["Statement"][0]["Action"] = ["iam:GetCredentialReports"]
    result = cfn_lint(policy_template(policy, tmp_path / "policy.json"))
    assert result.returncode != 0
    assert "W3037" in result.stdout


def test_template_inline_policy_is_the_policy_json() -> None:
    role = load_template()["Resources"]["ReadingRole"]["Properties"]
    (inline,) = role["Policies"]
    assert inline["PolicyDocument"] == load_json(READER)


def test_external_id_condition_only_when_given() -> None:
    template = load_template()
    assert template["Parameters"]["ExternalId"]["Default"] == ""
    assert template["Conditions"]["HasExternalId"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]
    }
    trust = template["Resources"]["ReadingRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": {"Ref": "ExporterPrincipalArn"}}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "Fn::If": [
            "HasExternalId",
            {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_template_is_stackset_ready() -> None:
    """No account id and no fixed name: one template serves every account of an organisation."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text), "hard-coded account id"
    template = load_template()
    role = template["Resources"]["ReadingRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "RoleName"}
    assert template["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": ["ReadingRole", "Arn"]}
    for name, parameter in template["Parameters"].items():
        assert parameter.get("Description"), f"parameter {name} has no description"


def test_management_policy_assumes_the_templates_role_name() -> None:
    default_name = load_template()["Parameters"]["RoleName"]["Default"]
    (assume,) = [s for s in load_json(MANAGEMENT)["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == f"arn:aws:iam::*:role/{default_name}"


def test_policies_are_read_only_and_scoped() -> None:
    granted = actions(load_json(READER)) | actions(load_json(MANAGEMENT))
    verbs = ("Get", "List", "Generate", "AssumeRole")
    for action in granted:
        assert "*" not in action, f"wildcard action {action}"
        assert action.split(":")[1].startswith(verbs), f"{action} is not read-only"
    assert {a.split(":")[0] for a in actions(load_json(READER))} == {"iam"}


SERVICES = {"iam": "reader", "organizations": "management", "sts": "management"}
# IAM calls made with the management account's credentials, not the reading role's.
MANAGEMENT_CALLS = {"iam:ListOrganizationsFeatures"}
# Calls every principal may make without a policy.
UNGATED = {"sts:GetCallerIdentity"}
# botocore helpers that make a call on the exporter's behalf.
HELPERS = {"AssumeRoleCredentialFetcher": "sts:AssumeRole"}


def aws_calls() -> set[str]:
    """IAM actions for the AWS operations exporter/sources/aws/ calls (methods and paginators)."""
    names: set[str] = set()
    for path in (REPO / "exporter" / "sources" / "aws").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    session = botocore.session.get_session()
    found = set()
    for service in SERVICES:
        model = session.get_service_model(service)
        prefix = model.signing_name
        for op in model.operation_names:
            if xform_name(op) in names:
                found.add(f"{prefix}:{op}")
    found.update(action for helper, action in HELPERS.items() if helper in names)
    return found - UNGATED


def granted() -> dict[str, set[str]]:
    return {"reader": actions(load_json(READER)), "management": actions(load_json(MANAGEMENT))}


def test_every_aws_call_of_the_exporter_is_granted() -> None:
    """A call the policies miss would fail in production with AccessDenied."""
    calls = aws_calls()
    assert {"iam:GenerateCredentialReport", "iam:GetCredentialReport", "sts:AssumeRole"} <= calls
    for call in calls:
        owner = "management" if call in MANAGEMENT_CALLS else SERVICES[call.split(":")[0]]
        assert call in granted()[owner], (
            f"{call} is called by exporter/sources/aws/ but not in {owner}"
        )


def test_every_granted_action_is_used() -> None:
    """Least privilege: the policies grant nothing the exporter does not call."""
    unused = (granted()["reader"] | granted()["management"]) - aws_calls()
    assert not unused, f"granted but never called by exporter/sources/aws/: {sorted(unused)}"


def test_irsa_trust_policy_names_the_kubernetes_service_account(base: Manifests) -> None:
    """The trust policy's subject is the ServiceAccount the kustomize base creates."""
    trust = load_json(AWS / "irsa-trust-policy.json")
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    provider = statement["Principal"]["Federated"].split(":oidc-provider/", 1)[1]
    conditions = statement["Condition"]["StringEquals"]
    account = one(base, "ServiceAccount")["metadata"]
    subject = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert conditions == {f"{provider}:sub": subject, f"{provider}:aud": "sts.amazonaws.com"}


def test_irsa_trust_policy_passes_cfn_lint(tmp_path: Path) -> None:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": load_json(AWS / "irsa-trust-policy.json"),
                    "Policies": [
                        {"PolicyName": "read", "PolicyDocument": load_json(READER)},
                        {"PolicyName": "discover", "PolicyDocument": load_json(MANAGEMENT)},
                    ],
                },
            }
        },
    }
    path = tmp_path / "role.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def shown_policies() -> list[tuple[str, Any]]:
    """Every JSON policy document shown in README.md and docs/*.md."""
    found = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(r"```json\n(.*?)```", text, re.S):
            try:
                value = json.loads(block)
            except ValueError:
                continue
            if isinstance(value, dict) and "Statement" in value:
                found.append((doc.name, value))
    return found


def test_policies_shown_in_the_docs_are_the_shipped_files() -> None:
    """A policy printed in the documentation is a copy: with the statement ids of a file in
    deploy/aws/ it must equal that file; an excerpt grants nothing the files do not."""
    files = {p.name: load_json(p) for p in sorted(AWS.glob("*.json"))}
    by_sids = {
        frozenset(s.get("Sid") for s in policy["Statement"]): name for name, policy in files.items()
    }
    shipped = actions(load_json(READER)) | actions(load_json(MANAGEMENT))
    shown = shown_policies()
    assert shown
    for doc, policy in shown:
        name = by_sids.get(frozenset(s.get("Sid") for s in policy["Statement"]))
        if name:
            assert policy == files[name], f"{doc} shows a different {name}"
        else:
            assert actions(policy) <= shipped, f"{doc} shows actions deploy/aws/ does not grant"
