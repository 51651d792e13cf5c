"""Structural summary of a captured sysfs tree, for comparing two captures."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

Summary = Mapping[str, object]


def link_name(path: Path) -> str | None:
    """Last component of a symlink's target, or None when `path` is no symlink."""
    return os.readlink(path).rsplit("/", 1)[-1] if path.is_symlink() else None


def summarize(sysfs: Path) -> Summary:
    """Device BDFs with their drivers, and IOMMU group membership (group numbers dropped)."""
    devices = sysfs / "bus/pci/devices"
    drivers = {bdf.name: link_name(bdf / "driver") for bdf in sorted(devices.iterdir())}
    groups_dir = sysfs / "kernel/iommu_groups"
    groups = sorted(
        sorted(member.name for member in (group / "devices").iterdir())
        for group in (groups_dir.iterdir() if groups_dir.is_dir() else [])
    )
    return {"drivers": drivers, "groups": groups}


def differences(expected: Summary, actual: Summary) -> list[str]:
    """Human-readable differences between two summaries (empty when equal)."""
    return [
        f"{key}: committed {expected[key]!r} != recaptured {actual[key]!r}"
        for key in expected
        if expected[key] != actual.get(key)
    ]
