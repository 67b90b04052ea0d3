"""The Dockerfile and .dockerignore, checked without a Docker engine.

hadolint lints it; the structure (stages, user, environment, labels, health check, volume,
entrypoint) is read from the file and compared with the package; every COPY source must
exist and survive .dockerignore; and the build stage's install is replayed from exactly
the files the image gets, then the image's HEALTHCHECK command is run against the real
exporter installed that way.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

from exporter import __version__
from exporter.cli.main import build_parser
from exporter.config.settings import DEFAULT_PORT
from tests.artefacts.deploy.dockerfile import DockerIgnore, Instruction, copy_sources, instructions
from tests.artefacts.deploy.paths import REPO, run_tool
from tests.support.net import free_port, wait_http

DOCKERFILE = REPO / "Dockerfile"
STATE_DIR = "/var/lib/iam-credential-exporter"
# The installed metadata is pyproject.toml's (tomllib is not in Python 3.10).
DIST = distribution("aws-iam-credential-exporter")


def parsed() -> list[Instruction]:
    return instructions(DOCKERFILE)


def final_stage() -> list[Instruction]:
    steps = parsed()
    last = max(i.stage for i in steps)
    return [i for i in steps if i.stage == last]


def only(steps: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in steps if i.keyword == keyword]
    assert len(found) == 1, f"{keyword}: {len(found)} in the final stage"
    return found[0]


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("hadolint", "--failure-threshold", "style", str(path))


def test_hadolint_passes_without_ignores() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hadolint ignore" not in DOCKERFILE.read_text(encoding="utf-8")
    assert not list(REPO.glob(".hadolint.y*ml"))


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The check above can fail: an unpinned base image and a root user are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nUSER root\nRUN apt-get install -y curl\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_multi_stage_on_a_slim_python_base() -> None:
    steps = parsed()
    froms = [i for i in steps if i.keyword == "FROM"]
    assert len(froms) >= 2
    assert froms[0].rest.endswith(" AS build")
    base_arg = next(i for i in steps if i.keyword == "ARG" and "PYTHON_IMAGE" in i.rest)
    image = base_arg.pairs()["PYTHON_IMAGE"]
    assert image.startswith("python:3.") and "-slim" in image and image.count(":") == 1
    assert froms[-1].rest == "${PYTHON_IMAGE}"
    # The final stage takes the venv from the build stage and installs nothing itself.
    final = final_stage()
    copies = [i for i in final if i.keyword == "COPY"]
    assert [c.flags().get("from") for c in copies] == ["build"]
    for step in final:
        assert not any(w in step.rest for w in ("apt-get", "gcc", "pip install", "apk ")), step


def test_build_installs_only_wheels_into_a_venv() -> None:
    build = [i for i in parsed() if i.stage == 0]
    assert any(i.keyword == "RUN" and "python -m venv /opt/venv" in i.rest for i in build)
    (install,) = [i for i in build if i.keyword == "RUN" and "pip install" in i.rest]
    assert "--only-binary=:all:" in install.rest  # no compiler is ever needed
    final = final_stage()
    assert "/opt/venv/bin" in only(final, "ENV").pairs()["PATH"]


def test_non_root_numeric_user() -> None:
    users = [i for i in final_stage() if i.keyword == "USER"]
    assert users and users[-1].rest == "65534:65534"


def test_python_environment() -> None:
    env = only(final_stage(), "ENV").pairs()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_state_volume_and_port() -> None:
    final = final_stage()
    assert only(final, "VOLUME").exec_form() == [STATE_DIR]
    assert only(final, "EXPOSE").rest == str(DEFAULT_PORT)
    (mkdir,) = [i for i in final if i.keyword == "RUN" and STATE_DIR in i.rest]
    assert "-o 65534 -g 65534" in mkdir.rest  # a named volume inherits this owner


def test_oci_labels() -> None:
    labels = only(final_stage(), "LABEL").pairs()
    prefix = "org.opencontainers.image."
    for key in ("title", "description", "version", "licenses", "source", "documentation"):
        assert labels.get(prefix + key), f"missing label {prefix}{key}"
    # An SPDX expression (PEP 639); metadata of builds before it had only "License".
    licence = DIST.metadata["License-Expression"] or DIST.metadata["License"]
    assert labels[prefix + "licenses"] == licence
    assert labels[prefix + "version"] == "${VERSION}"
    version = next(i for i in final_stage() if i.keyword == "ARG" and "VERSION" in i.rest)
    assert version.pairs()["VERSION"] == __version__


def test_healthcheck_uses_python_on_the_health_endpoint() -> None:
    check = only(final_stage(), "HEALTHCHECK")
    command = check.exec_form()
    assert command and command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert f"http://127.0.0.1:{DEFAULT_PORT}/-/healthy" in command[2]
    assert "curl" not in check.rest and "wget" not in check.rest
    assert set(check.flags()) >= {"interval", "timeout", "start-period", "retries"}


def test_entrypoint_and_cmd_are_valid() -> None:
    final = final_stage()
    entrypoint = only(final, "ENTRYPOINT").exec_form()
    scripts = [e.name for e in DIST.entry_points if e.group == "console_scripts"]
    assert entrypoint == scripts
    cmd = only(final, "CMD").exec_form()
    assert cmd and cmd[0] == "serve"
    args = build_parser().parse_args(cmd)
    assert args.command == "serve"
    assert f"--state.dir={STATE_DIR}" in cmd


def test_copy_sources_exist_and_are_in_the_build_context() -> None:
    ignore = DockerIgnore(REPO / ".dockerignore")
    sources = [s for i in parsed() if i.keyword == "COPY" for s in copy_sources(i)]
    assert "pyproject.toml" in sources and "exporter" in sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path"
        assert not ignore.excluded(source), f"COPY {source}: excluded by .dockerignore"
    # What pyproject.toml reads at build time is copied too.
    readme = re.search(r'^readme = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert readme and readme.group(1) in sources


def test_dockerignore_keeps_tests_and_caches_out() -> None:
    ignore = DockerIgnore(REPO / ".dockerignore")
    for path in ("tests/test_smoke.py", ".git/HEAD", ".venv/bin/python", "deploy/aws"):
        assert ignore.excluded(path), path
    for path in ("exporter/__pycache__/cli.cpython-311.pyc", "exporter/x.pyc"):
        assert ignore.excluded(path), path
    assert not ignore.excluded("exporter/cli/main.py")


def image_pip_install(context: str) -> list[str]:
    """The build stage's `pip install ... .` with its options, on another context path."""
    (run,) = [
        i for i in parsed() if i.stage == 0 and i.keyword == "RUN" and "pip install" in i.rest
    ]
    words = shlex.split(run.rest.split("&&")[0])
    assert words[:2] == ["pip", "install"] and words[-1] == ".", words
    return [*words[:-1], context]


