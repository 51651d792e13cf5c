"""`iommu-group`: every other member leaves the group viable; each blocker is named with its fix."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import GroupMember, IommuGroup
from pcie_failover.model.results import Status
from pcie_failover.rules.iommu_group import RULE
from tests.support.factory import check_input, group, member, netdev, outcome, unreadable, vf

PF_BLOCKS = (
    "0000:5e:00.0 (mlx5_core) is the VF's own PF: without ACS between them the VF shares the PF's group, which is "
    "never viable while the PF has its network driver; use a NIC and slot with ACS "
    "(pcie_acs_override only hides the problem)"
)


def _unbind(address: str, driver: str) -> str:
    return (
        f"{address} ({driver}): bind it to vfio-pci as well, or unbind it "
        f"(echo {address} > /sys/bus/pci/devices/{address}/driver/unbind)"
    )


def _shared(*members: GroupMember) -> CheckInput:
    return check_input(group=group(*members))


CASES = [
    pytest.param(check_input(), Status.PASS, "IOMMU group 23 holds only this device", None, id="alone"),
    pytest.param(
        _shared(
            member("0000:5e:00.3", driver="vfio-pci", vfio_dev=True),
            member("0000:5e:00.4"),
            member("0000:5e:00.5", driver="mlx5_vfio_pci", vfio_dev=True),
            member("0000:5e:00.6", driver="pci-stub"),
            member("0000:5d:00.0", driver="pcieport", pci_class=0x060400),
        ),
        Status.PASS,
        "IOMMU group 23 is viable; other members: 0000:5e:00.3 (vfio-pci), 0000:5e:00.4 (no driver), "
        "0000:5e:00.5 (mlx5_vfio_pci), 0000:5e:00.6 (pci-stub) and 1 more",
        None,
        id="viable-with-members",
    ),
    pytest.param(
        _shared(member("0000:5e:00.0", driver="mlx5_core")),
        Status.FAIL,
        "IOMMU group 23 is not viable: 0000:5e:00.0 (mlx5_core) bound to host drivers",
        PF_BLOCKS,
        id="shared-with-pf",
    ),
    pytest.param(
        _shared(member("0000:5e:00.3", driver="mlx5_core", netdevs=(netdev(ip_addresses=("10.0.0.2/24",)),))),
        Status.FAIL,
        "IOMMU group 23 is not viable: 0000:5e:00.3 (mlx5_core) bound to host drivers",
        "0000:5e:00.3 (mlx5_core) is in use on this host (eth0 is up with 10.0.0.2/24): "
        "move the VF to another group or free that device",
        id="shared-with-busy-vf",
    ),
    pytest.param(
        _shared(member("0000:02:00.0", driver="shpchp", pci_class=0x060400), member("0000:03:02.0", driver="8139cp")),
        Status.FAIL,
        "IOMMU group 23 is not viable: 0000:02:00.0 (shpchp), 0000:03:02.0 (8139cp) bound to host drivers",
        "0000:02:00.0 (shpchp) is a PCI bridge: devices behind a conventional bridge share its group; "
        "unbind shpchp from it (losing its hotplug) or use a PCIe slot with ACS\n" + _unbind("0000:03:02.0", "8139cp"),
        id="behind-a-bridge",
    ),
    pytest.param(
        _shared(*(member(f"0000:5e:00.{f}", driver="mlx5_core", netdevs=unreadable("n")) for f in range(3, 8))),
        Status.FAIL,
        "IOMMU group 23 is not viable: 0000:5e:00.3 (mlx5_core), 0000:5e:00.4 (mlx5_core), 0000:5e:00.5 (mlx5_core), "
        "0000:5e:00.6 (mlx5_core) and 1 more bound to host drivers",
        "\n".join(_unbind(f"0000:5e:00.{f}", "mlx5_core") for f in range(3, 8)),
        id="five-blockers",
    ),
    pytest.param(
        _shared(member("0000:5e:00.3", driver="mlx5_core", pci_class=unreadable("c"))),
        Status.FAIL,
        "IOMMU group 23 is not viable: 0000:5e:00.3 (mlx5_core) bound to host drivers",
        _unbind("0000:5e:00.3", "mlx5_core"),
        id="blocker-class-unreadable",
    ),
    pytest.param(
        _shared(member("0000:5e:00.3", driver=unreadable("x/driver")), member("0000:5e:00.4", driver="vfio-pci")),
        Status.UNKNOWN,
        "IOMMU group 23: the drivers of 0000:5e:00.3 (x/driver: Permission denied) could not be read",
        None,
        id="member-driver-unreadable",
    ),
    pytest.param(
        _shared(member("0000:5e:00.3", driver="ice", vfio_dev=unreadable("bus/pci/drivers/ice/module"))),
        Status.UNKNOWN,
        "IOMMU group 23: the drivers of 0000:5e:00.3 (ice) could not be read",
        None,
        id="member-variant-unknown",
    ),
    pytest.param(
        _shared(member("0000:5e:00.3", driver=unreadable("x/driver")), member("0000:5e:00.4", driver="igb")),
        Status.FAIL,
        "IOMMU group 23 is not viable: 0000:5e:00.4 (igb) bound to host drivers",
        _unbind("0000:5e:00.4", "igb"),
        id="a-blocker-outweighs-the-unknown",
    ),
    pytest.param(
        check_input(group=IommuGroup("23", None, unreadable("kernel/iommu_groups/23/devices"))),
        Status.UNKNOWN,
        "IOMMU group 23 could not be read (kernel/iommu_groups/23/devices: Permission denied)",
        None,
        id="members-unreadable",
    ),
    pytest.param(
        check_input(group=unreadable("kernel/iommu_groups/23")),
        Status.UNKNOWN,
        "the IOMMU group could not be read (kernel/iommu_groups/23: Permission denied)",
        None,
        id="group-unreadable",
    ),
    pytest.param(
        check_input(device=vf(iommu_group=None), group=None),
        Status.SKIP,
        "no IOMMU group (see the iommu check)",
        None,
        id="no-group",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_iommu_group(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
