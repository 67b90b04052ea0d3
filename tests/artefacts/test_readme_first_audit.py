"""The top of the README and its "First audit" section do what they say.

- The two set-up commands come first, and the second is exactly what ``.ci/run`` runs.
- "First audit" shows, in order, the permissions (the shipped reader policy), ``audit``
  of the live account, and a report saved with the AWS CLI, then audited.
- Every ``iam-credential-exporter`` command of the README parses with the real parser,
  and every ``aws`` command of the section matches botocore's model of the API.
- Slow: the section's commands run for real, the AWS CLI and ``audit`` against moto.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.model import StructureShape

from exporter.cli.main import build_parser
from tests.artefacts.deploy.test_readme import AWS_GLOBAL, check_aws_option, option_values
from tests.support.fault_proxy import reset_moto
from tests.support.moto import aws_env

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
PROG = "iam-credential-exporter"


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def sh_blocks(text: str) -> list[list[str]]:
    """The commands of each ``sh`` block, continuation lines joined, comments dropped."""
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines = [line.split(" # ")[0].strip() for line in block.replace("\\\n", " ").splitlines()]
        blocks.append([" ".join(line.split()) for line in lines if line and line[0] != "#"])
    return blocks


def test_the_two_set_up_commands_come_first() -> None:
    first_heading = README.index("\n## ")
    assert README.index("```sh\n") < first_heading
    assert sh_blocks(README)[0] == ["bash scripts/demo", "bash scripts/test"]


def test_ci_runs_exactly_the_second_command() -> None:
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [
        line for line in lines if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == ["exec bash scripts/test"]
    assert "`.ci/run` runs exactly the second command." in README


def test_the_first_command_serves_the_demo_from_the_venv_the_readme_names() -> None:
    demo = (REPO / "scripts" / "demo").read_text(encoding="utf-8")
    assert "venv=${VENV:-.venv}" in demo
    assert re.search(r'^exec "\$venv/bin/iam-credential-exporter" serve --demo\b', demo, re.M)
    audit = section("First audit")
    assert "`bash scripts/demo` installs the command in the clone's venv, `.venv/bin`" in audit
    assert sh_blocks(audit)[0] == [". .venv/bin/activate"]


def test_pip_and_pipx_install_the_command() -> None:
    """``pipx install .`` and ``pip install .`` put the entry point on the PATH."""
    # The installed metadata is pyproject.toml's (tomllib is not in Python 3.10).
    scripts = distribution("aws-iam-credential-exporter").entry_points.select(
        group="console_scripts"
    )
    assert [(e.name, e.value) for e in scripts] == [(PROG, "exporter.cli:main")]
    audit = section("First audit")
    assert "`pipx install .`" in audit and "`pip install .`" in audit


def test_first_audit_shows_permissions_then_live_then_saved() -> None:
    audit = section("First audit")
    commands = [c for block in sh_blocks(audit) for c in block]
    live = [
        c
        for c in commands
        if c.startswith(f"{PROG} audit") and "--" not in c.replace("--fail-on", "")
    ]
    assert live, "no audit of the live account (without --report-file or --demo)"
    steps = [
        "[deploy/aws/reader-policy.json](deploy/aws/reader-policy.json)",
        live[0],
        "aws iam generate-credential-report",
        "aws iam get-credential-report --query Content --output text"
        " | base64 --decode > report.csv",
        f"{PROG} audit --report-file report.csv",
    ]
    where = [audit.find(step) for step in steps]
    assert -1 not in where, [s for s, i in zip(steps, where, strict=True) if i == -1]
    assert where == sorted(where), "the steps are out of order"


def test_first_audit_shows_the_shipped_reader_policy() -> None:
    (block,) = re.findall(r"```json\n(.*?)```", section("First audit"), re.S)
    shipped = json.loads(
        (REPO / "deploy" / "aws" / "reader-policy.json").read_text(encoding="utf-8")
    )
    assert json.loads(block) == shipped


def cli_commands() -> list[str]:
    """Every ``iam-credential-exporter`` command of the README: shell blocks and code spans."""
    found = [c for block in sh_blocks(README) for c in block if c.startswith(f"{PROG} ")]
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    found += [" ".join(s.split()) for s in re.findall(rf"`({PROG} [^`]+)`", prose)]
    return sorted(set(found))


def parses(command: str) -> tuple[bool, str]:
    words = shlex.split(command.split(" | ", maxsplit=1)[0])[1:]
    try:
        build_parser().parse_args(words)
    except SystemExit as stop:
        return stop.code == 0, f"exit {stop.code}"  # --help and --version exit 0
    return True, ""


def test_the_readme_shows_commands_of_every_sub_command() -> None:
    assert {c.split()[1] for c in cli_commands()} == {"audit", "diff", "serve"}


@pytest.mark.parametrize("command", cli_commands())
def test_readme_commands_parse(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    ok, why = parses(command)
    assert ok, f"{command}: {why}: {capsys.readouterr().err.strip()}"


def test_a_wrong_command_does_not_parse(capsys: pytest.CaptureFixture[str]) -> None:
    assert parses(f"{PROG} audit --report-file r.csv")[0]
    assert not parses(f"{PROG} audit --fail-on sometimes")[0]
    assert not parses(f"{PROG} audit --no-such-flag")[0]


def aws_commands() -> list[str]:
    commands = [c for block in sh_blocks(section("First audit")) for c in block]
    return [c.split(" | ")[0] for c in commands if c.startswith("aws ")]


@pytest.mark.parametrize("command", aws_commands())
def test_aws_commands_match_the_api(command: str) -> None:
    """The operation exists, and so does every option but the CLI's own."""
    service, operation_name, *rest = shlex.split(command)[1:]
    model = botocore.session.get_session().get_service_model(service)
    by_cli_name = {xform_name(op, "-"): op for op in model.operation_names}
    assert operation_name in by_cli_name, f"aws {service} has no {operation_name}"
    operation = model.operation_model(by_cli_name[operation_name])
    options = {k: v for k, v in option_values(rest).items() if k not in AWS_GLOBAL}
    shape = operation.input_shape
    if shape is None:  # generate- and get-credential-report take no input
        assert options == {}, command
        return
    assert isinstance(shape, StructureShape)
    for option, values in options.items():
        check_aws_option(operation, option, values)


