"""The architecture's one rule, checked: the functional core never reaches the host.

Every module of the package is core (records, rules, renderers, the pure half of each feature) unless
it is named below as the shell or an edge: it imports neither the modules that touch the host (os,
sockets, subprocesses, udev, netlink) nor the layers that do (sysfs/, netinfo/, adapters/, a feature's
named edges) nor the shell above them (cli/, and each feature's cli.py and command.py). A module added
anywhere else is core by default, so this test holds it to that. See docs/architecture.md.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pcie_failover"
# The shell and the readers: whole packages (the pure parts of sysfs/ and netinfo/ are not split out).
SHELL_PACKAGES = ("sysfs", "netinfo", "adapters", "cli")
# In each feature folder: its typer module and its read -> assess -> report command.
FEATURE_SHELL = ("cli.py", "command.py")
# A feature's own edges, named one by one: what talks to QEMU, virsh, the journal, the files, the writer.
EDGES = (
    "__main__.py",
    "audit/coalesce.py",
    "audit/install_units.py",
    "audit/register.py",
    "audit/registry.py",
    "audit/resolve.py",
    "audit/units_cli.py",
    "audit/watch.py",
    "capture/archive.py",
    "capture/progress.py",
    "capture/recording.py",
    "capture/rehearsal.py",
    "inspect/qmp.py",
    "inspect/virsh.py",
    "prepare/store.py",
)
HOST_MODULES = frozenset(
    {
        "os", "io", "pathlib", "glob", "shutil", "tempfile", "tarfile", "fcntl", "mmap", "ctypes", "signal",
        "socket", "select", "asyncio", "subprocess", "pyudev", "pyroute2", "qemu", "open()",
    }
)  # fmt: skip


@functools.cache
def _shell_names() -> tuple[str, ...]:
    """Dotted prefixes of every module the core may not import."""
    names = [f"pcie_failover.{package}" for package in SHELL_PACKAGES]
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if _feature_shell(relative) or str(relative) in EDGES:
            names.append("pcie_failover." + ".".join(relative.with_suffix("").parts))
    return tuple(names)


def _feature_shell(relative: Path) -> bool:
    """A feature folder's own `cli.py` or `command.py` (not a module of that name deeper down)."""
    return len(relative.parts) == 2 and relative.name in FEATURE_SHELL


def _is_shell(relative: Path) -> bool:
    return relative.parts[0] in SHELL_PACKAGES or _feature_shell(relative) or str(relative) in EDGES


def _core_modules() -> list[Path]:
    return [path for path in sorted(PACKAGE.rglob("*.py")) if not _is_shell(path.relative_to(PACKAGE))]


def _imports(path: Path) -> list[str]:
    """What the module reaches: each module imported (`from P import m` names `P` and `P.m`, m may be a module),
    and `open()` for the built-in that opens files."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import hides which layer it reaches"
            names += [node.module or "", *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            names.append("open()")
    return names


def _reaching(path: Path) -> list[str]:
    shell = _shell_names()
    return [
        name
        for name in _imports(path)
        if name.split(".")[0] in HOST_MODULES or any(name == s or name.startswith(f"{s}.") for s in shell)
    ]


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_does_not_reach_the_host(path: Path) -> None:
    reaching = _reaching(path)
    assert reaching == [], f"{path.relative_to(PACKAGE)} imports {', '.join(reaching)}"


def test_every_way_of_reaching_the_host_is_seen(tmp_path: Path) -> None:
    """A module imported from its package, the package of the shell itself, a file opened without importing os."""
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "from pcie_failover.audit import registry\n"
        "from pcie_failover.check import command\n"
        "from pcie_failover import sysfs\n"
        "from pathlib import Path\n"
        "TEXT = open('/etc/hostname').read()\n"
    )
    assert _reaching(sneaky) == [
        "pcie_failover.audit.registry", "pcie_failover.check.command", "pcie_failover.sysfs", "pathlib",
        "pathlib.Path", "open()",
    ]  # fmt: skip


def test_the_shell_lists_name_real_modules() -> None:
    assert all((PACKAGE / name).is_dir() for name in SHELL_PACKAGES)
    assert all((PACKAGE / name).is_file() for name in EDGES)
    assert len(_core_modules()) > 90


def test_no_module_escapes_the_rule() -> None:
    """Relative imports are refused everywhere (not only in the core): they hide which layer they reach."""
    for path in PACKAGE.rglob("*.py"):
        _imports(path)
