"""The version lives in exporter/__init__.py only: pyproject.toml reads it, and every
file that repeats it (image tags, the chart's appVersion, the README) is a checked copy.
The licence is an SPDX expression (PEP 639), which needs setuptools 77 or later."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from exporter import __version__

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = (REPO / "pyproject.toml").read_text(encoding="utf-8")

# Each file that may repeat the version, and the test that holds it to __version__.
CHECKED_COPIES = {
    "exporter/__init__.py": "the source",
    "Dockerfile": "test_dockerfile.py::test_oci_labels",
    "deploy/compose/compose.yaml": "test_compose.py (image)",
    "deploy/kubernetes/base/kustomization.yaml": "test_kubernetes.py (newTag)",
    "deploy/kubernetes/overlays/sharded/kustomization.yaml": "the same test",
    "deploy/helm/iam-credential-exporter/Chart.yaml": "test_helm.py (appVersion)",
    "README.md": "test_readme.py (docker build) and test_the_readme_shows_this_version below",
}  # fmt: skip


def table(name: str) -> str:
    """The body of one ``[name]`` table of pyproject.toml (tomllib needs Python 3.11)."""
    m = re.search(rf"^\[{re.escape(name)}\]\n(.*?)(?=^\[|\Z)", PYPROJECT, re.M | re.S)
    assert m, f"pyproject.toml has no [{name}]"
    return m.group(1)


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_no_other_file_repeats_the_version() -> None:
    repeated = []
    for name in tracked_files():
        path = REPO / name
        if not path.is_file():  # deleted in the worktree, not yet committed
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if re.search(rf"(?<![\d.]){re.escape(__version__)}(?![\d])", text):
            repeated.append(name)
    assert set(repeated) - set(CHECKED_COPIES) == set(), "an unchecked copy of the version"
    assert "exporter/__init__.py" in repeated


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = table("project")
    assert not re.search(r"^version\s*=", project, re.M), "a second copy in [project]"
    assert re.search(r'^dynamic = \["version"\]', project, re.M)
    assert re.search(
        r'^version = \{ attr = "exporter.__version__" \}', table("tool.setuptools.dynamic"), re.M
    )


def test_the_licence_is_an_spdx_expression_with_a_setuptools_that_reads_it() -> None:
    project = table("project")
    assert re.search(r'^license = "Apache-2.0"$', project, re.M)
    assert "License ::" not in project, "PEP 639 forbids licence classifiers with an expression"
    requires = re.search(r"^requires = \[(.*)\]", table("build-system"), re.M)
    assert requires is not None
    bound = re.search(r'"setuptools>=(\d+)', requires.group(1))
    assert bound is not None and int(bound.group(1)) >= 77


def test_the_readme_shows_this_version() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r'aws_iam_exporter_build_info\{[^}]*version="([^"]+)"', readme)
    assert shown == [__version__]


@pytest.mark.slow
def test_a_built_wheel_carries_the_version_and_the_licence(tmp_path: Path) -> None:
    """A real build, with build isolation (the pinned setuptools from the index), of a
    copy: setuptools writes its egg-info next to the sources."""
    source = tmp_path / "src"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        source.mkdir(exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "exporter", source / "exporter",
                    ignore=shutil.ignore_patterns("__pycache__", "REVISION"))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("aws_iam_credential_exporter-*.whl")
    assert wheel.name.startswith(f"aws_iam_credential_exporter-{__version__}-")
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta).decode()
        files = zf.namelist()
    assert f"\nVersion: {__version__}\n" in metadata
    assert "\nLicense-Expression: Apache-2.0\n" in metadata
    assert "License-File: LICENSE" in metadata and "Classifier: License ::" not in metadata
    assert any(n.endswith("licenses/LICENSE") for n in files)
