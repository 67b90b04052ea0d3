"""The import rules of CONTRIBUTING.md, checked on every module under exporter/.

Every import counts, wherever it is: module level, inside a function, under
``TYPE_CHECKING``, and ``importlib.import_module``/``__import__`` of a literal name.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "exporter"
LAYERS = ("core", "config", "sources", "daemon", "web", "cli")


class Import(NamedTuple):
    importer: str  # dotted module name, e.g. exporter.core.evaluate
    imported: str  # dotted name, e.g. exporter.core.checks or botocore.exceptions
    where: str  # path:line

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool, path: str = "<string>") -> list[Import]:
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def add(name: str, node: ast.AST) -> None:
        found.append(Import(module, name, f"{path}:{getattr(node, 'lineno', 0)}"))

    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            add(base, node)
            for alias in node.names:
                # ``from exporter import config`` imports a package, not just ``exporter``.
                if alias.name != "*":
                    add(f"{base}.{alias.name}", node)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)):
            add(name, node)
    return found


def _dynamic_import(call: ast.Call) -> str | None:
    """The literal module name of ``__import__("m")`` or ``importlib.import_module("m")``."""
    func = call.func
    if not (
        (isinstance(func, ast.Name) and func.id == "__import__")
        or (isinstance(func, ast.Attribute) and func.attr == "import_module")
    ):
        return None
    first = call.args[0] if call.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def all_imports() -> Iterator[Import]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield from imports_of(
            path.read_text(encoding="utf-8"),
            module_name(path),
            path.name == "__init__.py",
            str(path.relative_to(ROOT)),
        )


IMPORTS = list(all_imports())


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def stdlib(name: str) -> bool:
    return name.split(".", 1)[0] in sys.stdlib_module_names


def top(name: str) -> str:
    return name.split(".", 1)[0]


def exporter(*layers: str) -> tuple[str, ...]:
    return tuple(f"exporter.{layer}" for layer in layers)


# (rule, does this import break it?)
Rule = Callable[[Import], bool]
RULES: dict[str, Rule] = {
    "core imports only the standard library and exporter.core": lambda i: (
        within(i.importer, "exporter.core")
        and not (stdlib(i.imported) or within(i.imported, "exporter.core"))
    ),
    "config imports only the standard library, PyYAML, exporter.core and exporter.config": (
        lambda i: (
            within(i.importer, "exporter.config")
            and not (
                stdlib(i.imported)
                or top(i.imported) == "yaml"
                or within(i.imported, *exporter("core", "config"))
            )
        )
    ),
    "sources import nothing of exporter but exporter.core, exporter.config, exporter.sources": (
        lambda i: (
            within(i.importer, "exporter.sources")
            and within(i.imported, "exporter")
            and not within(i.imported, *exporter("core", "config", "sources"))
        )
    ),
    "only exporter.sources.aws imports boto3 and botocore": lambda i: (
        top(i.imported) in ("boto3", "botocore") and not within(i.importer, "exporter.sources.aws")
    ),
    "web imports nothing of exporter.daemon or exporter.cli": lambda i: (
        within(i.importer, "exporter.web") and within(i.imported, *exporter("daemon", "cli"))
    ),
    "only exporter.daemon imports prometheus_client and apscheduler": lambda i: (
        top(i.imported) in ("prometheus_client", "apscheduler")
        and not within(i.importer, "exporter.daemon")
    ),
    "only exporter.cli and exporter.__main__ import exporter.cli": lambda i: (
        within(i.imported, "exporter.cli")
        and not within(i.importer, "exporter.cli", "exporter.__main__")
    ),
}


@pytest.mark.parametrize("rule", RULES)
def test_import_rule(rule: str) -> None:
    broken = [str(i) for i in IMPORTS if RULES[rule](i)]
    assert broken == [], f"{rule}:\n" + "\n".join(broken)


def test_every_package_has_its_rules() -> None:
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(LAYERS)


def test_at_most_three_files_at_the_top_of_the_package() -> None:
    files = sorted(p.name for p in PACKAGE.iterdir() if p.is_file())
    assert len(files) <= 3, files


def test_the_scan_sees_every_kind_of_import() -> None:
    source = (
        "import os.path\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from boto3 import Session\n"
        "from . import sibling\n"
        "from ..config import model\n"
        "def later():\n"
        "    import prometheus_client\n"
        "    importlib.import_module('apscheduler.schedulers')\n"
        "    return __import__('yaml')\n"
    )
    names = {i.imported for i in imports_of(source, "exporter.core.evaluate", False)}
    assert {
        "os.path", "boto3", "exporter.core.sibling", "exporter.config.model",
        "prometheus_client", "apscheduler.schedulers", "yaml",
    } <= names  # fmt: skip
    assert "exporter.core.sibling" in {
        i.imported for i in imports_of("from . import sibling\n", "exporter.core", True)
    }
    # A real function-level import of the tree is seen too.
    assert any(
        i.importer == "exporter.daemon.accounts" and i.imported == "exporter.sources.aws.clients"
        for i in IMPORTS
    )
