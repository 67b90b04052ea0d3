"""Every command of the README's "Deploy" section is run here or checked offline.

- `kubectl apply -k DIR` (or `delete -k`): `kubectl kustomize DIR` is run (no cluster here)
  and must build; `kubectl create namespace NS`: NS is the kustomize files' namespace.
- `helm install RELEASE CHART ...`: the chart is rendered with those options by Helm itself
  (helm-python-sdk), in that namespace.
- `python deploy/kubernetes/generate.py`: run with `--check` (the same output, not rewritten).
- `docker compose -f FILE ...`: no Docker engine here; the file is the one test_compose.py
  validates, and the sub-command and its options are among those listed below.
  `docker build -t IMAGE:TAG .` builds the Dockerfile at the repository root with the
  exporter version as tag, and `docker push` pushes an image built just before.
- `aws SERVICE OPERATION ...`: checked against botocore's model of that API (operation,
  option names, required options, shorthand keys), `file://` paths must exist, and
  CloudFormation parameters must exist in the template and match its AllowedPattern.
Any other command in the section fails the test, so none goes unchecked.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import botocore.session
import helm_python
import pytest
import yaml
from botocore import xform_name
from botocore.model import OperationModel, StructureShape
from cfnlint.decode import decode

from exporter import __version__
from tests.artefacts.deploy.compose import COMPOSE_FILE
from tests.artefacts.deploy.helm import CHART, render
from tests.artefacts.deploy.k8s import kustomize_build
from tests.artefacts.deploy.paths import GENERATOR, KUBERNETES, REPO, run_generator

README = REPO / "README.md"
TOOLS = ("docker ", "kubectl ", "aws ", "python ", "helm ", "kustomize ", "eksctl ")
# docker compose options the README may use (docker compose up/down --help).
COMPOSE_OPTIONS = {"up": {"-d", "--detach", "--build"}, "down": {"-v", "--volumes"}}
AWS_GLOBAL = {"--query", "--output", "--region", "--profile"}


def deploy_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Deploy\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def commands() -> list[str]:
    section = deploy_section()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                found.append(" ".join(command.split()))
    prose = re.sub(r"```.*?```", "", section, flags=re.S)
    for span in re.findall(r"`([^`]+)`", prose):
        command = " ".join(span.split())
        if command.startswith(TOOLS):
            found.append(command)
    return found


def test_the_section_has_commands_of_each_kind() -> None:
    kinds = {c.split()[0] for c in commands()}
    assert kinds == {"docker", "kubectl", "aws", "python", "helm"}


def test_the_image_is_built_and_pushed_before_anything_is_installed() -> None:
    """The image comes first: no `kubectl apply` or `helm install` can pull it before."""
    found = commands()
    pushes = [i for i, c in enumerate(found) if c.startswith("docker push ")]
    installs = [i for i, c in enumerate(found) if c.startswith(("kubectl apply", "helm install"))]
    assert pushes and installs
    assert max(pushes) < min(installs)
    section = deploy_section()
    assert section.index("docker push ") < section.index("kubectl apply -k")


def test_the_namespace_is_created_before_the_kustomize_apply() -> None:
    found = commands()
    create = found.index(f"kubectl create namespace {kustomize_namespace()}")
    assert create < found.index("kubectl apply -k deploy/kubernetes/base")


def kustomize_namespace() -> str:
    namespaces = {
        yaml.safe_load(path.read_text(encoding="utf-8"))["namespace"]
        for path in sorted(KUBERNETES.glob("**/kustomization.yaml"))
    }
    (namespace,) = namespaces
    return str(namespace)


def words_of(command: str) -> list[str]:
    return shlex.split(command)


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("kubectl ")])
def test_kubectl_commands_build(command: str) -> None:
    words = words_of(command)
    if words[1:3] == ["create", "namespace"]:
        assert words[3:] == [kustomize_namespace()], command
        return
    assert words[1] in ("apply", "delete") and words[2] == "-k" and len(words) == 4, command
    docs = kustomize_build(REPO / words[3])
    assert [d for d in docs if d["kind"] == "ServiceMonitor"]


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("python ")])
def test_python_commands_run(command: str) -> None:
    words = words_of(command)
    assert words == ["python", "deploy/kubernetes/generate.py"], command
    assert REPO / words[1] == GENERATOR
    result = run_generator("--check")
    assert result.returncode == 0, result.stdout + result.stderr


# helm install's options the README may use: with a value, or a switch.
HELM_OPTIONS = {"--namespace": True, "--set": True, "--create-namespace": False}


def helm_options(words: list[str]) -> dict[str, list[str]]:
    """Options by name, each with its values (a repeated --set keeps them all)."""
    out: dict[str, list[str]] = {}
    rest = iter(words)
    for word in rest:
        assert word in HELM_OPTIONS, f"unexpected {word!r} in helm install"
        values = out.setdefault(word, [])
        if HELM_OPTIONS[word]:
            value = next(rest, None)
            assert value and not value.startswith("-"), f"{word} needs a value"
            values.append(value)
    return out


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("helm ")])
def test_helm_commands_render(command: str) -> None:
    words = words_of(command)
    assert words[1] == "install", command
    release, chart, *rest = words[2:]
    assert (REPO / chart).resolve() == CHART
    helm_python.validate_release_name(release)
    options = helm_options(rest)
    (namespace,) = options["--namespace"]
    # Helm merges repeated --set options as one comma-separated expression.
    values = helm_python.parse_set_string(",".join(options.get("--set", [])))
    docs = render(values, release=release, namespace=namespace)
    assert {d["metadata"]["namespace"] for d in docs} == {namespace}
    (account,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    role = values.get("serviceAccount", {}).get("roleArn")
    assert account["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn") == role
    # ... and it is the ServiceAccount that the README's IRSA trust policy trusts.
    policy = (REPO / "deploy" / "aws" / "irsa-trust-policy.json").read_text(encoding="utf-8")
    subject = f"system:serviceaccount:{namespace}:{account['metadata']['name']}"
    assert f'"{subject}"' in policy
    # The image it runs is the one the docker commands above build and push.
    (work,) = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    (image,) = [c["image"] for c in work["spec"]["template"]["spec"]["containers"]]
    assert image in {words_of(c)[-1] for c in commands() if c.startswith("docker push ")}


def built_images() -> list[str]:
    return [words_of(c)[3] for c in commands() if words_of(c)[:3] == ["docker", "build", "-t"]]


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("docker ")])
def test_docker_commands(command: str) -> None:
    words = words_of(command)
    if words[1] == "build":
        assert words[2] == "-t" and len(words) == 5, command
        assert words[4] == "." and (REPO / "Dockerfile").is_file()
        assert words[3].rpartition(":")[2] == __version__, command
        return
    if words[1] == "push":
        assert len(words) == 3 and words[2] in built_images(), command
        return
    assert words[:3] == ["docker", "compose", "-f"], command
    assert (REPO / words[3]).resolve() == COMPOSE_FILE
    subcommand, *options = words[4:]
    assert set(options) <= COMPOSE_OPTIONS[subcommand], command


def shorthand(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split(","))


def option_values(words: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for word in words:
        if word.startswith("--"):
            current = word
            out[current] = []
        else:
            assert current, f"stray argument {word}"
            out[current].append(word)
    return out


def check_cloudformation_parameters(values: list[str], template: dict[str, Any]) -> None:
    for value in values:
        pair = shorthand(value)
        assert set(pair) == {"ParameterKey", "ParameterValue"}, value
        parameter = template["Parameters"][pair["ParameterKey"]]
        pattern = parameter.get("AllowedPattern")
        if pattern:
            assert re.fullmatch(pattern, pair["ParameterValue"]), value


def check_aws_option(operation: OperationModel, option: str, values: list[str]) -> None:
    shape = operation.input_shape
    assert isinstance(shape, StructureShape)
    members = {xform_name(name, "-"): name for name in shape.members}
    name = option[2:]
    assert name in members, f"{operation.name} has no option {option}"
    member = shape.members[members[name]]
    if values and values[0].startswith("file://"):
        path = REPO / values[0].removeprefix("file://")
        assert path.is_file(), values[0]
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    elif isinstance(member, StructureShape):
        (value,) = values
        assert set(shorthand(value)) <= set(member.members), f"{option} {value}"


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("aws ")])
def test_aws_commands_match_the_api(command: str) -> None:
    words = words_of(command)
    service, operation_name, rest = words[1], words[2], words[3:]
    model = botocore.session.get_session().get_service_model(service)
    by_cli_name = {xform_name(op, "-"): op for op in model.operation_names}
    assert operation_name in by_cli_name, f"aws {service} has no {operation_name}"
    operation = model.operation_model(by_cli_name[operation_name])
    options = option_values(rest)
    for option, values in options.items():
        if option in AWS_GLOBAL:
            continue
        check_aws_option(operation, option, values)
        if option == "--parameters":
            template_arg = options["--template-body"][0].removeprefix("file://")
            template, errors = decode(str(REPO / template_arg))
            assert not errors
            check_cloudformation_parameters(values, template)
    shape = operation.input_shape
    assert isinstance(shape, StructureShape)
    for required in shape.required_members:
        assert f"--{xform_name(required, '-')}" in options, f"{command}: missing {required}"


@pytest.mark.parametrize(
    "command",
    [
        "aws iam create-policy --policy-name x --policy-doc file://deploy/aws/reader-policy.json",
        "aws iam create-policy --policy-name x --policy-document file://deploy/aws/missing.json",
        "aws iam create-role --role-name x",
        "aws cloudformation create-stack --stack-name s --template-body "
        "file://deploy/aws/reading-role.cfn.yaml "
        "--parameters ParameterKey=ExporterPrincipalArn,ParameterValue=not-an-arn",
        "aws cloudformation create-stacks --stack-name s",
    ],
)
def test_aws_check_rejects_wrong_commands(command: str) -> None:
    """The check can fail: a misspelt option or operation, a missing file, a missing
    required option and a parameter outside the template's pattern are all caught."""
    with pytest.raises((AssertionError, KeyError)):
        test_aws_commands_match_the_api(command)
