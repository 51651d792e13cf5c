"""Reader of PCI functions, their upstream ports and slots (`bus/pci/devices`, `bus/pci/slots`)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator

from pcie_failover.model.address import PciAddress
from pcie_failover.model.config_space import ConfigSpace, PortType, parse_config_space
from pcie_failover.model.host import PciFunction, Slot, Sriov, Unreadable, UpstreamPort
from pcie_failover.model.record import record
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.root import CONFIG_READ_LIMIT, SysfsError, SysfsRoot

DEVICES = "bus/pci/devices"
SLOTS = "bus/pci/slots"
DRIVERS = "bus/pci/drivers"
VFIO_DEV_CLASS = "class/vfio-dev"  # created by vfio_init() (drivers/vfio/vfio_main.c) from 6.1
VFIO_PCI_CORE = "module/vfio_pci_core"


def device_link(address: PciAddress) -> str:
    """`bus/pci/devices/<bdf>`."""
    return f"{DEVICES}/{address}"


def resolve_device(root: SysfsRoot, address: PciAddress) -> str | Unreadable:
    """The device's real directory under `devices/`, relative to the root."""
    link = device_link(address)
    try:
        return root.resolve(link)
    except SysfsError as error:
        return Unreadable(link, error.reason)


def read_config(root: SysfsRoot, path: str) -> ConfigSpace | None | Unreadable:
    """Decode the device's `config` (64 bytes unprivileged, 256/4096 as root)."""
    rel = f"{path}/config"
    try:
        return parse_config_space(root.read_bytes(rel, CONFIG_READ_LIMIT))
    except SysfsError as error:
        return Unreadable(rel, error.reason)


def driver_link(root: SysfsRoot, path: str) -> str | None | Unreadable:
    """The bound driver's name; a `driver` link that dangles or loops is Unreadable, never a name."""
    rel = f"{path}/driver"
    name = attr.link_name(root, rel)
    if isinstance(name, str) and not root.is_directory(rel):
        return Unreadable(rel, f"the link to {name} leads to no driver directory (it dangles or loops)")
    return name


def vfio_owned(root: SysfsRoot, has_vfio_dev: bool, driver: str | None | Unreadable) -> bool | Unreadable:
    """Whether vfio-pci or a vfio variant driver owns the device.

    From 6.1 every vfio device has a `vfio-dev/` child, so with `class/vfio-dev` present its
    absence is final. Before 6.1 a variant driver (5.15+) is a module that holds vfio_pci_core.
    """
    if driver is None or isinstance(driver, Unreadable):
        # vfio-dev/ goes with the driver (vfio_unregister_group_dev() on unbind): without one it owns nothing
        return False if driver is None else driver
    if has_vfio_dev or driver == "vfio-pci":
        return True
    if root.exists(VFIO_DEV_CLASS) or not root.exists(VFIO_PCI_CORE):
        return False
    module = attr.link_name(root, f"{DRIVERS}/{driver}/module")
    if module is None:
        return Unreadable(
            f"{DRIVERS}/{driver}/module",
            f"{driver} is built in and this kernel has no vfio-dev/ (before 6.1): is it a vfio variant?",
        )
    if isinstance(module, Unreadable):
        return module
    return root.exists(f"{VFIO_PCI_CORE}/holders/{module}")


def _physfn(root: SysfsRoot, path: str) -> PciAddress | None | Unreadable:
    name = attr.link_name(root, f"{path}/physfn")
    if name is None or isinstance(name, Unreadable):
        return name
    return PciAddress.try_parse(name) or Unreadable(f"{path}/physfn", f"unexpected target {name!r}")


def _sriov(root: SysfsRoot, path: str) -> Sriov:
    return Sriov(
        total_vfs=attr.required(root, f"{path}/sriov_totalvfs", attr.dec_int),
        num_vfs=attr.required(root, f"{path}/sriov_numvfs", attr.dec_int),
        offset=attr.optional(root, f"{path}/sriov_offset", attr.dec_int),
        stride=attr.optional(root, f"{path}/sriov_stride", attr.dec_int),
    )


