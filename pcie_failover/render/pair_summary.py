"""The pair for a human: what will be created, the MAC, host steps and warnings; pure, spec -> str."""

from __future__ import annotations

from pcie_failover.pair.model import MACVTAP_FD, BackendKind, MacSource, PairSpec, RootPort, macvtap_name
from pcie_failover.render.pair_notes import note_lines, shell_command

_MAC_SOURCE = {
    MacSource.OPTION: "from --mac",
    MacSource.VF_ADMIN: "the VF's admin MAC",
    MacSource.DERIVED: "derived from the PF's MAC and the VF index; locally administered",
}


def _port(port: RootPort) -> str:
    addr = "" if port.addr is None else f", addr {port.addr:#x}"
    return f"root port {port.id} (chassis {port.chassis}, slot {port.slot}{addr})"


def _backend(spec: PairSpec) -> str:
    backend = spec.standby.backend
    if backend.kind is BackendKind.MACVTAP:
        return f"macvtap {macvtap_name(spec.mac)} on {backend.device}, as tap fd {MACVTAP_FD}"
    return f"{backend.kind.value} {backend.device}" if backend.device else str(backend.kind.value)


def render_summary(spec: PairSpec) -> str:
    """A few paragraphs; `--format qemu|qmp|libvirt|json` prints the spec itself."""
    standby, primary = spec.standby, spec.primary
    backend = _backend(spec)
    vf = f" (VF {spec.vf_index} of {spec.pf_netdev})" if spec.pf_netdev and spec.vf_index is not None else ""
    source = f"libvirt network {primary.pool}" if primary.pool else f"{primary.host}{vf}"
    lines = [
        f"failover pair for {source}, for {spec.manager.value}",
        f"MAC {spec.mac} ({_MAC_SOURCE[spec.mac_source]}): it belongs to the VM; record it and set it on the "
        "destination's VF too",
        f"standby: virtio-net-pci {standby.id} (failover=on, netdev {standby.netdev_id}: {backend})"
        f" on {_port(standby.port)}",
        f"primary: {primary.id} (failover_pair_id={standby.id}) on {_port(primary.port)}, created after the standby",
        f"libvirt aliases: {standby.alias}, {primary.alias}",
    ]
    notes = note_lines(spec)
    if notes:
        lines += ["", *notes]
    for prep in spec.prep:
        lines += ["", f"{prep.host} host: {prep.note}"]
        lines += [f"  {shell_command(step)}    # {step.description}" for step in prep.steps]
        lines += [f"  (done: {done})" for done in prep.skipped]
    lines += ["", "--format qemu, qmp, libvirt or json prints the devices."]
    return "\n".join(lines) + "\n"