def build_context(tmp: Path) -> Path:
    """The files the build stage's /src holds: the COPY sources, minus .dockerignore."""
    ignore = DockerIgnore(REPO / ".dockerignore")
    context = tmp / "src"
    build = [i for i in parsed() if i.stage == 0 and i.keyword == "COPY"]
    for source in (s for i in build for s in copy_sources(i)):
        origin = REPO / source
        files = [origin] if origin.is_file() else [p for p in origin.rglob("*") if p.is_file()]
        for path in files:
            relative = path.relative_to(REPO).as_posix()
            if not ignore.excluded(relative):
                (context / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, context / relative)
    return context


@pytest.mark.slow
def test_image_install_serves_and_passes_its_healthcheck(tmp_path: Path) -> None:
    """Replays the image's `pip install` (same options, build isolation) on the build
    context alone (dependencies come from this venv, as the image's come from wheels),
    runs the exporter so installed with the image's environment, then runs the
    HEALTHCHECK command itself."""
    context = build_context(tmp_path)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", *image_pip_install(str(context)), "-q", "--no-deps",
         "--target", str(target)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    installed = {p.relative_to(target / "exporter") for p in (target / "exporter").rglob("*.py")}
    in_repo = {p.relative_to(REPO / "exporter") for p in (REPO / "exporter").rglob("*.py")}
    assert installed == in_repo
    before = sorted(p for p in target.rglob("*"))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env |= only(final_stage(), "ENV").pairs() | {"PATH": os.environ["PATH"]}
    env["PYTHONPATH"] = str(target)
    port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    cmd = only(final_stage(), "CMD").exec_form() or []
    cmd = [a.replace(STATE_DIR, str(state)) for a in cmd]
    server = subprocess.Popen(
        [sys.executable, "-m", "exporter", *cmd, "--demo",
         f"--web.listen-address=127.0.0.1:{port}"],
        cwd=state, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    healthcheck = only(final_stage(), "HEALTHCHECK").exec_form() or []
    probe = [sys.executable, *healthcheck[1:]]
    url = {"HEALTHCHECK_URL": f"http://127.0.0.1:{port}/-/healthy"}
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60)
        where = subprocess.run(
            [sys.executable, "-c", "import exporter; print(exporter.__file__)"],
            env=env, cwd=state, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert where.stdout.startswith(str(target))
        assert subprocess.run(probe, env=env | url, check=False).returncode == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
        assert server.stderr is not None
        server.stderr.close()
    # Unhealthy once the server is gone.
    assert subprocess.run(probe, env=env | url, check=False, capture_output=True).returncode != 0
    # Nothing was written into the installed tree (no .pyc): a read-only root stays intact.
    assert sorted(p for p in target.rglob("*")) == before