def _netdevs(root: SysfsRoot, path: str, entries: frozenset[str], driver: object) -> tuple[str, ...] | Unreadable:
    """Interfaces under `net/`, or for virtio-pci under its `virtioN/net/` child."""
    if "net" in entries:
        return attr.listing(root, f"{path}/net") or ()
    if driver == "virtio-pci":
        for child in sorted(entries):
            if child.startswith("virtio"):
                return attr.listing(root, f"{path}/{child}/net") or ()
    return ()


def read_function(root: SysfsRoot, address: PciAddress, pci_class: int | None = None) -> PciFunction | Unreadable:
    """Read one PCI function; Unreadable when it is absent or vanished during the read.

    One listing of the device directory says which optional attributes exist, so only
    those are opened (a VF has no `sriov_*`, an unbound device no `driver`, ...).
    `pci_class`: already read (`list` reads every device's class to pick the network ones).
    """
    path = resolve_device(root, address)
    if isinstance(path, Unreadable):
        return path
    listed = attr.listing(root, path)
    if not isinstance(listed, tuple):
        return listed or Unreadable(path, "the device vanished while it was being read")
    entries = frozenset(listed)

    def link(name: str) -> str | None | Unreadable:
        return attr.link_name(root, f"{path}/{name}") if name in entries else None

    driver = driver_link(root, path) if "driver" in entries else None
    function = PciFunction(
        address=address,
        path=path,
        vendor=attr.required(root, f"{path}/vendor", attr.hex_int),
        device=attr.required(root, f"{path}/device", attr.hex_int),
        pci_class=attr.required(root, f"{path}/class", attr.hex_int) if pci_class is None else pci_class,
        driver=driver,
        driver_override=attr.driver_override(root, f"{path}/driver_override") if "driver_override" in entries else None,
        vfio_dev=vfio_owned(root, "vfio-dev" in entries, driver),
        physfn=_physfn(root, path) if "physfn" in entries else None,
        sriov=_sriov(root, path) if "sriov_totalvfs" in entries else None,
        iommu_group=link("iommu_group"),
        numa_node=attr.optional(root, f"{path}/numa_node", attr.dec_int) if "numa_node" in entries else None,
        reset_methods=attr.optional(root, f"{path}/reset_method", attr.words) if "reset_method" in entries else None,
        has_reset="reset" in entries,
        has_link_speed="current_link_speed" in entries,
        config=read_config(root, path),
        netdevs=_netdevs(root, path, entries, driver),
    )
    if not root.exists(path):
        return Unreadable(path, "the device vanished while it was being read")
    return function


def virtfns(root: SysfsRoot, pf_path: str) -> list[PciAddress]:
    """The VFs a PF's `virtfnN` links lead to (those that cannot be read are left out)."""
    found = []
    names = attr.listing(root, pf_path)
    for name in names if isinstance(names, tuple) else ():
        if name.startswith("virtfn"):
            target = attr.link_name(root, f"{pf_path}/{name}")
            address = PciAddress.try_parse(target) if isinstance(target, str) else None
            if address is not None:
                found.append(address)
    return found


def vf_index(root: SysfsRoot, vf: PciAddress, pf: PciFunction) -> int | None | Unreadable:
    """The VF's index on its PF, from the routing ids (constant cost), confirmed by `virtfnN`."""
    sriov = pf.sriov
    if sriov is None or not isinstance(sriov.offset, int) or not isinstance(sriov.stride, int):
        return Unreadable(f"{pf.path}/sriov_offset", "the PF does not report its VF offset and stride")
    distance = vf.routing_id - pf.address.routing_id - sriov.offset
    if sriov.stride <= 0 or distance < 0 or distance % sriov.stride:
        return Unreadable(f"{pf.path}/virtfn*", f"{vf} is not at a VF routing id of {pf.address}")
    index = distance // sriov.stride
    target = attr.link_name(root, f"{pf.path}/virtfn{index}")
    if target is None:
        return Unreadable(f"{pf.path}/virtfn{index}", "no such VF link")
    if isinstance(target, Unreadable):
        return target
    if target != str(vf):
        return Unreadable(f"{pf.path}/virtfn{index}", f"points to {target}, not {vf}")
    return index


