"""A libvirt domain XML (text; a whole `<domain>` or bare `<interface>`s) -> VmConfig.

Parsed with defusedxml: a DTD, an entity declaration or an external reference is refused, in words.
libvirt creates network devices before hostdevs (the standby first): `order` says so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from itertools import count, pairwise
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from pcie_failover.lint.model import VIRTIO_MODELS, Bus, BusKind, ConfigKind, Device, Teaming, VmConfig
from pcie_failover.lint.options import global_setting, number
from pcie_failover.lint.qemu_words import ConfigError
from pcie_failover.model.address import PciAddress

QEMU_NS = "{http://libvirt.org/schemas/domain/qemu/1.0}"
_JUNK_AFTER_ROOT = expat.errors.codes[expat.errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT]  # a fragment's second element
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_CONTROLLERS = {
    "pcie-root-port": BusKind.PCIE_PORT,
    "pcie-switch-downstream-port": BusKind.PCIE_PORT,
    "pcie-switch-upstream-port": BusKind.PCIE_INTERNAL,
    "pcie-expander-bus": BusKind.PCIE_INTERNAL,
    "pcie-to-pci-bridge": BusKind.PCI_BRIDGE,
    "pci-bridge": BusKind.PCI_BRIDGE,
    "dmi-to-pci-bridge": BusKind.PCI_BRIDGE,
    "pci-expander-bus": BusKind.PCI_BRIDGE,
}


def refusal(error: DTDForbidden | EntitiesForbidden | ExternalReferenceForbidden) -> str:
    """What defusedxml refused, in words."""
    if isinstance(error, DTDForbidden):
        what = f"has a DTD (<!DOCTYPE {error.name}>)"
    elif isinstance(error, EntitiesForbidden):
        what = f"declares an entity ({error.name})"
    else:
        what = f"refers to an external resource ({error.sysid})"
    return f"the domain XML {what}: libvirt XML never does; refused"


def _syntax(error: ET.ParseError, lines_before: int) -> str:
    """expat's reason and where, in the user's text (`lines_before`: lines a wrapper put in front of it)."""
    line, column = error.position
    reason = expat.ErrorString(error.code)
    return f"the domain XML does not parse: {reason} at line {line - lines_before}, column {column + 1}"


def _fragment(text: str) -> ET.Element:
    """Several top-level elements (pair's output), parsed in a `<devices>` wrapper on a line of its own."""
    declaration = _DECLARATION.match(text)
    if declaration is not None:  # blanked, so that lines and columns stay the user's
        text = re.sub(r"[^\n]", " ", declaration[0]) + text[declaration.end() :]
    try:
        return SafeET.fromstring(f"<devices>\n{text}</devices>", forbid_dtd=True)
    except ET.ParseError as error:
        raise ConfigError(_syntax(error, 1)) from None


def _parse_xml(text: str) -> tuple[ET.Element, bool]:
    """The root element (a `<devices>` wrapper for a fragment) and whether it is a whole domain."""
    try:
        try:
            root = SafeET.fromstring(text, forbid_dtd=True)
        except ET.ParseError as error:
            if error.code != _JUNK_AFTER_ROOT:
                raise ConfigError(_syntax(error, 0)) from None
            return _fragment(text), False
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as error:
        raise ConfigError(refusal(error)) from None
    if root.tag == "domain":
        return root, True
    wrapper = ET.Element("devices")
    wrapper.append(root)
    return wrapper, False


def _bus_name(index: int, pcie: bool) -> str:
    return ("pcie.0" if pcie else "pci.0") if index == 0 else f"pci.{index}"


def _int(element: ET.Element | None, key: str, where: str) -> int | None:
    return None if element is None else number(where, key, element.get(key))


def _address(element: ET.Element, label: str, pcie: bool) -> tuple[str | None, int | None, int | None, bool]:
    address = element.find("address")
    if address is None or address.get("type") != "pci":
        return None, None, None, False
    bus = _int(address, "bus", label)
    return (
        None if bus is None else _bus_name(bus, pcie),
        _int(address, "slot", label),
        _int(address, "function", label),
        address.get("multifunction") == "on",
    )


def _source_address(element: ET.Element, label: str) -> PciAddress | None:
    source = element.find("source/address")
    if source is None:
        return None
    parts = [_int(source, key, label) for key in ("domain", "bus", "slot", "function")]
    domain, bus, slot, function = (p or 0 for p in parts)
    return PciAddress(domain, bus, slot, function)


def _teaming(element: ET.Element, label: str) -> Teaming | None:
    teaming = element.find("teaming")
    if teaming is None:
        return None
    model = element.find("model")
    return Teaming(
        element=element.tag,
        interface_type=element.get("type") if element.tag == "interface" else None,
        model=None if model is None else model.get("type"),
        type=teaming.get("type"),
        persistent=teaming.get("persistent"),
        alias=_alias(element),
        label=label,
    )


def _alias(element: ET.Element) -> str | None:
    alias = element.find("alias")
    return None if alias is None else alias.get("name")


def _nic(element: ET.Element, label: str, team: Teaming | None, auto_id: str, pcie: bool) -> Device:
    """An `<interface>` or `<hostdev>` as the QEMU device libvirt makes of it."""
    kind = element.get("type")
    hostdev = element.tag == "hostdev" or kind == "hostdev" or (team is not None and team.type == "transient")
    model = element.find("model")
    model_type = None if model is None else model.get("type")
    driver = "vfio-pci" if hostdev else VIRTIO_MODELS.get(model_type or "", model_type or "rtl8139")
    mac = element.find("mac")
    source = element.find("source")
    link = element.find("link")
    bus, slot, function, multifunction = _address(element, label, pcie)
    return Device(
        order=0,
        label=label,
        driver=driver,
        id=_alias(element) or auto_id,
        bus=bus,
        slot=slot,
        function=function,
        multifunction=multifunction,
        failover=team is not None and team.type == "persistent",
        failover_pair_id=team.persistent if team is not None and team.type == "transient" else None,
        mac=None if mac is None else mac.get("address"),
        host=_source_address(element, label) if hostdev else None,
        link_down=link is not None and link.get("state") == "down",
        backend_bridge=source.get("bridge") if kind == "bridge" and source is not None else None,
        # managed defaults to no; only an <interface> has libvirt set the MAC, managed or not.
        binds_vfio=hostdev and (kind == "network" or element.get("managed") == "yes"),
        sets_mac=hostdev and element.tag == "interface",
    )


def _controller(element: ET.Element, label: str, pcie: bool) -> tuple[Device, Bus | None]:
    model = element.get("model") or ""
    index = number(label, "index", element.get("index")) or 0
    target = element.find("target")
    bus, slot, function, multifunction = _address(element, label, pcie)
    name = _bus_name(index, pcie)
    kind = _CONTROLLERS.get(model)
    hotplug = target is None or target.get("hotplug") != "off"
    chassis = _int(target, "chassis", label) if kind is BusKind.PCIE_PORT else None
    device = Device(
        order=0,
        label=label,
        driver=model,
        id=name,
        bus=bus,
        slot=slot,
        function=function,
        multifunction=multifunction,
        chassis=index if chassis is None and kind is BusKind.PCIE_PORT else chassis,
        port_slot=0 if kind is BusKind.PCIE_PORT else None,
        hotplug=hotplug,
    )
    if kind is None:
        return device, None
    return device, Bus(name, kind, kind is BusKind.PCI_BRIDGE or (kind is BusKind.PCIE_PORT and hotplug))


def parse_libvirt(text: str) -> VmConfig:
    """Parse a domain XML or a fragment of `<interface>`/`<hostdev>` elements; raise ConfigError."""
    root, complete = _parse_xml(text)
    os_type = root.find("os/type")
    machine = None if os_type is None else os_type.get("machine")
    arch = None if os_type is None else os_type.get("arch")
    # qemuDomainDefMachinePostParse(): a domain without machine= gets QEMU's default machine,
    # `pc` (i440fx, no PCI Express) on x86; a defined domain (virsh dumpxml) always shows it.
    defaulted = complete and machine is None and arch in (None, "x86_64", "i686")
    machine = "pc" if defaulted else machine
    pcie = machine is None or "q35" in machine or machine.startswith("virt")
    devices_element = root.find("devices") if complete else root
    elements = [] if devices_element is None else list(devices_element)
    devices: list[Device] = []
    teaming: list[Teaming] = []
    root_name = _bus_name(0, pcie)
    buses = {root_name: Bus(root_name, BusKind.PCIE_ROOT if pcie else BusKind.PCI_ROOT, not pcie)}
    numbers = {"net": count(), "hostdev": count()}
    for position, element in enumerate(elements, start=1):
        label = f"<{element.tag}" + (f" type='{element.get('type')}'" if element.get("type") else "") + f"> #{position}"
        if element.tag == "controller" and element.get("type") == "pci":
            device, bus = _controller(element, label, pcie)
            devices.append(device)
            if bus is not None and device.id != root_name:
                buses[bus.name] = bus
        elif element.tag == "interface" or (element.tag == "hostdev" and element.get("type") == "pci"):
            team = _teaming(element, label)
            teaming += [team] if team else []
            is_hostdev = element.tag == "hostdev" or element.get("type") == "hostdev"
            auto = f"hostdev{next(numbers['hostdev'])}" if is_hostdev else f"net{next(numbers['net'])}"
            devices.append(_nic(element, label, team, auto, pcie))
        elif element.find("address[@type='pci']") is not None:
            on, slot, function, multifunction = _address(element, label, pcie)
            devices.append(Device(0, label, element.tag, _alias(element), on, slot, function, multifunction))
    # libvirt emits every other device before the hostdevs (`<interface type='hostdev'>` included).
    ordered = sorted(devices, key=lambda d: d.driver == "vfio-pci")
    placed = tuple(replace(d, order=i) for i, d in enumerate(ordered))
    return VmConfig(
        kind=ConfigKind.LIBVIRT,
        complete=complete,
        machine=machine,
        devices=placed,
        buses=buses,
        globals=_globals(root),
        teaming=tuple(teaming),
        machine_default="libvirt's default on x86 for a domain without machine=" if defaulted else None,
    )


def _globals(root: ET.Element) -> dict[str, str]:
    """`-global` settings passed through `<qemu:commandline>`."""
    args = [arg.get("value") or "" for arg in root.iterfind(f"{QEMU_NS}commandline/{QEMU_NS}arg")]
    return dict(global_setting(value) for option, value in pairwise(args) if option in ("-global", "--global"))
