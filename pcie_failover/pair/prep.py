"""Host preparation per host: the VF's MAC set through its PF, the VF bound to vfio-pci."""

from __future__ import annotations

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import Manager
from pcie_failover.pair.model import HostPrep, HostStep

DEST_PF, DEST_VF_INDEX, DEST_VF = "DEST_PF", "DEST_VF_INDEX", "DEST_VF"


def _qemu_steps(pf_netdev: str, vf_index: str, vf: str, mac: MacAddress) -> tuple[HostStep, ...]:
    device = f"/sys/bus/pci/devices/{vf}"
    return (
        HostStep(
            "set the VF's MAC through its PF", ("ip", "link", "set", "dev", pf_netdev, "vf", vf_index, "mac", str(mac))
        ),
        HostStep("load vfio-pci", ("modprobe", "vfio-pci")),
        HostStep("let only vfio-pci bind the VF", ("echo", "vfio-pci"), f"{device}/driver_override"),
        HostStep(
            "unbind its current driver (skip when it has none or is on vfio-pci)",
            ("echo", vf),
            f"{device}/driver/unbind",
        ),
        HostStep("bind it to vfio-pci", ("echo", vf), "/sys/bus/pci/drivers_probe"),
    )


def _pool_steps(pool: str) -> tuple[HostStep, ...]:
    return (
        HostStep(
            f"define the hostdev network {pool} (its XML is in the libvirt output)",
            ("virsh", "net-define", f"{pool}.xml"),
        ),
        HostStep("start it", ("virsh", "net-start", pool)),
        HostStep("start it at every boot", ("virsh", "net-autostart", pool)),
    )


def host_prep(
    manager: Manager, *, vf: str, pf_netdev: str | None, vf_index: int | None, mac: MacAddress, pool: str | None
) -> tuple[HostPrep, HostPrep]:
    """Source and destination steps; the destination uses its own VF, with the VM's MAC."""
    owned = f"the MAC {mac} belongs to the VM: record it; the destination's VF must carry it too"
    if manager is Manager.QEMU:
        index = "VF_INDEX" if vf_index is None else str(vf_index)
        return (
            HostPrep("source", owned, _qemu_steps(pf_netdev or "PF_NETDEV", index, vf, mac)),
            HostPrep(
                "destination",
                f"{owned}; replace {DEST_PF}, {DEST_VF_INDEX} and {DEST_VF} with the destination's PF interface, "
                f"VF index and VF address, and start QEMU there with host={DEST_VF} and -incoming",
                _qemu_steps(DEST_PF, DEST_VF_INDEX, DEST_VF, mac),
            ),
        )
    libvirt = f"{owned}; libvirt binds vfio-pci (managed='yes') and sets the VF's MAC from <mac> when the VM starts"
    if pool is not None:
        where = "any free VF of the destination's pool"
        return (
            HostPrep("source", libvirt, _pool_steps(pool)),
            HostPrep("destination", f"{libvirt}; it takes {where} (set <pf dev> to its PF)", _pool_steps(pool)),
        )
    return (
        HostPrep("source", libvirt, ()),
        HostPrep(
            "destination", f"{libvirt}; the domain XML names {vf}: the destination needs that VF (or use --pool)", ()
        ),
    )