def ancestor_addresses(path: str) -> tuple[PciAddress, ...]:
    """The PCI bridges/ports above a device path, nearest first."""
    parts = path.split("/")[:-1]
    found = [a for a in (PciAddress.try_parse(p) for p in parts) if a is not None]
    return tuple(reversed(found))


def _hotplug_service(
    root: SysfsRoot, port_dir: str, address: PciAddress, config: ConfigSpace | None | Unreadable
) -> bool | None | Unreadable:
    """Whether the port's PCIe hotplug service (`<bdf>:pcie004`/`pcie204`) is bound to pciehp."""
    suffixes: tuple[str, ...] = ("pcie004", "pcie204")
    if isinstance(config, ConfigSpace) and config.pcie is not None:
        if config.pcie.port_type == PortType.ROOT_PORT:
            suffixes = ("pcie004",)
        elif config.pcie.port_type == PortType.DOWNSTREAM_PORT:
            suffixes = ("pcie204",)
        else:
            return None
    for suffix in suffixes:
        driver = attr.link_name(root, f"{port_dir}/{address}:{suffix}/driver")
        if isinstance(driver, Unreadable):
            return driver
        if driver is not None:
            return driver == "pciehp"
    return False


def read_ports(root: SysfsRoot, path: str) -> tuple[UpstreamPort, ...]:
    """Every PCI bridge or port above the device at `path`, nearest first."""
    ports: list[UpstreamPort] = []
    directory = posixpath.dirname(path)
    for address in ancestor_addresses(path):
        while directory and posixpath.basename(directory) != str(address):
            directory = posixpath.dirname(directory)
        config = read_config(root, directory)
        ports.append(
            UpstreamPort(
                address=address,
                driver=attr.link_name(root, f"{directory}/driver"),
                config=config,
                pciehp=_hotplug_service(root, directory, address, config),
            )
        )
        directory = posixpath.dirname(directory)
    return tuple(ports)


def slot_numbers(text: str) -> list[int] | None:
    """A slot's `address` (`DDDD:BB` or `DDDD:BB:DD`) as numbers; None when it is neither."""
    try:
        values = [int(p, 16) for p in text.split(":")]
    except ValueError:
        return None
    return values if len(values) in (2, 3) else None


def _slot_matches(text: str, domain: int, bus: int, device: int) -> bool:
    values = slot_numbers(text)
    if values is None:
        return False
    if len(values) == 2:
        return values == [domain, bus]
    # pciehp registers slot number 0 for the port's only slot; acpiphp and shpchp the device number.
    return values[:2] == [domain, bus] and values[2] in (0, device)


def slot_function(root: SysfsRoot, slot: str, function: int) -> PciAddress | None:
    """The address of function `function` of the device in slot `slot` (device 0 for a port's only slot)."""
    address = attr.required(root, f"{SLOTS}/{slot}/address", str)
    values = slot_numbers(address) if isinstance(address, str) else None
    if values is None:
        return None
    return PciAddress(values[0], values[1], values[2] if len(values) == 3 else 0, function)


def virtfn(root: SysfsRoot, pf: PciAddress, index: int) -> PciAddress | None:
    """VF `index` of the PF at `pf`, where its `virtfnN` link leads (None: no such VF, or unreadable)."""
    target = attr.link_name(root, f"{device_link(pf)}/virtfn{index}")
    return PciAddress.try_parse(target) if isinstance(target, str) else None


