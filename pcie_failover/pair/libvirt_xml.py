"""The pair as libvirt domain XML (and, with a pool, the hostdev network): pure, spec -> str."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pcie_failover.pair.model import BackendKind, PairSpec

_INTERFACE_TYPE = {
    BackendKind.TAP: "ethernet",
    BackendKind.BRIDGE: "bridge",
    BackendKind.USER: "user",
    BackendKind.MACVTAP: "direct",  # libvirt creates the macvtap, with the interface's MAC, and passes its fd
}


def _comment(text: str) -> ET.Element[Any]:
    """An XML comment; `--` may not appear inside one."""
    while "--" in text:
        text = text.replace("--", "- -")
    return ET.Comment(f" {text.rstrip('-')} ")


def standby_interface(spec: PairSpec) -> ET.Element:
    """The persistent virtio interface: `<teaming type='persistent'/>` and its user alias."""
    backend = spec.standby.backend
    interface = ET.Element("interface", type=_INTERFACE_TYPE[backend.kind])
    if backend.kind is BackendKind.BRIDGE:
        ET.SubElement(interface, "source", bridge=backend.device or "")
    elif backend.kind is BackendKind.MACVTAP:
        ET.SubElement(interface, "source", dev=backend.device or "", mode="bridge")
    ET.SubElement(interface, "mac", address=str(spec.mac))
    ET.SubElement(interface, "model", type="virtio")
    ET.SubElement(interface, "teaming", type="persistent")
    ET.SubElement(interface, "alias", name=spec.standby.alias)
    return interface


def primary_interface(spec: PairSpec) -> ET.Element:
    """The transient hostdev interface (or hostdev-network interface with a pool) naming the standby's alias."""
    primary = spec.primary
    if primary.pool is not None:
        interface = ET.Element("interface", type="network")
        ET.SubElement(interface, "source", network=primary.pool)
    else:
        interface = ET.Element("interface", type="hostdev", managed="yes")
        source = ET.SubElement(interface, "source")
        host = primary.host
        ET.SubElement(
            source,
            "address",
            type="pci",
            domain=f"{host.domain:#06x}",
            bus=f"{host.bus:#04x}",
            slot=f"{host.device:#04x}",
            function=f"{host.function:#x}",
        )
    ET.SubElement(interface, "mac", address=str(spec.mac))
    ET.SubElement(interface, "teaming", type="transient", persistent=spec.standby.alias)
    ET.SubElement(interface, "alias", name=primary.alias)
    return interface


def hostdev_network(spec: PairSpec) -> ET.Element | None:
    """With a pool: `<network>` forwarding in hostdev mode over the PF's VFs; else None."""
    if spec.primary.pool is None:
        return None
    network = ET.Element("network")
    ET.SubElement(network, "name").text = spec.primary.pool
    forward = ET.SubElement(network, "forward", mode="hostdev", managed="yes")
    ET.SubElement(forward, "pf", dev=spec.pf_netdev or "PF_NETDEV")
    return network


def xml_text(element: ET.Element[Any]) -> str:
    """An element (or comment) indented, on its own lines."""
    ET.indent(element, space="  ")
    return ET.tostring(element, encoding="unicode") + "\n"


def render_libvirt(spec: PairSpec) -> str:
    """The two interfaces for `<devices>`, then the pool's network if any (the notes go to standard error:
    an XML comment cannot hold the `--` of an option)."""
    parts = [xml_text(standby_interface(spec)), xml_text(primary_interface(spec))]
    network = hostdev_network(spec)
    if network is not None:
        parts += [xml_text(_comment("the hostdev network: virsh net-define on each host, <pf dev> is that host's PF"))]
        parts += [xml_text(network)]
    return "".join(parts)
