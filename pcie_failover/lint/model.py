"""The parsed VM: devices in creation order, the buses they sit on, the machine; and the rules' input."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from pcie_failover.model.address import InputError, MacAddress, PciAddress

_MACHINE_VERSION = re.compile(r"pc-q35-(\d+)\.(\d+)")
# libvirt's virDomainNetIsVirtioModel(): the three virtio models, and the QEMU device each becomes.
VIRTIO_MODELS = {
    "virtio": "virtio-net-pci",
    "virtio-transitional": "virtio-net-pci-transitional",
    "virtio-non-transitional": "virtio-net-pci-non-transitional",
}


class ConfigKind(enum.Enum):
    """What the user gave: a QEMU command line or a libvirt domain XML."""

    QEMU = "qemu"
    LIBVIRT = "libvirt"


class BusKind(enum.Enum):
    """What a bus is, as far as a failover primary cares."""

    PCIE_ROOT = "pcie-root"  # pcie.0: PCI Express, no hotplug
    PCI_ROOT = "pci-root"  # pci.0 of pc/i440fx: conventional PCI
    PCIE_PORT = "pcie-port"  # a root port or switch downstream port: one slot, hotplug unless off
    PCIE_INTERNAL = "pcie-internal"  # a switch upstream port's bus, an expander: no hotplug
    PCI_BRIDGE = "pci-bridge"  # conventional PCI behind a bridge


@dataclass(frozen=True)
class Bus:
    """A bus devices can name with `bus=` (a port's id, or the root bus)."""

    name: str
    kind: BusKind
    hotplug: bool


@dataclass(frozen=True)
class Device:
    """One PCI device; `order` is when it is created (QEMU's argument order, libvirt's emission order)."""

    order: int
    label: str  # how messages name it: `-device virtio-net-pci (id net0)`, `<interface type='bridge'> (ua-net0)`
    driver: str
    id: str | None
    bus: str | None  # None: the machine's default bus (libvirt: not placed yet)
    slot: int | None
    function: int | None
    multifunction: bool = False
    failover: bool = False  # virtio-net `failover=on`, libvirt `<teaming type='persistent'/>`
    failover_pair_id: str | None = None
    mac: str | None = None  # as written
    host: PciAddress | None = None  # vfio-pci host= / libvirt source address
    host_text: str | None = None  # the host address as written, when it does not parse
    link_down: bool = False  # libvirt `<link state='down'/>`
    chassis: int | None = None  # ports only
    port_slot: int | None = None  # ports only: the `slot` property (QEMU default 0)
    hotplug: bool = True  # ports only
    backend_bridge: str | None = None  # the standby's host bridge, when known
    binds_vfio: bool = False  # libvirt binds the host device to vfio-pci at start (managed='yes')
    sets_mac: bool = False  # libvirt sets the VF's admin MAC at start (<interface type='hostdev'>)
    vf_token: bool | None = None  # vfio-pci `vf-token=` given (QEMU); None where the input cannot say

    @property
    def name(self) -> str:
        """The id, or the label when there is none."""
        return self.id or self.label

    @property
    def is_standby(self) -> bool:
        """A virtio-net device with failover on."""
        return self.driver.startswith("virtio-net-pci") and self.failover

    @property
    def parsed_mac(self) -> MacAddress | None:
        """The MAC when it parses, else None."""
        try:
            return None if self.mac is None else MacAddress.parse(self.mac)
        except InputError:
            return None


@dataclass(frozen=True)
class Teaming:
    """A libvirt `<teaming>` element and what it sits in."""

    element: str  # "interface" or "hostdev"
    interface_type: str | None  # `<interface type=...>`; None for `<hostdev>`
    model: str | None  # `<model type=...>`
    type: str | None
    persistent: str | None
    alias: str | None
    label: str


@dataclass(frozen=True)
class VmConfig:
    """A VM as parsed: machine, devices (ports included), buses, globals, libvirt teaming elements."""

    kind: ConfigKind
    complete: bool  # a whole command line (with the binary) or a whole <domain>
    machine: str | None  # as written, or the default a whole input gets; None when the input does not say
    devices: tuple[Device, ...]
    buses: dict[str, Bus]
    globals: dict[str, str] = field(default_factory=dict)  # "DRIVER.property" -> value, lower case keys
    teaming: tuple[Teaming, ...] = ()
    qemu_version: str | None = None  # from a libvirt log header
    machine_default: str | None = None  # why `machine` was not written but is known: whose default it is

    @property
    def root_bus(self) -> str:
        """The default bus: pcie.0, or pci.0 on a conventional machine."""
        return "pcie.0" if machine_is_pcie(self.machine) is not False else "pci.0"

    def device(self, device_id: str) -> Device | None:
        """The device with this id (the first one)."""
        return next((d for d in self.devices if d.id == device_id), None)

    @property
    def primaries(self) -> tuple[Device, ...]:
        """Devices with failover_pair_id."""
        return tuple(d for d in self.devices if d.failover_pair_id is not None)

    @property
    def standbys(self) -> tuple[Device, ...]:
        """virtio-net devices with failover on."""
        return tuple(d for d in self.devices if d.is_standby)


def machine_is_pcie(machine: str | None) -> bool | None:
    """q35 (pc-q35-*) and virt (virt-*) are PCI Express machines; None when not known."""
    if machine is None:
        return None
    name = machine.lower()
    return name in ("q35", "virt") or name.startswith(("pc-q35-", "virt-"))


def machine_version(machine: str | None) -> tuple[int, int] | None:
    """The version of a versioned q35 machine type (`pc-q35-6.1` -> (6, 1)); None otherwise."""
    found = _MACHINE_VERSION.fullmatch((machine or "").lower())
    return (int(found[1]), int(found[2])) if found else None


@dataclass(frozen=True)
class HostFacts:
    """What the host cross-check read: per primary host address, the VF admin MAC (None: unknown)."""

    admin_macs: dict[PciAddress, MacAddress | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LintInput:
    """Everything the guest-side rules look at."""

    config: VmConfig
    qemu_version: tuple[int, int, int] | None
    host: HostFacts
