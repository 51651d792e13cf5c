"""`iommu-group`: the group is viable for vfio; name every member that blocks it and why."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import GroupMember, PciFunction, Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import target, unknown
from pcie_failover.rules.usage import interface_usage

# Drivers that do not do DMA on the host's behalf (drivers/iommu/iommu.c, drivers/vfio/group.c).
SAFE_DRIVERS = frozenset({"vfio-pci", "pci-stub", "pcieport"})
_SHOWN = 4


def _blocks(member: GroupMember) -> bool | None:
    if isinstance(member.driver, Unreadable) or isinstance(member.vfio_dev, Unreadable):
        return None
    return member.driver is not None and member.driver not in SAFE_DRIVERS and member.vfio_dev is not True


def _fix(member: GroupMember, device: PciFunction) -> str:
    usage = interface_usage(member.netdevs)
    label = f"{member.address} ({member.driver})"
    if member.address == device.physfn:
        return (
            f"{label} is the VF's own PF: without ACS between them the VF shares the PF's group, which is "
            "never viable while the PF has its network driver; use a NIC and slot with ACS "
            "(pcie_acs_override only hides the problem)"
        )
    if isinstance(member.pci_class, int) and member.pci_class >> 8 == 0x0604:
        return (
            f"{label} is a PCI bridge: devices behind a conventional bridge share its group; "
            f"unbind {member.driver} from it (losing its hotplug) or use a PCIe slot with ACS"
        )
    if usage.in_use:
        return f"{label} is in use on this host ({usage.why}): move the VF to another group or free that device"
    path = shlex.quote(f"/sys/bus/pci/devices/{member.address}/driver/unbind")
    unbind = f"echo {shlex.quote(str(member.address))} > {path}"
    return f"{label}: bind it to vfio-pci as well, or unbind it ({unbind})"


def _list(members: list[GroupMember]) -> str:
    shown = ", ".join(f"{m.address} ({m.driver or 'no driver'})" for m in members[:_SHOWN])
    return shown + (f" and {len(members) - _SHOWN} more" if len(members) > _SHOWN else "")


def check(check_input: CheckInput) -> Finding:
    """Viable when every other member is unbound, on vfio-pci/a vfio variant, pci-stub or pcieport."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    group = check_input.group
    if group is None:
        return Finding(Status.SKIP, "no IOMMU group (see the iommu check)")
    if isinstance(group, Unreadable):
        return unknown("the IOMMU group", group)
    if isinstance(group.members, Unreadable):
        return unknown(f"IOMMU group {group.number}", group.members)
    members = list(group.members)
    blockers = [m for m in members if _blocks(m)]
    if blockers:
        return Finding(
            Status.FAIL,
            f"IOMMU group {group.number} is not viable: {_list(blockers)} bound to host drivers",
            "\n".join(_fix(m, device) for m in blockers),
        )
    unreadable = [m for m in members if _blocks(m) is None]
    if unreadable:
        return Finding(
            Status.UNKNOWN, f"IOMMU group {group.number}: the drivers of {_list(unreadable)} could not be read"
        )
    if not members:
        return Finding(Status.PASS, f"IOMMU group {group.number} holds only this device")
    return Finding(Status.PASS, f"IOMMU group {group.number} is viable; other members: {_list(members)}")


RULE = Rule(
    "iommu-group",
    Severity.FAIL,
    "every other member of the IOMMU group leaves it viable for vfio",
    "Linux drivers/vfio/group.c (5.19+): members must be unbound or on vfio-pci/a vfio variant, pci-stub, pcieport "
    "(drivers/iommu/iommu.c iommu_group_claim_dma_owner() returns -EPERM while a member's driver uses the DMA API)",
    check,
    sources=(
        Source("linux", "drivers/iommu/iommu.c", "iommu_group_claim_dma_owner()"),
        Source("linux", "drivers/vfio/group.c", "vfio_group_ioctl_set_container()"),
    ),
    proofs=(
        "tests/lab/test_udev_audit.py::test_a_sibling_driver_change_runs_the_audit_and_the_pair_stays_ready",
        "tests/test_captures.py::test_shared_groups_name_their_blockers",
        "tests/test_captures.py::test_every_device_of_every_capture[shared-groups]",
        "tests/test_rules.py::test_rule_outcome[iommu-group/shared-with-pf]",
    ),
)
