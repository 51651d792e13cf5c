"""The architecture's one rule, checked: the functional core never reaches the host.

Modules of the core (records, rules, renderers, the pure halves of each feature) import neither the
modules that touch the host (os, sockets, subprocesses, udev, netlink) nor the layers that do (sysfs/,
netinfo/, adapters/) nor the shell above them (commands/, cli/). See docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pcie_failover"
CORE = (
    "model",
    "rules",
    "render",
    "lint",
    "pair",
    "assessment.py",
    "audit/record.py",
    "audit/report.py",
    "inspect/judge.py",
    "inspect/model.py",
    "inspect/render.py",
    "inspect/scope.py",
)
HOST_MODULES = frozenset({"os", "socket", "subprocess", "pyudev", "pyroute2", "fcntl", "shutil", "tempfile", "select"})
SHELL_PACKAGES = tuple(f"pcie_failover.{name}" for name in ("sysfs", "netinfo", "adapters", "commands", "cli"))


def _core_modules() -> list[Path]:
    found: list[Path] = []
    for name in CORE:
        path = PACKAGE / name
        found += [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))
    return found


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import hides which layer it reaches"
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_does_not_reach_the_host(path: Path) -> None:
    reaching = [
        name for name in _imports(path) if name.split(".")[0] in HOST_MODULES or name.startswith(SHELL_PACKAGES)
    ]
    assert reaching == [], f"{path.relative_to(PACKAGE)} imports {', '.join(reaching)}"


def test_the_core_list_names_real_modules() -> None:
    assert all((PACKAGE / name).exists() for name in CORE)
    assert len(_core_modules()) > 60
