"""The pair for a human: what will be created, the MAC, host steps and warnings; pure, spec -> str.

With a width (render.layout), prose lines wrap with a hanging indent and a host step too wide
becomes its `# description` line, then the command continued with ` \\` at word boundaries
(never inside single quotes), so that it still pastes into a shell as one command.
"""

from __future__ import annotations

from pcie_failover.pair.model import MACVTAP_FD, BackendKind, MacSource, PairSpec, RootPort, macvtap_name
from pcie_failover.pair.notes import note_lines, shell_command
from pcie_failover.render.layout import PLAIN, Layout, is_aside, is_shell_command, wrap, wrap_command, wrap_part

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


def _step_lines(command: str, description: str, width: int) -> list[str]:
    """`  command    # description` when it fits; else the description as a comment, then the command."""
    line = f"  {command}    # {description}"
    if len(line) <= width:
        return [line]
    return [*wrap(description, width, "  # ", "  # "), *wrap_command(command, width, "  ", "  ")]


def render_summary(spec: PairSpec, layout: Layout = PLAIN) -> str:
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
    notes = note_lines(spec, host_steps=False)  # the hosts' steps follow, in full
    if notes:
        lines += ["", *notes]
    for prep in spec.prep:
        lines += ["", f"{prep.host} host: {prep.note}"]
        lines += [f"  {shell_command(step)}    # {step.description}" for step in prep.steps]
        lines += [f"  (done: {done})" for done in prep.skipped]
    forms = "libvirt or json" if primary.pool else "qemu, qmp, libvirt or json"  # QEMU's forms need the VF
    lines += ["", f"--format {forms} prints the devices."]
    width = layout.width
    if width is None:
        return "\n".join(lines) + "\n"
    steps = {
        f"  {shell_command(s)}    # {s.description}": (shell_command(s), s.description)
        for p in spec.prep
        for s in p.steps
    }
    shown: list[str] = []
    for line in lines:
        if line in steps:
            shown += _step_lines(*steps[line], width)
        elif line.startswith("  ") and (is_shell_command(line.strip()) or is_aside(line.strip())):  # a fix's
            shown += wrap_part(line.strip(), width, "  ", "  ")
        else:
            lead = line[: len(line) - len(line.lstrip(" "))]
            shown += wrap(line.lstrip(" "), width, lead, lead + "  ") or [""]
    return "\n".join(shown) + "\n"