@record
class Identity:
    """What tells one function from another at the same address: its ids and, for a VF, its PF's address."""

    vendor: int | Unreadable
    device: int | Unreadable
    physfn: str | None | Unreadable


def identity_at(root: SysfsRoot, address: PciAddress) -> Identity | None:
    """The ids of the function at `address`; None when there is none."""
    base = device_link(address)
    if not root.exists(base):
        return None
    return Identity(
        vendor=attr.required(root, f"{base}/vendor", attr.hex_int),
        device=attr.required(root, f"{base}/device", attr.hex_int),
        physfn=attr.link_name(root, f"{base}/physfn"),
    )


def functions_of_class(
    root: SysfsRoot, base_class: int, names: Iterable[str] | None = None
) -> list[tuple[PciAddress, int]]:
    """The functions (among `names`, else all of bus/pci/devices) whose class has `base_class`, with their class."""
    return list(each_function_of_class(root, base_class, names))


def each_function_of_class(
    root: SysfsRoot, base_class: int, names: Iterable[str] | None = None
) -> Iterator[tuple[PciAddress, int]]:
    """As functions_of_class, one at a time: a caller that reads each function at once finds its directory still
    open (a root keeps a bounded number of directory descriptors)."""
    if names is None:
        listed = attr.listing(root, DEVICES)
        names = listed if isinstance(listed, tuple) else ()
    for name in names:
        address = PciAddress.try_parse(name)
        if address is None:
            continue
        pci_class = attr.required(root, f"{DEVICES}/{name}/class", attr.hex_int)
        if isinstance(pci_class, int) and pci_class >> 16 == base_class:
            yield address, pci_class


def _read_slot(root: SysfsRoot, name: str) -> Slot | Unreadable:
    base = f"{SLOTS}/{name}"
    address = attr.required(root, f"{base}/address", str)
    if isinstance(address, Unreadable):
        return address
    return Slot(
        name=name,
        address=address,
        hotplug_driver=attr.link_name(root, f"{base}/module"),
        power=attr.optional(root, f"{base}/power", str),
    )


def find_slot(root: SysfsRoot, child: PciAddress, port: UpstreamPort | None) -> Slot | None | Unreadable:
    """The slot holding `child` (for a VF, its PF), matched by the bus below its port.

    Slot numbers come from the port's Physical Slot Number when config space says
    so (one read); otherwise every slot's `address` is compared.
    """
    guess: str | None = None
    if port is not None and isinstance(port.config, ConfigSpace) and port.config.pcie is not None:
        psn = port.config.pcie.physical_slot
        guess = None if psn is None else str(psn)
    if guess is not None:
        slot = _read_slot(root, guess)
        if isinstance(slot, Slot) and _slot_matches(slot.address, child.domain, child.bus, child.device):
            return slot
    names = attr.listing(root, SLOTS)
    if names is None:
        return None
    if isinstance(names, Unreadable):
        return names
    unreadable: Unreadable | None = None
    for name in names:
        slot = _read_slot(root, name)
        if isinstance(slot, Unreadable):
            unreadable = unreadable or slot  # it may have been ours: not knowing is not "no slot"
        elif _slot_matches(slot.address, child.domain, child.bus, child.device):
            return slot
    return unreadable


def candidates(root: SysfsRoot, wanted: PciAddress, limit: int = 6) -> tuple[PciAddress, ...]:
    """Present devices closest to a missing address: same bus first, then nearest routing id."""
    names = attr.listing(root, DEVICES)
    if not isinstance(names, tuple):
        return ()
    present = [a for a in (PciAddress.try_parse(n) for n in names) if a is not None]
    present.sort(key=lambda a: (a.domain != wanted.domain, a.bus != wanted.bus, abs(a.routing_id - wanted.routing_id)))
    return tuple(present[:limit])