def test_get_credential_report_has_the_queried_field() -> None:
    """``--query Content`` names a member of the operation's output."""
    model = botocore.session.get_session().get_service_model("iam")
    output = model.operation_model("GetCredentialReport").output_shape
    assert isinstance(output, StructureShape)
    assert output.members["Content"].type_name == "blob"  # the CLI prints it base64-encoded
    assert any("--query Content " in c for c in aws_commands())


def run_in_shell(script: str, cwd: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    """``script`` in bash, with ``iam-credential-exporter`` this checkout's CLI and the
    AWS CLI pointed at moto."""
    env = {**aws_env(endpoint), "AWS_EC2_METADATA_DISABLED": "true", "PYTHONPATH": str(REPO)}
    prelude = f'{PROG}() {{ {shlex.quote(sys.executable)} -m exporter "$@"; }}\n'
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + prelude + script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def account_with_a_user(moto_endpoint: str) -> str:
    reset_moto(moto_endpoint)  # moto's accounts live as long as the process
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="alice")
    iam.create_access_key(UserName="alice")
    return moto_endpoint


def findings_of(stdout: str) -> set[tuple[str, str]]:
    return {(f["user"], f["check"]) for f in json.loads(stdout)["findings"]}


@pytest.mark.slow
def test_the_saved_report_commands_run(account_with_a_user: str, tmp_path: Path) -> None:
    """The AWS CLI's commands save a CSV that ``audit`` reads. moto's report has no root
    row, which AWS always writes: ``audit`` refuses it, naming the row, and audits it
    with ``--allow-incomplete``."""
    assert shutil.which("aws"), "the AWS CLI is needed (scripts/test installs Debian's awscli)"
    (saving,) = [b for b in sh_blocks(section("First audit")) if b[0].startswith("aws ")]
    *save, audit = saving
    result = run_in_shell("\n".join(save), tmp_path, account_with_a_user)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.csv").read_text(encoding="utf-8").startswith("user,arn,")
    refused = run_in_shell(audit, tmp_path, account_with_a_user)
    assert refused.returncode == 2
    assert "<root_account>" in refused.stderr and "report.csv" in refused.stderr
    audited = run_in_shell(
        audit + " --allow-incomplete --format json", tmp_path, account_with_a_user
    )
    assert audited.returncode == 0, audited.stderr
    assert ("alice", "access_key_never_used") in findings_of(audited.stdout)


@pytest.mark.slow
def test_the_live_audit_reads_the_ambient_account(account_with_a_user: str, tmp_path: Path) -> None:
    (live,) = [c for c in cli_commands() if c == f"{PROG} audit --fail-on high"]
    refused = run_in_shell(live, tmp_path, account_with_a_user)
    assert refused.returncode == 2 and "<root_account>" in refused.stderr
    audited = run_in_shell(
        live + " --allow-incomplete --format json", tmp_path, account_with_a_user
    )
    assert audited.returncode in (0, 1), audited.stderr
    report = json.loads(audited.stdout)
    assert [a["account_id"] for a in report["accounts"]] == ["123456789012"]
    assert ("alice", "access_key_never_used") in findings_of(audited.stdout)
