"""Host preparation per host: the VF's MAC set through its PF, the VF bound to vfio-pci, the standby's macvtap.

The source host's steps follow its VF as read (`VfState`); the destination's VF is not known here, so its
steps are the generic, complete list.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import Manager
from pcie_failover.pair.model import MACVTAP_FD, Backend, HostPrep, HostStep, macvtap_name

DEST_PF, DEST_VF_INDEX, DEST_VF = "DEST_PF", "DEST_VF_INDEX", "DEST_VF"


SOURCE = "source"  # the host the spec was made on; the other HostPrep is the destination


@dataclass(frozen=True)
class VfState:
    """The source VF as read; each field is True only when known (an unknown state keeps its step).

    `mac_set`: its admin MAC is already the pair's MAC and known (or asserted with --mac) to be an
    administrator's. `driver`: the driver bound now, when one is known to be.
    """

    mac_set: bool = False
    on_vfio: bool = False
    unbound: bool = False
    driver: str | None = None
    override_vfio: bool = False
    vfio_loaded: bool = False


GENERIC = VfState()


@dataclass(frozen=True)
class PrepRequest:
    """What host preparation depends on, beyond the manager: the VF, its PF, the MAC, pool, backend, state."""

    vf: str
    pf_netdev: str | None
    vf_index: int | None
    mac: MacAddress
    pool: str | None
    backend: Backend
    state: VfState


def _mac_step(pf_netdev: str, vf_index: str, mac: MacAddress) -> HostStep:
    argv = ("ip", "link", "set", "dev", pf_netdev, "vf", vf_index, "mac", str(mac))
    return HostStep("set the VF's MAC through its PF", argv)


def _vfio_steps(vf: str, state: VfState) -> tuple[HostStep, ...]:
    """Load vfio-pci, let only it bind the VF, unbind the current driver, bind: as far as not done yet."""
    if state.on_vfio:
        return ()
    device = f"/sys/bus/pci/devices/{vf}"
    steps = [] if state.vfio_loaded else [HostStep("load vfio-pci", ("modprobe", "vfio-pci"))]
    if not state.override_vfio:
        steps.append(HostStep("let only vfio-pci bind the VF", ("echo", "vfio-pci"), f"{device}/driver_override"))
    if not state.unbound:
        unbind = (
            f"unbind {state.driver} from it"
            if state.driver is not None
            else "unbind its current driver (skip when it has none or is on vfio-pci)"
        )
        steps.append(HostStep(unbind, ("echo", vf), f"{device}/driver/unbind"))
    steps.append(HostStep("bind it to vfio-pci", ("echo", vf), "/sys/bus/pci/drivers_probe"))
    return tuple(steps)


def _skipped(vf: str, mac: MacAddress, state: VfState) -> tuple[str, ...]:
    """What the source VF already has, so its steps are left out."""
    done = [f"the VF's admin MAC is already {mac}, an administrator's"] if state.mac_set else []
    if state.on_vfio:
        return (*done, f"{vf} is already on {state.driver}: no driver_override, unbind or drivers_probe")
    done += ["vfio-pci is loaded"] if state.vfio_loaded else []
    done += ["driver_override is already vfio-pci"] if state.override_vfio else []
    done += ["no driver is bound: nothing to unbind"] if state.unbound else []
    return tuple(done)


def _macvtap_steps(backend: Backend, mac: MacAddress) -> tuple[HostStep, ...]:
    """Create the standby's macvtap on its lower device with the VM's MAC, and open it as QEMU's tap fd."""
    if backend.lower is None:
        return ()
    name = macvtap_name(mac)
    create = ("ip", "link", "add", "link", backend.lower, "name", name, "address", str(mac))
    return (
        HostStep(
            f"create the standby's macvtap on {backend.lower}, with the VM's MAC",
            (*create, "type", "macvtap", "mode", "bridge"),
        ),
        HostStep("bring it up", ("ip", "link", "set", "dev", name, "up")),
        HostStep(
            f"open its tap device as fd {MACVTAP_FD} of the shell that then starts QEMU (-netdev tap,fd={MACVTAP_FD})",
            ("exec",),
            tap_fd=(MACVTAP_FD, name),
        ),
    )


def _qemu_steps(pf_netdev: str, vf_index: str, request: PrepRequest, vf: str, state: VfState) -> tuple[HostStep, ...]:
    mac = request.mac
    steps = () if state.mac_set else (_mac_step(pf_netdev, vf_index, mac),)
    return steps + _vfio_steps(vf, state) + _macvtap_steps(request.backend, mac)


def _pool_steps(pool: str) -> tuple[HostStep, ...]:
    return (
        HostStep(
            f"define the hostdev network {pool} (its XML is in the libvirt output)",
            ("virsh", "net-define", f"{pool}.xml"),
        ),
        HostStep("start it", ("virsh", "net-start", pool)),
        HostStep("start it at every boot", ("virsh", "net-autostart", pool)),
    )


def host_prep(manager: Manager, request: PrepRequest) -> tuple[HostPrep, HostPrep]:
    """Source steps for its VF as read, generic destination steps for its own VF, with the VM's MAC."""
    mac, vf, pool = request.mac, request.vf, request.pool
    owned = f"the MAC {mac} belongs to the VM: record it; the destination's VF must carry it too"
    source = f"steps for {vf} as read on this host (a step already done is left out)"
    generic = "generic steps (its VF's state is not known here: skip a step already done there)"
    if manager is Manager.QEMU:
        index = "VF_INDEX" if request.vf_index is None else str(request.vf_index)
        lower = request.backend.lower
        same_lower = "" if lower is None else f"; the macvtap's lower device {lower} must exist there too"
        return (
            HostPrep(
                SOURCE,
                f"{source}; {owned}",
                _qemu_steps(request.pf_netdev or "PF_NETDEV", index, request, vf, request.state),
                _skipped(vf, mac, request.state),
            ),
            HostPrep(
                "destination",
                f"{generic}; {owned}; replace {DEST_PF}, {DEST_VF_INDEX} and {DEST_VF} with the destination's PF "
                f"interface, VF index and VF address, and start QEMU there with host={DEST_VF} and -incoming"
                f"{same_lower}",
                _qemu_steps(DEST_PF, DEST_VF_INDEX, request, DEST_VF, GENERIC),
            ),
        )
    libvirt = f"{owned}; libvirt binds vfio-pci (managed='yes') and sets the VF's MAC from <mac> when the VM starts"
    if pool is not None:
        where = "any free VF of the destination's pool"
        return (
            HostPrep(SOURCE, libvirt, _pool_steps(pool)),
            HostPrep("destination", f"{libvirt}; it takes {where} (set <pf dev> to its PF)", _pool_steps(pool)),
        )
    return (
        HostPrep(SOURCE, libvirt, ()),
        HostPrep(
            "destination", f"{libvirt}; the domain XML names {vf}: the destination needs that VF (or use --pool)", ()
        ),
    )
