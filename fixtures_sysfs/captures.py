"""The trees captured from real kernels by the lab (`python -m lab capture --all`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

HERE = Path(__file__).parent
TOPOLOGIES = ("vtd-acpi", "vtd-pciehp", "no-iommu", "iommu-off", "shared-groups", "vf-admin", "vtd-intremap-off")


def capture_root(topology: str) -> Path:
    """The sysfs root of a captured topology."""
    return HERE / topology / "sysfs"


def manifest(topology: str) -> dict[str, object]:
    """The capture's manifest (QEMU argv, kernel, guest commands, git losses)."""
    data: dict[str, object] = json.loads((HERE / topology / "manifest.json").read_text())
    return data


def restore_git_losses(topology: str) -> None:
    """Recreate what git cannot keep: empty directories and root-only file modes (idempotent)."""
    losses = manifest(topology).get("git_losses")
    if not isinstance(losses, dict):
        return
    root = capture_root(topology)
    for rel in losses.get("empty_dirs", []):
        (root / rel).mkdir(parents=True, exist_ok=True)
    for rel, mode in losses.get("root_only_files", {}).items():
        path = root / rel
        if path.is_file() and not path.is_symlink():
            os.chmod(path, int(mode, 8))
