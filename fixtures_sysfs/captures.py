"""The trees captured from real kernels by the lab (`python -m lab capture --all`).

The committed trees are read-only for the tests: `copy_capture` makes the working copy they read, with what git
could not keep restored there; the lab alone writes under `fixtures_sysfs/<topology>/` (a re-capture).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

HERE = Path(__file__).parent
TOPOLOGIES = ("vtd-acpi", "vtd-pciehp", "no-iommu", "iommu-off", "shared-groups", "vf-admin", "vtd-intremap-off")


def capture_root(topology: str, base: Path = HERE) -> Path:
    """The sysfs root of a captured topology (the committed one, or its copy under `base`)."""
    return base / topology / "sysfs"


def manifest(topology: str) -> dict[str, object]:
    """The capture's manifest (QEMU argv, kernel, guest commands, git losses)."""
    data: dict[str, object] = json.loads((HERE / topology / "manifest.json").read_text())
    return data


def restore_git_losses(topology: str, root: Path) -> None:
    """Recreate in the tree at `root` what git cannot keep: empty directories and root-only file modes (idempotent)."""
    losses = manifest(topology).get("git_losses")
    if not isinstance(losses, dict):
        return
    for rel in losses.get("empty_dirs", []):
        (root / rel).mkdir(parents=True, exist_ok=True)
    for rel, mode in losses.get("root_only_files", {}).items():
        path = root / rel
        if path.is_file() and not path.is_symlink():
            os.chmod(path, int(mode, 8))


def copy_capture(topology: str, base: Path) -> Path:
    """Copy a committed capture under `base` (links kept as links), restore its git losses there, return its root."""
    shutil.copytree(HERE / topology, base / topology, symlinks=True)
    root = capture_root(topology, base)
    restore_git_losses(topology, root)
    return root
